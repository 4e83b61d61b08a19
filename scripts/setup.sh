#!/usr/bin/env bash
# The one set-up command: system packages the tests and benchmarks use, then the
# Python package with its dev extras (editable).
#   redis-tools   redis-cli and redis-benchmark, the real Redis clients of the tests
#   redis-server  the baseline in bench/redis_bench.py
#   etcd-server   the consensus baseline in bench/ (etcd-client: etcdctl)
#   wrk           the HTTP load driver of the benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(redis-tools redis-server etcd-server etcd-client wrk)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq
    # Debian starts services on install; the tests start their own instances.
    RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    for svc in redis-server etcd; do
        $SUDO service "$svc" stop >/dev/null 2>&1 || true
    done
fi

python3 -m pip install --quiet --disable-pip-version-check -e '.[dev]'
echo "senate: set-up done ($(senate --version))"

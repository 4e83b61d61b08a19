"""`senate kv ...` as a user runs it: real processes against a real 3-node cluster.

Checks the exit codes of CONTRACT.md (0 ok, 1 failed with a one-line message,
2 bad usage), that no traceback ever reaches the user, and the outputs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "client"))

from cli_inprocess import run_main
from client_cluster import endpoints, session_cluster
from senate_harness import Cluster

from senate.client import Client

SENATE = [sys.executable, "-c", "from senate.cli.main import main; main()"]


@pytest.fixture(scope="module")
def urls(tmp_path_factory: pytest.TempPathFactory) -> str:
    cluster: Cluster = session_cluster(tmp_path_factory.getbasetemp() / "senate-shared")
    return ",".join(endpoints(cluster))


def senate(
    urls: str, *args: str, stdin: str | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SENATE_ENDPOINTS": urls}
    result = subprocess.run(
        [*SENATE, *args], input=stdin, capture_output=True, text=True, env=env, timeout=timeout
    )
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_put_get_del(urls: str) -> None:
    put = senate(urls, "kv", "put", "cli/a", "hello world")
    assert put.returncode == 0, put.stderr
    revision = int(put.stdout)
    got = senate(urls, "kv", "get", "cli/a")
    assert (got.returncode, got.stdout) == (0, "hello world\n")
    assert senate(urls, "kv", "get", "cli/a", "--serializable").returncode == 0
    as_json = json.loads(senate(urls, "kv", "get", "cli/a", "--json").stdout)
    assert as_json["value"] == "hello world" and as_json["revision"] == revision
    deleted = senate(urls, "kv", "del", "cli/a")
    assert deleted.returncode == 0 and int(deleted.stdout) > revision
    missing = senate(urls, "kv", "get", "cli/a")
    assert missing.returncode == 1
    assert missing.stderr == "senate: key 'cli/a' not found\n"
    again = senate(urls, "kv", "del", "cli/a")
    assert again.returncode == 1 and "not found" in again.stderr


def test_compare_and_set(urls: str) -> None:
    revision = int(senate(urls, "kv", "put", "cli/cas", "1").stdout)
    taken = senate(urls, "kv", "put", "cli/cas", "2", "--prev-revision", "0")
    assert taken.returncode == 1 and taken.stderr.startswith("senate: the compare did not hold")
    assert len(taken.stderr.splitlines()) == 1
    wrong = senate(urls, "kv", "put", "cli/cas", "2", "--prev-value", "nope")
    assert wrong.returncode == 1
    ok = senate(urls, "kv", "put", "cli/cas", "2", "--prev-revision", str(revision))
    assert ok.returncode == 0 and int(ok.stdout) > revision
    assert senate(urls, "kv", "put", "cli/cas", "3", "--prev-value", "2").returncode == 0
    assert senate(urls, "kv", "get", "cli/cas").stdout == "3\n"


def test_put_with_a_lease(urls: str) -> None:
    with Client(urls) as c:
        lease = c.lease_grant(30)
        put = senate(urls, "kv", "put", "cli/leased", "v", "--lease", str(lease.id))
        assert put.returncode == 0, put.stderr
        assert json.loads(senate(urls, "kv", "get", "cli/leased", "--json").stdout)["lease"] == (
            lease.id
        )
        c.lease_revoke(lease.id)
    assert senate(urls, "kv", "get", "cli/leased").returncode == 1  # gone with its lease
    unknown = senate(urls, "kv", "put", "cli/leased", "v", "--lease", "12345")
    assert unknown.returncode == 1
    assert unknown.stderr == "senate: the put names an unknown (or expired) lease\n"


def test_list_table_and_json(urls: str) -> None:
    for name in ("x", "y"):
        assert senate(urls, "kv", "put", f"cli/list/{name}", f"value-{name}").returncode == 0
    table = senate(urls, "kv", "list", "cli/list/")
    assert table.returncode == 0
    assert "cli/list/x" in table.stdout and "value-y" in table.stdout
    assert "2 key(s) at revision" in table.stdout
    doc = json.loads(senate(urls, "kv", "list", "cli/list/", "--json").stdout)
    assert [(i["key"], i["value"]) for i in doc["items"]] == [
        ("cli/list/x", "value-x"),
        ("cli/list/y", "value-y"),
    ]
    assert doc["revision"] >= max(i["revision"] for i in doc["items"])


def test_txn_from_stdin_and_file(urls: str, tmp_path: Path) -> None:
    senate(urls, "kv", "put", "cli/txn", "old")
    doc = {
        "compare": [{"key": "cli/txn", "target": "value", "op": "==", "value": "old"}],
        "success": [{"op": "put", "key": "cli/txn", "value": "new"}],
        "failure": [{"op": "get", "key": "cli/txn"}],
    }
    first = senate(urls, "kv", "txn", stdin=json.dumps(doc))
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["succeeded"] is True
    path = tmp_path / "txn.json"
    path.write_text(json.dumps(doc))
    second = json.loads(senate(urls, "kv", "txn", str(path)).stdout)
    assert second["succeeded"] is False
    assert second["results"][0]["kv"]["value"] == "new"
    bad = senate(urls, "kv", "txn", stdin="{not json")
    assert bad.returncode == 2 and bad.stderr.startswith("senate: ")


def test_watch_prints_events_and_ctrl_c_exits_0(urls: str) -> None:
    start = int(senate(urls, "kv", "put", "cli/watch/0", "zero").stdout) + 1
    env = {**os.environ, "SENATE_ENDPOINTS": urls}
    watch = subprocess.Popen(
        [*SENATE, "kv", "watch", "--prefix", "cli/watch/", "--from", str(start)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        senate(urls, "kv", "put", "cli/watch/1", "one")
        senate(urls, "kv", "del", "cli/watch/0")
        assert watch.stdout is not None
        first = watch.stdout.readline().split()
        second = watch.stdout.readline().split()
        assert first[1:] == ["PUT", "cli/watch/1", "one"] and int(first[0]) == start
        assert second[1:] == ["DELETE", "cli/watch/0"] and int(second[0]) == start + 1
        watch.send_signal(signal.SIGINT)
        assert watch.wait(timeout=10) == 0
    finally:
        watch.kill()
        watch.wait()
    assert watch.stderr is not None and "Traceback" not in watch.stderr.read()


def test_bad_usage_exits_2(
    urls: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SENATE_ENDPOINTS", urls)
    assert run_main(capsys, "kv", "put", "only-a-key").returncode == 2
    assert run_main(capsys, "kv", "watch").returncode == 2  # neither KEY nor --prefix
    assert run_main(capsys, "kv", "watch", "k", "--prefix", "p").returncode == 2
    assert run_main(capsys, "kv", "put", "k", "v", "--prev-revision", "-1").returncode == 2
    assert run_main(capsys, "kv", "nosuch").returncode == 2
    wrong = run_main(capsys, "kv", "get", "k", "--endpoints", "https://127.0.0.1:1")
    assert wrong.returncode == 2 and "--endpoints" in wrong.stderr
    empty_key = run_main(capsys, "kv", "put", "", "v")
    assert empty_key.returncode == 2 and len(empty_key.stderr.splitlines()) == 1
    assert run_main(capsys, "kv", "txn", "/nonexistent/txn.json").returncode == 2


def test_endpoints_flag_overrides_the_environment(urls: str) -> None:
    flag = senate("http://127.0.0.1:1", "kv", "put", "cli/flag", "v", "--endpoints", urls)
    assert flag.returncode == 0, flag.stderr

"""Run `senate ...` in this process through its real entry point (senate.cli.main),
for the CLI tests' many bad-usage cases: the same code a shell runs, without a
Python start-up per case."""

from __future__ import annotations

import sys
from dataclasses import dataclass

import pytest

from senate.cli.main import main


@dataclass(slots=True, frozen=True)
class Ran:
    returncode: int
    stdout: str
    stderr: str


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> Ran:
    saved = sys.argv
    sys.argv = ["senate", *args]
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    else:
        code = 0
    finally:
        sys.argv = saved
    out = capsys.readouterr()
    assert "Traceback" not in out.err, out.err
    return Ran(code, out.out, out.err)

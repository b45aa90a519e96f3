"""Child processes for integration and end-to-end tests: environment, start, stop, wait.

Starting and stopping go through :mod:`common.children`, as in the launcher and the harness.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.children import cmdline_of, kill_process, spawn, stop_process, with_pythonpath

ROOT = Path(__file__).resolve().parents[2]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This environment without any ALPACA_* variable, plus ``extra``, with the repo importable.

    ``LINES`` and ``COLUMNS`` are left out too: they describe the terminal of the process that
    set them (pytest-xdist sets 24 x 80 in its workers), and a child in a terminal of its own
    (the status view in tmux) must measure that one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPACA_") and k not in ("LINES", "COLUMNS")}
    env.update(extra)
    return with_pythonpath(ROOT, env)


def started(args: list[str], **kw: Any) -> subprocess.Popen:
    """``spawn(args)``, returned once /proc shows the new command line: Popen returns as soon
    as the exec has begun, a moment before the kernel shows the new arguments."""
    p = spawn(args, **kw)
    poll(lambda: cmdline_of(p.pid) == args or p.poll() is not None, 10,
         f"the command line of pid {p.pid}", every=0.002)  # fmt: skip
    return p


def poll(cond: Callable[[], object], timeout: float, what: str, every: float = 0.05) -> Any:
    """Wait for a truthy ``cond()`` with a deadline (real seconds) and return it; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


class Proc:
    """A child process we started, its output in ``log``; stopped by its own pid only."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT) -> None:
        self.log = log
        self.p = spawn(args, env=env, cwd=cwd, output=log)

    @property
    def pid(self) -> int:
        return self.p.pid

    def alive(self) -> bool:
        return self.p.poll() is None

    def kill(self) -> int:
        """SIGKILL: no chance to clean up; the exit code."""
        return kill_process(self.p)

    def terminate(self, timeout: float = 15) -> int:
        """SIGTERM, wait up to ``timeout`` s (then SIGKILL); the exit code."""
        return stop_process(self.p, timeout)

    def wait(self, timeout: float) -> int:
        return self.p.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

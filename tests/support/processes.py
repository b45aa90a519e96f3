"""Child processes for integration and end-to-end tests: environment, start, stop, wait."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def child_env(extra: dict[str, str]) -> dict[str, str]:
    """This environment without any ALPACA_* variable, plus ``extra``, with the repo importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPACA_")}
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def started(args: list[str], **kw: Any) -> subprocess.Popen:
    """``Popen(args)``, returned once /proc shows the new command line: Popen returns as soon
    as the exec has begun, a moment before the kernel shows the new arguments."""
    import psutil

    p = subprocess.Popen(args, **kw)

    def visible() -> bool:
        try:
            return psutil.Process(p.pid).cmdline() == args
        except psutil.Error:
            return p.poll() is not None

    poll(visible, 10, f"the command line of pid {p.pid}", every=0.002)
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
        self._out = open(log, "ab")  # noqa: SIM115 - closed when the process is stopped or waited for
        self.p = subprocess.Popen(args, cwd=cwd, env=env, stdout=self._out, stderr=subprocess.STDOUT)

    @property
    def pid(self) -> int:
        return self.p.pid

    def alive(self) -> bool:
        return self.p.poll() is None

    def kill(self) -> None:
        """SIGKILL: no chance to clean up."""
        if self.alive():
            os.kill(self.p.pid, signal.SIGKILL)
        self.p.wait(10)
        self._out.close()

    def terminate(self, timeout: float = 15) -> int:
        """SIGTERM and wait; the exit code."""
        if self.alive():
            os.kill(self.p.pid, signal.SIGTERM)
        try:
            return self.p.wait(timeout)
        finally:
            self._out.close()

    def wait(self, timeout: float) -> int:
        try:
            return self.p.wait(timeout)
        finally:
            self._out.close()

    def output(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.log.read_text(errors="replace")

"""Child processes: start one with its output in a file, stop one with SIGTERM then SIGKILL.

One helper for everything that runs another of our processes: the launcher's
supervisor, mockmarket's test harness, the benchmarks and the tests. Stopping is always
the same: ask politely (SIGTERM), wait up to a timeout, then SIGKILL and reap.
:func:`stop_pid` does the same for a process this one did not start (a previous
launcher's orphaned child, found from its pid file), after checking with psutil that the
pid still runs the command it is expected to run, so a recycled pid is never signalled.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 10.0


def with_pythonpath(path: str | Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (this process's environment by default) with ``path`` first on PYTHONPATH, so a
    ``python -m <package>`` child imports this checkout whatever its working directory."""
    out = dict(os.environ if env is None else env)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(path), out.get("PYTHONPATH", "")) if p)
    return out


def spawn(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    output: str | Path | None = None,
    new_session: bool = False,
) -> subprocess.Popen:
    """Start ``args``; stdout and stderr go to ``output`` (appended) or are discarded.

    ``new_session`` puts the child in its own session, so a Ctrl-C on the operator's
    terminal reaches only the parent, which then stops its children in order.
    """
    out: int | object = subprocess.DEVNULL
    fh = None
    if output is not None:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        fh = open(output, "ab")  # noqa: SIM115 - the child holds its own copy
        out = fh
    try:
        return subprocess.Popen(
            list(args),
            cwd=None if cwd is None else str(cwd),
            env=None if env is None else dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )
    finally:
        if fh is not None:
            fh.close()


def stop_process(
    proc: subprocess.Popen, timeout: float = STOP_TIMEOUT_S, *, sig: int = signal.SIGTERM
) -> int:
    """Send ``sig`` (SIGTERM), wait up to ``timeout`` s, then SIGKILL; the exit code.

    Safe to call on a process that already ended, and twice.
    """
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("pid %d did not stop within %.0f s: SIGKILL", proc.pid, timeout)
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
    return proc.wait()


def kill_process(proc: subprocess.Popen) -> int:
    """SIGKILL at once (no chance to clean up) and reap; the exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    return proc.wait()


def cmdline_of(pid: int) -> list[str] | None:
    """The command line of a running process, or None if there is none (or a zombie, or an
    empty one: a kernel thread, or a process caught in the middle of an exec)."""
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return None
        return p.cmdline() or None
    except (psutil.NoSuchProcess, psutil.AccessDenied):  # ZombieProcess is a NoSuchProcess
        return None


def _gone(p: psutil.Process) -> bool:
    """Whether ``p`` has ended: no such process, or a zombie (dead; its parent, perhaps init,
    has not reaped it yet, and psutil's own ``wait`` would wait for that)."""
    try:
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def _wait_gone(procs: list[psutil.Process], timeout: float, poll_s: float = 0.02) -> list[psutil.Process]:
    """Wait up to ``timeout`` s for ``procs`` to end; those still alive."""
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if not _gone(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(poll_s)
        alive = [p for p in alive if not _gone(p)]
    return alive


def stop_pids(
    targets: Sequence[tuple[int, Callable[[list[str]], bool]]],
    timeout: float = STOP_TIMEOUT_S,
) -> list[int]:
    """Stop every ``(pid, matches)`` whose process runs and ``matches(cmdline)``: SIGTERM to
    all at once, SIGKILL to those still there after ``timeout``; the pids that were found.

    A zombie counts as stopped. psutil refuses to signal a pid that was given to another
    process since it was looked up.
    """
    found: list[psutil.Process] = []
    for pid, matches in targets:
        if pid <= 0 or pid == os.getpid():
            continue
        cmd = cmdline_of(pid)
        if cmd is None or not matches(cmd):
            continue
        try:
            p = psutil.Process(pid)
            p.terminate()
            found.append(p)
        except psutil.NoSuchProcess:
            found.append(p)
        except psutil.Error as e:
            log.warning("cannot stop pid %d: %s", pid, e)
    for p in _wait_gone(found, timeout):
        log.warning("pid %d did not stop within %.0f s: SIGKILL", p.pid, timeout)
        with contextlib.suppress(psutil.Error):
            p.kill()
        _wait_gone([p], timeout)
    return [p.pid for p in found]


def stop_pid(
    pid: int,
    matches: Callable[[list[str]], bool],
    timeout: float = STOP_TIMEOUT_S,
) -> bool:
    """Stop process ``pid`` (SIGTERM, then SIGKILL after ``timeout``) if it is running and
    ``matches(cmdline)``; True if such a process was found (and is now gone)."""
    return bool(stop_pids([(pid, matches)], timeout))


__all__ = [
    "STOP_TIMEOUT_S",
    "cmdline_of",
    "kill_process",
    "spawn",
    "stop_pid",
    "stop_pids",
    "stop_process",
    "with_pythonpath",
]

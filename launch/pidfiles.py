"""Pid files: which processes a launcher runs, so the next one (or ``launch stop``/``status``)
can find them after the launcher itself was killed.

``<run-dir>/<name>.json`` holds the pid and the exact command line. A record counts only
while a process with that pid runs that very command line (checked with psutil), so a pid
the system has since given to another program is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from common.atomic_write import write_json_atomic
from common.children import STOP_TIMEOUT_S, cmdline_of, stop_pids

log = logging.getLogger(__name__)

LAUNCHER, BRIDGE, ENGINE, MARKET = "launcher", "bridge", "engine", "market"
CHILDREN = (ENGINE, BRIDGE)
"""The launcher's children, in the order they are stopped (the engine trades: first)."""


@dataclass(frozen=True)
class PidRecord:
    name: str
    pid: int
    argv: tuple[str, ...]
    started: float
    """Wall time (Unix seconds) the record was written."""

    def is_running(self) -> bool:
        """Whether process ``pid`` still runs exactly ``argv``."""
        cmd = cmdline_of(self.pid)
        return cmd is not None and tuple(cmd) == self.argv

    def matches(self, cmdline: Sequence[str]) -> bool:
        return tuple(cmdline) == self.argv


def record_path(run_dir: Path, name: str) -> Path:
    return Path(run_dir) / f"{name}.json"


def write_record(run_dir: Path, name: str, pid: int, argv: Sequence[str]) -> PidRecord:
    rec = PidRecord(name, int(pid), tuple(argv), time.time())
    write_json_atomic(record_path(run_dir, name), {**asdict(rec), "argv": list(rec.argv)})
    return rec


def read_record(run_dir: Path, name: str) -> PidRecord | None:
    """The record, or None if there is none or it cannot be read (it is then ignored)."""
    path = record_path(run_dir, name)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
        return PidRecord(str(obj["name"]), int(obj["pid"]), tuple(str(a) for a in obj["argv"]),
                         float(obj["started"]))  # fmt: skip
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as e:
        log.warning("ignoring unreadable pid file %s: %s", path, e)
        return None


def remove_record(run_dir: Path, name: str, pid: int) -> None:
    """Remove the record if it still names ``pid`` (a successor's record is kept)."""
    rec = read_record(run_dir, name)
    if rec is not None and rec.pid == pid:
        with contextlib.suppress(FileNotFoundError):
            record_path(run_dir, name).unlink()


def live_record(run_dir: Path, name: str) -> PidRecord | None:
    """The record if its process still runs, else None. Read-only: a record is removed only
    by the launcher that owns the run directory (or by :func:`stop_recorded`)."""
    rec = read_record(run_dir, name)
    return rec if rec is not None and rec.is_running() else None


def stop_recorded(run_dir: Path, names: Sequence[str] = CHILDREN,
                  timeout: float = STOP_TIMEOUT_S) -> list[PidRecord]:  # fmt: skip
    """Stop every recorded process that still runs its recorded command (SIGTERM to all at
    once, SIGKILL after ``timeout``); the records of those stopped. Records are removed."""
    records = [r for r in (read_record(run_dir, n) for n in names) if r is not None]
    for r in records:
        if r.is_running():
            log.warning("stopping the previous run's %s (pid %d)", r.name, r.pid)
    stopped = set(stop_pids([(r.pid, r.matches) for r in records], timeout))
    for r in records:
        remove_record(run_dir, r.name, r.pid)
    return [r for r in records if r.pid in stopped]


__all__ = [
    "BRIDGE",
    "CHILDREN",
    "ENGINE",
    "LAUNCHER",
    "MARKET",
    "PidRecord",
    "live_record",
    "read_record",
    "record_path",
    "remove_record",
    "stop_recorded",
    "write_record",
]

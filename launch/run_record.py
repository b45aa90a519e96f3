"""The launcher's record of each run: ``<log-dir>/runs/launch_<ts>.json``, replaced atomically.

What a launcher saw and did, for ``launch status`` (a FATAL child, how the last run ended)
and for the session report (restarts over the day's runs, the broker's equity at the start
and after the session)::

    {"stamp": "20251016_091502", "pid": 4242, "mode": "mock", "strategy": "rotation",
     "session_date": "2025-10-16", "started": "2025-10-16T09:15:02-04:00", "updated": ...,
     "broker_start": {"equity": 100000.0, "last_equity": 100000.0, "positions": {"TQQQ": 10.0},
                      "time": "2025-10-16T09:29:00-04:00"},
     "children": {"engine": {"state": "RUNNING", "restarts": 0, "pid": 4250, "why": "...",
                             "log": "logs/mock_trading/trader_20251016_091502.log"}, ...},
     "ending": "session over, flat", "exit_code": 0,
     "broker_end": {"equity": ..., "last_equity": ..., "positions": {}, "time": ...}}

Times are wall-clock (``started``, ``updated``) or the broker's (``time``). A record that
cannot be read is skipped with a warning; writing one never stops the launcher.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from common.atomic_write import write_json_atomic
from common.calendar import iso_ny
from launch.paths import ModePaths

log = logging.getLogger(__name__)

RUNS = "runs"


def runs_dir(paths: ModePaths) -> Path:
    return paths.log_dir / RUNS


class RunRecorder:
    """Keeps one run's record up to date on disk."""

    def __init__(self, paths: ModePaths, stamp: str, *, mode: str, strategy: str, pid: int) -> None:
        self.path = runs_dir(paths) / f"launch_{stamp}.json"
        now = iso_ny(int(time.time() * 1000))
        self.data: dict[str, Any] = {
            "stamp": stamp, "pid": pid, "mode": mode, "strategy": strategy, "session_date": None,
            "started": now, "updated": now, "children": {}, "ending": None, "exit_code": None,
        }  # fmt: skip
        self.write()

    def write(self) -> None:
        self.data["updated"] = iso_ny(int(time.time() * 1000))
        try:
            write_json_atomic(self.path, self.data)
        except (OSError, TypeError, ValueError) as e:  # a record is for people: never fatal
            log.warning("cannot write the run record %s: %s", self.path, e)

    def update(self, **fields: Any) -> None:
        self.data.update(fields)
        self.write()

    def child(self, name: str, *, state: str, restarts: int, pid: int | None, why: str = "",
              log_file: str | None = None) -> None:  # fmt: skip
        c = self.data["children"].setdefault(name, {})
        c.update(state=state, restarts=restarts, pid=pid, why=why)
        if log_file is not None:
            c["log"] = log_file
        self.write()


def broker_facts(equity: float, last_equity: float | None, positions: Mapping[str, float],
                 time_ms: int | None) -> dict[str, Any]:  # fmt: skip
    """The ``broker_start``/``broker_end`` entry."""
    return {
        "equity": equity, "last_equity": last_equity,
        "positions": {s: q for s, q in sorted(positions.items())},
        "time": None if time_ms is None else iso_ny(time_ms),
    }  # fmt: skip


def read_runs(paths: ModePaths, day: date | None = None) -> list[dict[str, Any]]:
    """Every readable run record (of ``day``'s session if given), oldest first."""
    out = []
    for p in sorted(runs_dir(paths).glob("launch_*.json")):
        try:
            obj = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            log.warning("skipping the unreadable run record %s: %s", p, e)
            continue
        if not isinstance(obj, dict):
            continue
        if day is not None and obj.get("session_date") != day.isoformat():
            continue
        out.append(obj)
    return out


def latest_run(paths: ModePaths) -> dict[str, Any] | None:
    runs = read_runs(paths)
    return runs[-1] if runs else None


__all__ = ["RUNS", "RunRecorder", "broker_facts", "latest_run", "read_runs", "runs_dir"]

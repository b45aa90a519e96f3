"""The record of each strategy's last finished optimization: ``<data_dir>/optuna/last_run.json``.

Written at the end of every optimization that reached the gate, whatever its verdict
(``best_params.json`` changes only on a promotion, so it cannot tell whether the day's
optimization has run)::

    {"rotation": {"data_end": "2025-10-15", "partial_end": null, "trials": 100,
                  "verdict": "kept", "finished_at": "2025-10-16T09:12:03-04:00"}}

``data_end`` is the last session the windows held; ``partial_end`` the last minute of
today's partial session when it was one of them (a midday re-optimization). The launcher
reads it on a launch during the session (:func:`covers`): when the last finished
optimization already covers every session closed before today, it does not hold up
trading to optimize again. An unreadable record counts as none (it is only a shortcut).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from common.atomic_write import write_json_atomic

log = logging.getLogger(__name__)

LAST_RUN_NAME = "last_run.json"


@dataclass(frozen=True)
class LastRun:
    data_end: date
    """The last session of the windows (today's, when ``partial_end`` is set)."""
    partial_end: datetime | None
    """The last minute of today's partial session, if the windows ended with one."""
    trials: int
    """Trials finished over both phases."""
    verdict: str
    """``promoted`` or ``kept``."""
    finished_at: datetime

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["data_end"] = self.data_end.isoformat()
        d["partial_end"] = None if self.partial_end is None else self.partial_end.isoformat()
        d["finished_at"] = self.finished_at.isoformat()
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LastRun:
        return cls(
            data_end=date.fromisoformat(d["data_end"]),
            partial_end=None if d.get("partial_end") is None else datetime.fromisoformat(d["partial_end"]),
            trials=int(d["trials"]),
            verdict=str(d["verdict"]),
            finished_at=datetime.fromisoformat(d["finished_at"]),
        )

    def describe(self) -> str:
        end = self.data_end.isoformat() if self.partial_end is None else \
            f"{self.data_end} up to {self.partial_end.strftime('%H:%M')}"  # fmt: skip
        return (f"data to {end}, {self.trials} trials, parameters {self.verdict}, finished "
                f"{self.finished_at.isoformat(timespec='seconds')}")  # fmt: skip


def last_run_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / "optuna" / LAST_RUN_NAME


def _read_all(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        log.warning("%s is unreadable (%s): taken as no record", path, e)
        return {}
    return data if isinstance(data, dict) else {}


def read_last_run(data_dir: str | Path, strategy: str) -> LastRun | None:
    """The strategy's record, or None (none, or unreadable: logged)."""
    path = last_run_path(data_dir)
    entry = _read_all(path).get(strategy)
    if entry is None:
        return None
    try:
        return LastRun.from_json(entry)
    except (KeyError, TypeError, ValueError) as e:
        log.warning("%s: the %s entry is unreadable (%s): taken as no record", path, strategy, e)
        return None


def write_last_run(data_dir: str | Path, strategy: str, run: LastRun) -> None:
    """Replace the strategy's record atomically (the other strategies' kept)."""
    path = last_run_path(data_dir)
    data = _read_all(path)
    data[strategy] = run.to_json()
    write_json_atomic(path, data, sync_dir=True)


def covers(run: LastRun | None, last_closed: date) -> bool:
    """True if ``run`` optimized on data up to ``last_closed`` (the last session closed before
    today) or later: a new run today would see no session it has not seen."""
    return run is not None and run.data_end >= last_closed


__all__ = ["LAST_RUN_NAME", "LastRun", "covers", "last_run_path", "read_last_run", "write_last_run"]

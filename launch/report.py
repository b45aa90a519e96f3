"""Writing session reports: after each session (the launcher), ``launch report`` and ``launch backtest``.

Where they go:

- a traded day: ``<log-dir>/reports/report_<date>_<strategy>.html`` (``logs/live_trading/``
  or ``logs/mock_trading/``), rewritten each time it is asked for;
- a backtest: ``logs/backtests/report_<strategy>_<start>_<end>.html``.

A day's report reads the journal, the bar files, the run records and ``state.json`` of its
mode (:mod:`launch.journal_record`); nothing is asked of the broker here (the launcher
records what it read from it). Bridge reconnects are the counts the bridges of the day's
launcher runs kept in their state files (``bridge_<ts>.state.json``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from common.calendar import TradingCalendar, iso_ny, nyse
from common.config import StrategyConfig
from launch.journal_record import BrokerFacts, journal_sessions, read_session
from launch.paths import ModePaths
from launch.report_html import write_report
from launch.run_record import read_runs
from launch.session_record import SessionRecord
from launch.summary import bridge_reconnects

log = logging.getLogger(__name__)

REPORTS = "reports"
BACKTEST_DIR = Path("logs/backtests")


def report_path(paths: ModePaths, day: date, strategy: str) -> Path:
    return paths.log_dir / REPORTS / f"report_{day}_{strategy}.html"


def backtest_report_path(strategy: str, start: date, end: date, root: Path = BACKTEST_DIR) -> Path:
    return root / f"report_{strategy}_{start}_{end}.html"


def _state(paths: ModePaths) -> dict[str, Any] | None:
    try:
        obj = json.loads(paths.state_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def day_reconnects(paths: ModePaths, runs: Sequence[Mapping[str, Any]]) -> int | None:
    """The reconnects the bridges of ``runs`` counted in their state files, summed; a run whose
    bridge left no file (it never started) adds none (None: no file at all, so unknown)."""
    counts = [bridge_reconnects(paths.log_file("bridge", str(r["stamp"]))) for r in runs if r.get("stamp")]
    known = [n for n in counts if n is not None]
    return sum(known) if known else None


def generated_line(what: str) -> str:
    return f"{what}; written {iso_ny(int(time.time() * 1000))[:19].replace('T', ' ')} (machine time, New York)"


def day_record(paths: ModePaths, strategy: str, day: date, cfg: StrategyConfig, *, config_dir: Path,
               journal: Path | None = None, broker: BrokerFacts | None = None,
               calendar: TradingCalendar | None = None) -> SessionRecord:  # fmt: skip
    """The record of a traded day of ``paths``'s mode (module docstring)."""
    runs = [r for r in read_runs(paths, day) if r.get("strategy") in (None, strategy)]
    return read_session(
        journal or paths.journal, strategy, day, kind=str(paths.mode), cfg=cfg, data_dir=paths.data_dir,
        params_file=paths.best_params(config_dir), runs=runs, broker=broker, state=_state(paths),
        reconnects=day_reconnects(paths, runs), calendar=calendar or nyse(),
    )  # fmt: skip


def write_day_report(paths: ModePaths, strategy: str, day: date, cfg: StrategyConfig, *, config_dir: Path,
                     journal: Path | None = None, out: Path | None = None, broker: BrokerFacts | None = None,
                     calendar: TradingCalendar | None = None) -> Path:  # fmt: skip
    rec = day_record(paths, strategy, day, cfg, config_dir=config_dir, journal=journal, broker=broker,
                     calendar=calendar)  # fmt: skip
    path = out or report_path(paths, day, strategy)
    return write_report(rec, path, generated=generated_line(f"{paths.mode} mode, journal {journal or paths.journal}"))


def latest_sessions(journal: Path, strategy: str | None = None) -> tuple[date | None, list[str]]:
    """The journal's latest session date (of ``strategy`` if given) and the strategies traded on it."""
    found = [(d, s) for d, s in journal_sessions(journal) if strategy is None or s == strategy]
    if not found:
        return None, []
    last = max(d for d, _ in found)
    return date.fromisoformat(last), sorted({s for d, s in found if d == last})


def strategies_on(journal: Path, day: date) -> list[str]:
    return sorted({s for d, s in journal_sessions(journal) if d == day.isoformat()})


__all__ = [
    "BACKTEST_DIR",
    "REPORTS",
    "backtest_report_path",
    "day_reconnects",
    "day_record",
    "generated_line",
    "latest_sessions",
    "report_path",
    "strategies_on",
    "write_day_report",
]

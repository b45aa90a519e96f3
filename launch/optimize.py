"""The optimizer as the launcher runs it: ``python -m launch optimize``, before trading, and
at midday (``--midday-optimize``).

Where it sits on the way to trading (:func:`plan_before_trading`), so that a relaunch after
a crash trades again within seconds:

- before the open: every trial (an early launch optimizes while it waits for the open);
- once the session is open, when today's optimization has already finished (its record,
  :mod:`optimize.last_run`, covers every session closed before today): skipped, the engine
  trades the parameters in force at once (a relaunch after a crash, or after a midday
  re-optimization);
- once the session is open otherwise (a first launch during the session, or one whose
  pre-open optimization was cut short): the trials are time-boxed to ``budget_s`` wall
  seconds (``--optimize-budget``, default :data:`DEFAULT_BUDGET_S`; 0 skips it), then the
  gate judges the best trial found;
- at midday: time-boxed the same way (the engine is stopped meanwhile), with today's
  morning as the last held-out session.

A failed optimization never stops the session: the error is logged and the engine trades
with the parameters it has (the current ``best_params.json``), which is what an operator
would choose over not trading. ``python -m launch optimize`` alone reports the error and
exits 2 (operator) or 1 (crash).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from common.calendar import Session, TradingCalendar, nyse
from common.csvfiles import history_path, history_times
from common.errors import OperationalError
from common.history_download import EQUITIES
from optimize.last_run import LastRun, covers
from optimize.run import DEFAULT_SEED, DEFAULT_TRIALS, OptimizeOptions, Outcome, run_optimizer
from optimize.windows import DEFAULT_WINDOWS, WindowSpec

log = logging.getLogger("launch")

DEFAULT_MIDDAY = "12:45"
DEFAULT_BUDGET_S = 60.0
"""Wall seconds of trials an optimization may take once the session is open."""


@dataclass(frozen=True)
class OptimizerSettings:
    """The optimizer options of ``launch live|mock|optimize``."""

    trials: int = DEFAULT_TRIALS
    seed: int = DEFAULT_SEED
    workers: int = 1
    storage: str | None = None
    windows: WindowSpec = DEFAULT_WINDOWS
    budget_s: float = DEFAULT_BUDGET_S
    """Once the session is open: wall seconds of trials (module docstring)."""

    def options(self, strategy: str, data_dir: Path, config_dir: Path, progress: bool | None = None,
                *, today: bool = False, budget_s: float | None = None,
                params_file: Path | None = None) -> OptimizeOptions:  # fmt: skip
        return OptimizeOptions(strategy=strategy, data_dir=data_dir, config_dir=config_dir,
                               trials=self.trials, seed=self.seed, workers=self.workers,
                               storage=self.storage, windows=self.windows, progress=progress,
                               today=today, budget_s=budget_s, params_file=params_file)  # fmt: skip

    def with_trials(self, trials: int | None) -> OptimizerSettings:
        return self if trials is None else replace(self, trials=trials)


def parse_windows(text: str) -> WindowSpec:
    """``"20,20,10"`` (warm-up, scored, held-out sessions) as a WindowSpec."""
    m = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*", text or "")
    if m is None:
        raise ValueError(f"{text!r} is not WARMUP,SCORED,HELD_OUT (three session counts, e.g. 20,20,10)")
    return WindowSpec(*(int(g) for g in m.groups()))


def last_session_on_disk(data_dir: Path, symbol: str, calendar: TradingCalendar) -> date:
    """The last session with bars in ``symbol``'s history file (OperationalError if none)."""
    path = history_path(data_dir / EQUITIES, symbol)
    if not path.exists():
        raise OperationalError(f"{path}: no history: `python -m launch download` fetches it")
    times = history_times(path)
    if not times:
        raise OperationalError(f"{path}: no bars: `python -m launch download` fetches them")
    s = calendar.session_of_minute(times[-1])
    if s is None:
        raise OperationalError(f"{path}: its last bar is outside a session")
    return s.date


@dataclass(frozen=True)
class OptimizePlan:
    """Whether the launcher optimizes before trading, with what time box, and why."""

    run: bool
    budget_s: float | None
    why: str


def plan_before_trading(*, session: Session, now_ms: int, last_closed: date, last: LastRun | None,
                        budget_s: float, skip: bool) -> OptimizePlan:  # fmt: skip
    """The rule of the module docstring: ``session`` is today's, ``now_ms`` the broker's time,
    ``last_closed`` the last session closed before today, ``last`` the last run's record."""
    if skip:
        return OptimizePlan(False, None, "skipped (--skip-optimize): trading with the current parameters")
    if now_ms < session.open_ms:
        return OptimizePlan(True, None, "before the open: every trial")
    if covers(last, last_closed):
        assert last is not None
        return OptimizePlan(False, None, f"skipped: the session is open and today's optimization "
                                         f"has already run ({last.describe()}); trading at once "
                                         f"with the parameters in force")  # fmt: skip
    if budget_s <= 0:
        return OptimizePlan(False, None, "skipped: the session is open and --optimize-budget is 0; "
                                         "trading with the current parameters")  # fmt: skip
    return OptimizePlan(True, budget_s, f"the session is open: trials time-boxed to {budget_s:g} s "
                                        f"(--optimize-budget) so trading is not held up longer")  # fmt: skip


def optimize_once(settings: OptimizerSettings, strategy: str, data_dir: Path, config_dir: Path,
                  now_ms: int, *, calendar: TradingCalendar | None = None,
                  progress: bool | None = None, today: bool = False, budget_s: float | None = None,
                  params_file: Path | None = None) -> Outcome:  # fmt: skip
    """Run the optimizer on the sessions closed at ``now_ms`` (with ``today``: and today's so far)."""
    opts = settings.options(strategy, data_dir, config_dir, progress, today=today, budget_s=budget_s,
                            params_file=params_file)  # fmt: skip
    return run_optimizer(opts, now_ms=now_ms, calendar=calendar or nyse())


def optimize_before_trading(settings: OptimizerSettings, strategy: str, data_dir: Path,
                            config_dir: Path, now_ms: int, *, calendar: TradingCalendar | None = None,
                            when: str = "before trading", today: bool = False,
                            budget_s: float | None = None,
                            params_file: Path | None = None) -> Outcome | None:  # fmt: skip
    """The launcher's optimization: errors are logged, never raised (trading goes on)."""
    box = "" if budget_s is None else f", time-boxed to {budget_s:g} s"
    log.info("optimization %s: %d trials per phase%s%s", when, settings.trials, box,
             ", today's session so far included" if today else "")  # fmt: skip
    try:
        out = optimize_once(settings, strategy, data_dir, config_dir, now_ms, calendar=calendar,
                            today=today, budget_s=budget_s, params_file=params_file)  # fmt: skip
    except Exception as e:  # the session must not depend on the optimizer
        log.error("optimization failed (%s: %s): trading with the current parameters", type(e).__name__, e)
        log.debug("optimization failure", exc_info=True)
        return None
    return out


__all__ = ["DEFAULT_BUDGET_S", "DEFAULT_MIDDAY", "OptimizePlan", "OptimizerSettings",
           "last_session_on_disk", "optimize_before_trading", "optimize_once", "parse_windows",
           "plan_before_trading"]  # fmt: skip

"""The optimizer as the launcher runs it: ``python -m launch optimize``, before trading, and
at midday (``--midday-optimize``).

Before trading, a failed optimization never stops the session: the error is logged and the
engine trades with the parameters it has (the current ``best_params.json``), which is what
an operator would choose over not trading. ``python -m launch optimize`` alone reports the
error and exits 2 (operator) or 1 (crash).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

from common.calendar import TradingCalendar, nyse
from common.csvfiles import history_path, history_times
from common.errors import OperationalError
from common.history_download import EQUITIES
from optimize.run import DEFAULT_SEED, DEFAULT_TRIALS, OptimizeOptions, Outcome, run_optimizer
from optimize.windows import DEFAULT_WINDOWS, WindowSpec

log = logging.getLogger("launch")

DEFAULT_MIDDAY = "12:45"


@dataclass(frozen=True)
class OptimizerSettings:
    """The optimizer options of ``launch live|mock|optimize``."""

    trials: int = DEFAULT_TRIALS
    seed: int = DEFAULT_SEED
    workers: int = 1
    storage: str | None = None
    windows: WindowSpec = DEFAULT_WINDOWS

    def options(self, strategy: str, data_dir: Path, config_dir: Path, progress: bool | None = None) -> OptimizeOptions:
        return OptimizeOptions(strategy=strategy, data_dir=data_dir, config_dir=config_dir,
                               trials=self.trials, seed=self.seed, workers=self.workers,
                               storage=self.storage, windows=self.windows, progress=progress)  # fmt: skip

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


def optimize_once(settings: OptimizerSettings, strategy: str, data_dir: Path, config_dir: Path,
                  now_ms: int, *, calendar: TradingCalendar | None = None,
                  progress: bool | None = None) -> Outcome:  # fmt: skip
    """Run the optimizer on the sessions closed at ``now_ms``."""
    return run_optimizer(settings.options(strategy, data_dir, config_dir, progress), now_ms=now_ms,
                         calendar=calendar or nyse())  # fmt: skip


def optimize_before_trading(settings: OptimizerSettings, strategy: str, data_dir: Path,
                            config_dir: Path, now_ms: int, *, calendar: TradingCalendar | None = None,
                            when: str = "before trading") -> Outcome | None:  # fmt: skip
    """The launcher's optimization: errors are logged, never raised (trading goes on)."""
    log.info("optimization %s: %d trials per phase (--skip-optimize trades the current "
             "parameters without it)", when, settings.trials)  # fmt: skip
    try:
        out = optimize_once(settings, strategy, data_dir, config_dir, now_ms, calendar=calendar)
    except Exception as e:  # the session must not depend on the optimizer
        log.error("optimization failed (%s: %s): trading with the current parameters", type(e).__name__, e)
        log.debug("optimization failure", exc_info=True)
        return None
    return out


__all__ = ["DEFAULT_MIDDAY", "OptimizerSettings", "last_session_on_disk",
           "optimize_before_trading", "optimize_once", "parse_windows"]  # fmt: skip

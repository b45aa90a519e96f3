"""What every trial of one optimization shares: the strategy file, the grid, the windows,
the costs and the liquidity each fill's half-spread comes from.

:meth:`Dataset.config` turns a trial's dotted-key parameters into a strategy config with
:func:`common.config.config_with_params`, the overlay the engine applies to
``best_params.json``: a parameter the optimizer writes is exactly a parameter the engine
reads.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.calendar import MINUTE_MS, TradingCalendar, nyse
from common.config import (
    DEFAULT_CONFIG_DIR,
    StrategyConfig,
    config_with_params,
    read_strategy_json,
    strategy_config_path,
)
from common.history_download import EQUITIES, TODAYS_BARS
from engine.market_grid import HistoryError, MinuteGrid, load_sessions
from engine.sim_liquidity import SessionLiquidity, backtest_liquidity
from ledger.costs import CostModel
from optimize.windows import Windows, cut_session

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class Dataset:
    strategy: str
    config_path: Path
    config_json: dict
    """The strategy file as read (no parameters applied)."""
    base: StrategyConfig
    """The strategy file validated: symbols, costs and everything no trial changes."""
    windows: Windows
    grid: MinuteGrid
    """Every session of the windows, warm-up first."""
    costs: CostModel
    liquidity: SessionLiquidity
    data_dir: Path

    def config(self, params: Mapping[str, Any], source: str = "<trial>") -> StrategyConfig:
        """The strategy file with ``params`` (dotted keys) overlaid, validated."""
        return config_with_params(self.strategy, self.config_json, params,
                                  source=self.config_path, params_source=source)  # fmt: skip


def load_dataset(
    strategy: str,
    windows: Windows,
    data_dir: str | Path,
    *,
    config_dir: str | Path = DEFAULT_CONFIG_DIR,
    config_path: str | Path | None = None,
    calendar: TradingCalendar | None = None,
) -> Dataset:
    """Load the windows' sessions from ``<data_dir>/equities`` (HistoryError names a missing
    file or session) and the strategy file (ConfigError names file and key).

    Partial windows (today's session last) take today's bars from ``<data_dir>/tmp/todays_bars``
    up to the latest bar any symbol has (or up to the windows' cut, once cut), and the
    dataset's windows end with today's session cut there (:func:`optimize.windows.cut_session`).
    """
    path = Path(config_path) if config_path is not None else strategy_config_path(strategy, config_dir)
    data = read_strategy_json(path)
    base = config_with_params(strategy, data, {}, source=path)
    history = Path(data_dir) / EQUITIES
    cal = calendar or nyse()
    if windows.partial:
        grid, windows = _load_partial(base.symbols, windows, history, Path(data_dir) / TODAYS_BARS, cal)
    else:
        grid = load_sessions(base.symbols, windows.sessions, history)
    costs = CostModel.from_config(base.costs)
    ks = [*windows.scored_index, *windows.held_out_index]
    liquidity = backtest_liquidity(grid, ks, costs.liquidity_sessions, calendar=cal,
                                   history_dir=history)  # fmt: skip
    log.info("optimizer data: %s, %d symbols, %s", history, len(base.symbols), windows.describe())
    return Dataset(strategy, path, data, base, windows, grid, costs, liquidity, Path(data_dir))


def _load_partial(symbols: tuple[str, ...], windows: Windows, history: Path, today_dir: Path,
                  calendar: TradingCalendar) -> tuple[MinuteGrid, Windows]:  # fmt: skip
    """The grid of windows ending with today's session, and the windows with today cut."""
    last = windows.last
    uncut = calendar.session(last.date)
    # already cut (a worker loading what the main process loaded): exactly the same minutes
    until = None if last == uncut else last.close_ms - MINUTE_MS
    grid = load_sessions(symbols, (*windows.sessions[:-1], uncut), history, today_dir, until_ms=until)
    k = len(grid.sessions) - 1
    minutes = grid.session_range(k)
    if not len(minutes):
        raise HistoryError(f"no bar of today ({last.date}) in {today_dir}: nothing to score of today")
    cut = cut_session(uncut, int(grid.t_ms[minutes.stop - 1]))
    grid = dataclasses.replace(grid, sessions=(*grid.sessions[:-1], cut))
    return grid, windows.with_last(cut)


__all__ = ["Dataset", "load_dataset"]

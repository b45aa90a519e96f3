"""Each symbol's liquidity on each backtested session, measured as mockmarket's broker measures it.

The half-spread of a fill depends on its symbol's liquidity (:mod:`ledger.liquidity`): the
median dollar volume per minute over the ``liquidity_sessions`` sessions before the traded
one (:func:`ledger.liquidity.liquidity_window`). The broker reads those sessions' bars from
its store; the backtest reads them from the grid where the grid holds them (its warm-up
sessions) and, for older ones, from the history files (:func:`backtest_liquidity` with
``history_dir``, which :func:`engine.backtest.run_backtest` passes). The figure of one
session is :func:`ledger.liquidity.session_dollar_volume` over its real bars, exact, so a
grid and the files give the same number. A session whose bars are nowhere (before the
data starts) gives no figure, as in the broker.

Without ``history_dir`` (the optimizer's :func:`engine.backtest.simulate` on a grid it
holds) only the grid's sessions count: the same figures as the broker's whenever the grid
holds ``liquidity_sessions`` sessions before each scored one (a warm-up at least that long).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path

from common.calendar import Session, TradingCalendar, nyse
from common.csvfiles import history_path, read_history
from engine.market_grid import MinuteGrid, read_bars
from ledger.liquidity import liquidity, liquidity_window, session_dollar_volume
from ledger.money import ZERO

Figures = dict[tuple[str, date], Decimal]
"""Dollar volume per minute of (symbol, session date)."""


class SessionLiquidity:
    """Liquidity by symbol on each session, from per-session figures."""

    def __init__(
        self, figures: Mapping[tuple[str, date], Decimal], n: int, calendar: TradingCalendar
    ) -> None:
        self.figures = dict(figures)
        self.n = n
        self.calendar = calendar

    def on(self, session: Session, symbols: Sequence[str]) -> dict[str, Decimal | None]:
        """Each symbol's liquidity on ``session`` (None: no figure in the window)."""
        window = liquidity_window(self.calendar, session.date, self.n)
        return {
            s: liquidity([self.figures.get((s, w.date), ZERO) for w in window]) for s in symbols
        }


def grid_figures(grid: MinuteGrid, sessions: Sequence[int]) -> Figures:
    """The figures of the grid's sessions with indexes ``sessions``."""
    out: Figures = {}
    real = grid.real
    for k in sessions:
        s = grid.sessions[k]
        lo, hi = grid.session_range(k).start, grid.session_range(k).stop
        for i, sym in enumerate(grid.symbols):
            mask = real[i, lo:hi]
            out[(sym, s.date)] = session_dollar_volume(
                grid.close[i, lo:hi][mask].tolist(),
                grid.volume[i, lo:hi][mask].tolist(),
                s.n_minutes,
            )
    return out


def history_figures(
    symbols: Sequence[str], sessions: Sequence[Session], history_dir: str | Path
) -> Figures:
    """The figures of ``sessions`` from ``{SYMBOL}_RTH_NH.csv`` (HistoryError: file missing)."""
    out: Figures = {}
    if not sessions:
        return out
    lo, hi = min(s.open_ms for s in sessions), max(s.close_ms for s in sessions)
    for sym in symbols:
        bars = [
            b
            for b in read_bars(read_history, history_path(history_dir, sym), sym, "history")
            if lo <= b.t < hi
        ]
        for s in sessions:
            day = [b for b in bars if s.open_ms <= b.t < s.close_ms]
            out[(sym, s.date)] = session_dollar_volume(
                (b.close for b in day), (b.volume for b in day), s.n_minutes
            )
    return out


def backtest_liquidity(
    grid: MinuteGrid,
    scored: Sequence[int],
    n: int,
    *,
    calendar: TradingCalendar | None = None,
    history_dir: str | Path | None = None,
) -> SessionLiquidity:
    """The liquidity of every symbol on the grid's sessions ``scored`` (see the module docstring)."""
    cal = calendar or nyse()
    in_grid = {s.date: k for k, s in enumerate(grid.sessions)}
    wanted: dict[date, Session] = {}
    for k in scored:
        for w in liquidity_window(cal, grid.sessions[k].date, n):
            wanted[w.date] = w
    figures = grid_figures(grid, sorted(in_grid[d] for d in wanted if d in in_grid))
    older = [w for d, w in sorted(wanted.items()) if d not in in_grid]
    if history_dir is not None and older:
        figures.update(history_figures(grid.symbols, older, history_dir))
    return SessionLiquidity(figures, n, cal)


__all__ = ["SessionLiquidity", "backtest_liquidity", "grid_figures", "history_figures"]

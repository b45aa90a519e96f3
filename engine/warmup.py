"""The live engine's warm-up: the state an uninterrupted run would have at the last closed minute.

Order (design.md §6), every bar through the one grid rule (:func:`engine.market_grid.build_grid`):

1. the ``history_sessions`` full sessions before today from ``<data-dir>/equities``;
2. today's bars so far from ``<data-dir>/tmp/todays_bars`` (when the files are there);
3. a REST backfill of today's minutes after those, up to the last closed minute
   (the broker's clock says which: the bars' times and the broker's "now", never the
   machine's clock).

The grid up to the minute before the last closed one goes through the signal engine's
batch entry (:meth:`engine.signals.SignalEngine.warm_up`, bit-identical to per-minute
updates), today's minutes are shown to the strategy (``observe``: the rotation
aggregator's smoothing), and the last closed minute itself is handed back as
:attr:`WarmUp.pending`: the engine decides it through the live path, as if its batch had
just arrived.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from common.bars import MINUTE_MS, Bar
from common.calendar import Session, TradingCalendar, from_ms, iso_ny, nyse
from common.csvfiles import history_path, read_history, read_today, today_path
from common.history_download import EQUITIES, TODAYS_BARS
from common.minute import Minute
from common.rest_models import BrokerClock
from engine.bar_feed import BarsApi
from engine.cost_estimates import session_round_trip_costs
from engine.market_grid import HistoryError, MinuteGrid, build_grid, read_bars
from engine.signals import SignalEngine
from engine.startup import session_today
from engine.strategies import Strategy

log = logging.getLogger(__name__)

class ClockApi(BarsApi, Protocol):
    """Market data and the broker's clock (:class:`common.rest.AlpacaRestClient` has both)."""

    def get_clock(self) -> BrokerClock: ...


@dataclass
class WarmUp:
    """What the warm-up leaves for the live engine."""

    signals: SignalEngine
    grid: MinuteGrid
    """The warm grid (history and today up to the minute before :attr:`pending`)."""
    pending: Minute | None
    """The last closed minute, to be decided live (None before the first minute closes)."""
    last_closes: dict[str, float]
    """Closes the live grid rule starts from (after :attr:`pending`): the feed's seed."""
    today_minutes: int
    rest_minutes: int
    seconds: float
    round_trip_costs: dict[str, float] = field(default_factory=dict)
    """Each symbol's round-trip cost estimate for today (:mod:`engine.cost_estimates`: its
    liquidity over the sessions before today, at yesterday's close), for the DecisionStep."""

    @property
    def last_t(self) -> int | None:
        """The last minute of today the warm-up covers, :attr:`pending` included (the feed
        continues after it); None before the open."""
        if self.pending is not None:
            return self.pending.t
        today = self.grid.sessions[-1]
        t = int(self.grid.t_ms[-1]) if self.grid.n_minutes else None
        return t if t is not None and today.contains_minute(t) else None


def load_bars(
    symbols: Sequence[str],
    sessions: Sequence[Session],
    data_dir: Path,
) -> tuple[dict[str, list[Bar]], int | None]:
    """History of ``sessions[:-1]`` and today's file bars (``sessions[-1]``) by symbol, and the
    minute today's files cover every symbol up to: the earliest of the symbols' latest bars
    (None if any symbol has no bar of today in a file)."""
    today = sessions[-1]
    lo = sessions[0].open_ms
    hist_dir, today_dir = data_dir / EQUITIES, data_dir / TODAYS_BARS
    bars: dict[str, list[Bar]] = {}
    latest: dict[str, int] = {}
    for sym in symbols:
        hpath = history_path(hist_dir, sym)
        got = [b for b in read_bars(read_history, hpath, sym, "history") if lo <= b.t < today.open_ms]
        tpath = today_path(today_dir, sym)
        if tpath.is_file():
            todays = [b for b in read_bars(read_today, tpath, sym, "today's bars")
                      if today.contains_minute(b.t)]  # fmt: skip
            if todays:
                latest[sym] = todays[-1].t
            got += todays
        bars[sym] = got
    covered = min(latest.values()) if len(latest) == len(symbols) else None
    return bars, covered


def check_history(grid: MinuteGrid, data_dir: Path) -> None:
    """Every history session must hold at least one real bar of every symbol."""
    for k, s in enumerate(grid.sessions[:-1]):
        r = grid.session_range(k)
        traded = grid.real[:, r.start : r.stop].any(axis=1)
        for i, sym in enumerate(grid.symbols):
            if not traded[i]:
                raise HistoryError(
                    f"history missing for {sym}: {history_path(data_dir / EQUITIES, sym)} has no "
                    f"bars on {s.date} (download the history again)"
                )


def warm_up(
    strategy: Strategy,
    session: Session,
    data_dir: str | Path,
    api: ClockApi,
    *,
    history_sessions: int = 20,
    calendar: TradingCalendar | None = None,
) -> WarmUp:
    """Warm a fresh signal engine and ``strategy`` up to the broker's last closed minute."""
    started = time.perf_counter()
    cal = calendar or nyse()
    data_dir = Path(data_dir)
    symbols = tuple(strategy.symbols)
    sessions = [*cal.sessions_before(session.date, history_sessions), session]
    bars, latest_file = load_bars(symbols, sessions, data_dir)
    n_file = 0 if latest_file is None else (latest_file - session.open_ms) // MINUTE_MS + 1

    last_closed = session_today(api.get_clock(), cal).last_closed_minute()
    rest_minutes = 0
    if last_closed is not None:
        first = session.open_ms if latest_file is None else latest_file + MINUTE_MS
        if first <= last_closed:
            fetched = api.get_bars(list(symbols), from_ms(first), from_ms(last_closed))
            for sym, got in fetched.items():
                if sym in bars:
                    bars[sym] += [b for b in got if first <= b.t <= last_closed]
            rest_minutes = (last_closed - first) // MINUTE_MS + 1
            log.info("warm-up: %d minute(s) of today %s..%s from REST", rest_minutes,
                     iso_ny(first), iso_ny(last_closed))  # fmt: skip

    end = session.open_ms - MINUTE_MS if last_closed is None else last_closed
    full = build_grid(symbols, sessions, bars, until_ms=end)
    check_history(full, data_dir)
    pending = None
    warm = full
    if last_closed is not None:
        warm = build_grid(symbols, sessions, bars, until_ms=last_closed - MINUTE_MS)
        pending = full.bars_at(full.n_minutes - 1, source="warm-up")

    engine = SignalEngine(symbols, strategy.config.oes_config)
    sigs = engine.warm_up(warm)
    today_k = len(sessions) - 1
    today_range = warm.session_range(today_k)
    for n in today_range:
        strategy.observe(int(warm.t_ms[n]), sigs.at(n))
    seconds = time.perf_counter() - started
    log.info(
        "warm-up done in %.2f s: %d sessions of history, %d minute(s) of today (%d from today's "
        "files, %d from REST)%s",
        seconds, history_sessions, len(today_range) + (pending is not None), min(n_file, len(today_range) + 1),
        rest_minutes, "" if pending is None else f"; deciding {iso_ny(pending.t)} next",
    )  # fmt: skip
    return WarmUp(
        signals=engine,
        grid=warm,
        pending=pending,
        last_closes=full.last_closes(),
        today_minutes=len(today_range),
        rest_minutes=rest_minutes,
        seconds=seconds,
        round_trip_costs=session_round_trip_costs(full, today_k, strategy.config.costs),
    )


__all__ = ["WarmUp", "check_history", "load_bars", "warm_up"]

"""The market-data store: every CSV bar of the sessions up to the replay date, indexed.

mockmarket replays one session (the *replay date*); the sessions before it are
its history for REST. Bars after the replay date are dropped at load time, so
nothing can serve them. The store knows nothing of the clock: callers pass the
instant up to which bars may be seen.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path

from common.bars import Bar
from common.calendar import Session, TradingCalendar, ny_date, nyse
from common.csvfiles import history_path, history_symbols, read_history

log = logging.getLogger(__name__)


class StoreError(ValueError):
    """The market data cannot be served (no files, no bars on the replay date...)."""


class MarketStore:
    """Bars by symbol and by minute; implements the broker's ``MarketPrices``."""

    def __init__(
        self,
        bars: Mapping[str, Iterable[Bar]],
        replay_date: date | None = None,
        *,
        calendar: TradingCalendar | None = None,
    ) -> None:
        self.calendar = calendar or nyse()
        by_symbol = {
            s: sorted({b.t: b for b in bs}.values(), key=lambda b: b.t) for s, bs in bars.items()
        }
        by_symbol = {s: bs for s, bs in by_symbol.items() if bs}
        if not by_symbol:
            raise StoreError("no bars to serve")
        if replay_date is None:
            replay_date = max(ny_date(bs[-1].t) for bs in by_symbol.values())
        if not self.calendar.is_session(replay_date):
            raise StoreError(f"replay date {replay_date} is not an NYSE session")
        self.replay_date: date = replay_date
        self.replay_session: Session = self.calendar.session(replay_date)
        cutoff = self.replay_session.close_ms
        self._bars: dict[str, list[Bar]] = {}
        self._times: dict[str, list[int]] = {}
        for symbol in sorted(by_symbol):
            kept = [b for b in by_symbol[symbol] if b.t < cutoff]
            if kept:
                self._bars[symbol] = kept
                self._times[symbol] = [b.t for b in kept]
        if not any(self._times[s][-1] >= self.replay_session.open_ms for s in self._times):
            raise StoreError(f"no bars on the replay date {replay_date}")
        self.symbols: tuple[str, ...] = tuple(self._bars)
        by_minute: dict[int, list[Bar]] = {}
        for symbol in self.symbols:
            for b in self._bars[symbol]:
                by_minute.setdefault(b.t, []).append(b)
        self._by_minute = by_minute
        self.first_ms: int = min(ts[0] for ts in self._times.values())

    @classmethod
    def load(
        cls,
        directory: str | Path,
        replay_date: date | None = None,
        *,
        symbols: Sequence[str] | None = None,
        calendar: TradingCalendar | None = None,
    ) -> MarketStore:
        """Read ``DIR/{SYMBOL}_RTH_NH.csv`` (every symbol there, or ``symbols``)."""
        directory = Path(directory)
        wanted = list(symbols) if symbols else history_symbols(directory)
        if not wanted:
            raise StoreError(f"{directory}: no *_RTH_NH.csv history files")
        data = {}
        for s in wanted:
            path = history_path(directory, s)
            if not path.is_file():
                raise StoreError(f"{path}: no such file (symbol {s})")
            data[s] = read_history(path, s)
        store = cls(data, replay_date, calendar=calendar)
        log.info(
            "market store: %d symbols, %d bars from %s, replay date %s",
            len(store.symbols),
            sum(len(b) for b in store._bars.values()),
            directory,
            store.replay_date,
        )
        return store

    # -- MarketPrices (the broker's view)
    def has_symbol(self, symbol: str) -> bool:
        return symbol in self._bars

    def bar_at(self, symbol: str, t_ms: int) -> Bar | None:
        """The bar starting at ``t_ms``, if the data has one."""
        ts = self._times.get(symbol)
        if ts is None:
            return None
        i = bisect.bisect_left(ts, t_ms)
        return self._bars[symbol][i] if i < len(ts) and ts[i] == t_ms else None

    def last_bar_before(self, symbol: str, t_ms: int) -> Bar | None:
        """The latest bar that starts strictly before ``t_ms``."""
        ts = self._times.get(symbol)
        if ts is None:
            return None
        i = bisect.bisect_left(ts, t_ms)
        return self._bars[symbol][i - 1] if i > 0 else None

    def bars_between(self, symbol: str, start_ms: int, end_ms: int) -> list[Bar]:
        """Bars of ``symbol`` starting in ``[start_ms, end_ms)`` (the broker's liquidity history)."""
        ts = self._times.get(symbol)
        if ts is None or end_ms <= start_ms:
            return []
        lo, hi = bisect.bisect_left(ts, start_ms), bisect.bisect_left(ts, end_ms)
        return self._bars[symbol][lo:hi]

    # -- market-data views
    def bars_at_minute(self, t_ms: int) -> list[Bar]:
        """Every symbol's bar for the minute starting at ``t_ms`` (symbols without one absent)."""
        return list(self._by_minute.get(t_ms, ()))

    def bars(self, symbol: str) -> list[Bar]:
        """All bars of ``symbol``, ascending (do not modify)."""
        return self._bars.get(symbol, [])

    def index_range(self, symbol: str, start_ms: int, end_ms: int) -> tuple[int, int]:
        """``[lo, hi)`` indexes into :meth:`bars` of the bars with start_ms <= t <= end_ms."""
        ts = self._times.get(symbol)
        if ts is None or end_ms < start_ms:
            return 0, 0
        return bisect.bisect_left(ts, start_ms), bisect.bisect_right(ts, end_ms)

    def session_dates(self) -> list[date]:
        """Dates that have at least one bar, ascending."""
        return sorted({ny_date(t) for t in self._by_minute})

    def __len__(self) -> int:
        return sum(len(b) for b in self._bars.values())

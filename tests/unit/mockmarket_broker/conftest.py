"""A PaperBroker on a fake price source and a paused SimClock the tests drive.

The broker runs the pre-cost fill rule (``CostModel.legacy``: slippage and a fee per share
only, as the tests' expected prices were computed) unless a test passes ``costs=``.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from datetime import date

import pytest

from common.bars import MINUTE_MS, Bar
from common.calendar import Session, nyse
from ledger.costs import CostModel
from mockmarket.broker import PaperBroker
from mockmarket.clock import SimClock
from mockmarket.counters import Counters
from mockmarket.faults import Faults

DAY = date(2024, 3, 12)  # a Tuesday, full session 09:30-16:00 New York
HALF_DAY = date(2024, 11, 29)  # the day after Thanksgiving closes at 13:00


class FakePrices:
    """Bars by symbol; implements PriceSource."""

    def __init__(self, symbols: Iterable[str] = ("AAA", "BBB", "THIN")) -> None:
        self._bars: dict[str, dict[int, Bar]] = {s: {} for s in symbols}

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._bars)

    def add(
        self,
        symbol: str,
        t: int,
        o: float,
        h: float | None = None,
        low: float | None = None,
        c: float | None = None,
    ) -> Bar:
        h = max(o, c or o) if h is None else h
        low = min(o, c or o) if low is None else low
        c = o if c is None else c
        bar = Bar(symbol, t, o, h, low, c, 100.0, None, 1)
        self._bars.setdefault(symbol, {})[t] = bar
        return bar

    def flat(self, symbol: str, minutes: Iterable[int], price: float) -> None:
        for t in minutes:
            self.add(symbol, t, price)

    def bar_at(self, symbol: str, t_ms: int) -> Bar | None:
        return self._bars.get(symbol, {}).get(t_ms)

    def last_bar_before(self, symbol: str, t_ms: int) -> Bar | None:
        bars = self._bars.get(symbol, {})
        times = sorted(bars)
        i = bisect.bisect_left(times, t_ms)
        return bars[times[i - 1]] if i else None

    def has_symbol(self, symbol: str) -> bool:
        return symbol in self._bars

    def bars_between(self, symbol: str, start_ms: int, end_ms: int) -> list[Bar]:
        bars = self._bars.get(symbol, {})
        return [bars[t] for t in sorted(bars) if start_ms <= t < end_ms]


class Market:
    """The broker plus the knobs a test turns: time, minutes, prices, faults."""

    def __init__(
        self,
        start_ms: int,
        *,
        seed: int = 0,
        cash: float = 100_000.0,
        slippage_bps: float = 0.0,
        fee_per_share: float = 0.0,
        costs: CostModel | None = None,
    ) -> None:
        self.clock = SimClock(start_ms, paused=True)
        self.prices = FakePrices()
        self.faults = Faults()
        self.counters = Counters()
        self.broker = PaperBroker(
            self.clock,
            self.prices,
            self.faults,
            self.counters,
            calendar=nyse(),
            seed=seed,
            cash=cash,
            costs=costs if costs is not None else CostModel.legacy(slippage_bps, fee_per_share),
        )

    def at(self, t_ms: int) -> None:
        self.clock.set_time(t_ms)

    def minute(self, m: int) -> None:
        """Move the clock to minute ``m`` and run the broker's minute step, as the loop does."""
        self.at(m)
        self.broker.on_minute(m)

    def run_minutes(self, start: int, end: int) -> None:
        """on_minute for every minute start in [start, end]."""
        for m in range(start, end + 1, MINUTE_MS):
            self.minute(m)

    def order(self, **body) -> dict:
        body.setdefault("type", "market")
        body.setdefault("time_in_force", "day")
        return self.broker.submit(body).order

    def events(self, order_id: str | None = None) -> list[str]:
        return [
            m["data"]["event"]
            for m in self.broker.updates.history
            if order_id is None or m["data"]["order"]["id"] == order_id
        ]

    def event_data(self, event: str) -> list[dict]:
        return [m["data"] for m in self.broker.updates.history if m["data"]["event"] == event]


@pytest.fixture
def make_market():
    """``make_market(start_ms, seed=..., cash=..., slippage_bps=..., fee_per_share=..., costs=...)``."""
    return Market


@pytest.fixture
def fake_prices():
    return FakePrices


@pytest.fixture
def session() -> Session:
    return nyse().session(DAY)


@pytest.fixture
def prev_session() -> Session:
    return nyse().previous_session(DAY)


@pytest.fixture
def market(session: Session) -> Market:
    """Clock at 10:00:30 on DAY (market open); AAA trades at 50, BBB at 20 all day; THIN is sparse."""
    mk = Market(session.open_ms + 30 * MINUTE_MS + 30_000)
    prev = nyse().previous_session(DAY)
    mk.prices.flat("AAA", prev.minutes(), 49.0)
    mk.prices.flat("AAA", session.minutes(), 50.0)
    mk.prices.flat("BBB", prev.minutes(), 19.0)
    mk.prices.flat("BBB", session.minutes(), 20.0)
    mk.prices.add("THIN", session.open_ms, 10.0, c=10.5)
    return mk


@pytest.fixture
def closed_market(session: Session) -> Market:
    """Clock at 08:00 on DAY (before the open); same prices as ``market``."""
    mk = Market(session.open_ms - 90 * MINUTE_MS)
    prev = nyse().previous_session(DAY)
    mk.prices.flat("AAA", prev.minutes(), 49.0)
    mk.prices.flat("AAA", session.minutes(), 50.0)
    mk.prices.flat("BBB", prev.minutes(), 19.0)
    mk.prices.flat("BBB", session.minutes(), 20.0)
    return mk

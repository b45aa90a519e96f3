"""The live engine's minute with a fake broker and a fake trade-updates stream — no process,
no socket: the minute's orders go out with no REST read before the first one; fills
reported by the stream move the journal, the book and the broker view; a refused order is
journaled and the loop carries on; while the stream is down the open orders are polled
after sending, and when it comes back the engine resyncs and stops polling; a trade the
engine did not make is in the view at once and in the book after the next broker check
(one a minute at most)."""

from __future__ import annotations

import queue
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from common.bars import Bar
from common.calendar import MINUTE_MS, from_ms, nyse
from common.errors import NotFoundError, TraderError, error_for_status
from common.minute import Minute
from common.rest_models import Account, BrokerClock, Order, Position
from engine.app import EngineOptions, LiveEngine
from engine.decision import DecisionStep
from engine.eod import EndOfDay
from engine.execution import Executor
from engine.journal import Journal
from engine.position_book import PositionBook
from engine.startup import Today
from engine.strategies import Signal
from engine.trade_events import TradeEvent
from engine.trade_stream import StreamStatus
from tests.support import journal_reads as jr

PRICES = {"SPY": 500.0, "SPXL": 150.0, "SH": 40.0, "SDS": 20.0}


class Broker:
    """A paper broker in memory: it records every call; orders fill when the test says."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail: dict[str, TraderError] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.positions: dict[str, tuple[float, float]] = {}
        self.cash = 100_000.0
        self._n = 0

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.fail:
            raise self.fail[name]

    def _order(self, oid: str) -> Order:
        return Order.from_json(self.orders[oid])

    def submit_order(self, *, symbol: str, qty: float, side: str, client_order_id: str, **_: Any) -> Order:
        self._call("submit_order")
        self._n += 1
        oid = f"b-{self._n}"
        self.orders[oid] = {"id": oid, "client_order_id": client_order_id, "symbol": symbol,
                            "side": side, "qty": str(qty), "filled_qty": "0", "filled_avg_price": None,
                            "status": "accepted", "type": "market", "time_in_force": "day",
                            "created_at": "2025-10-16T14:00:01Z"}  # fmt: skip
        return self._order(oid)

    def fill(self, symbol: str, price: float, *, client_order_id: str | None = None) -> TradeEvent:
        """Fill the open order of ``symbol`` (or a hand-placed buy): its trade-updates event."""
        if client_order_id is not None:  # someone else's order, placed by hand
            self._n += 1
            self.orders[f"b-{self._n}"] = {**next(iter(self.orders.values())), "id": f"b-{self._n}",
                                           "client_order_id": client_order_id, "symbol": symbol,
                                           "side": "buy", "qty": "7", "status": "accepted",
                                           "filled_qty": "0", "filled_avg_price": None}  # fmt: skip
        oid, o = next((k, v) for k, v in reversed(self.orders.items())
                      if v["symbol"] == symbol and v["status"] != "filled")  # fmt: skip
        qty = float(o["qty"])
        o.update(filled_qty=str(qty), filled_avg_price=str(price), status="filled")
        q0, _ = self.positions.get(symbol, (0.0, 0.0))
        signed = qty if o["side"] == "buy" else -qty
        self.positions[symbol] = (q0 + signed, price)
        self.cash -= signed * price
        return TradeEvent("fill", self._order(oid), f"x-{oid}", qty, price, None, q0 + signed)

    def get_order(self, order_id: str) -> Order:
        self._call("get_order")
        if order_id not in self.orders:
            raise NotFoundError(404, 40410000, "order not found")
        return self._order(order_id)

    def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        self._call("get_order_by_client_id")
        return next((self._order(k) for k, v in self.orders.items() if v["client_order_id"] == client_order_id), None)

    def cancel_order(self, order_id: str) -> None:
        self._call("cancel_order")

    def list_orders(self, **kw: Any) -> list[Order]:
        self._call("list_orders")
        return [self._order(k) for k, v in self.orders.items() if v["status"] != "filled"]

    def get_positions(self) -> list[Position]:
        self._call("get_positions")
        return [Position.from_json({"symbol": s, "qty": str(q), "side": "long", "avg_entry_price": str(p)})
                for s, (q, p) in self.positions.items() if q]  # fmt: skip

    def get_account(self) -> Account:
        self._call("get_account")
        return Account.from_json({"status": "ACTIVE", "cash": str(self.cash), "equity": "100000",
                                  "last_equity": "100000"})  # fmt: skip

    def get_clock(self) -> BrokerClock:
        raise AssertionError("the clock is not read in these minutes")


class Stream:
    """The trade-updates feed: the test puts events and ups and downs in its queue."""

    def __init__(self) -> None:
        self.items: queue.Queue = queue.Queue()

    def start(self) -> None:
        pass

    def stop(self, timeout: float = 0) -> None:
        pass


class Signals:
    symbols = tuple(PRICES)

    def update(self, minute: Minute) -> dict[str, Signal]:
        return {"SPY": Signal(0.62, 0.3)}  # BASE_BULL_3X: SPY and SPXL


@dataclass
class FeedStats:
    batches: int = 0


class Feed:
    """The FIFO feed: one queued minute per poll; ``read`` marks the broker's call log when a
    line is handed out (the start of the critical path)."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.queue: list[Minute] = []
        self.last_closes = dict(PRICES)
        self.last_t: int | None = None
        self.finished = False
        self.stats = FeedStats()
        self.reader = self
        self.read_at: list[int] = []
        self.last_bars_at = 0.0

    @property
    def next_t(self) -> int:
        assert self.last_t is not None
        return self.last_t + MINUTE_MS

    def poll(self, timeout: float) -> list[Minute]:
        if not self.queue:
            return []
        m = self.queue.pop(0)
        self.last_t = m.t
        self.read_at.append(len(self.broker.calls))
        return [m]

    def close(self) -> None:
        pass


def minute(t: int) -> Minute:
    return Minute(t, {s: Bar(s, t, p, p, p, p, 1000.0) for s, p in PRICES.items()}, "fifo")


@pytest.fixture
def live(tmp_path: Path, psm_cfg, full_day):
    """A LiveEngine past its start-up at 10:00, its view seeded, on the fake broker and stream."""
    cfg = psm_cfg()
    broker, stream = Broker(), Stream()
    opts = EngineOptions(strategy="psm", fifo=tmp_path / "bars.fifo", log_dir=tmp_path / "logs", poll_s=0.01)
    eng = LiveEngine(opts, cfg, broker, calendar=nyse(), monotonic=lambda: 0.0, stream=stream)  # type: ignore[arg-type]
    t0 = full_day.open_ms + 30 * MINUTE_MS
    clock = BrokerClock(from_ms(t0 + MINUTE_MS), True, from_ms(full_day.open_ms), from_ms(full_day.close_ms))
    eng.today = Today(t0 + MINUTE_MS, full_day.date, full_day, clock)
    eng.clock.observe_clock(t0 + MINUTE_MS, 0.0)  # time stands still: the clock is never read
    opts.log_dir.mkdir()
    eng.journal = Journal(opts.journal_path, now_ms=eng.sim_now_ms)
    eng.executor = Executor(broker, eng.journal, "psm", full_day.date, book=PositionBook(),  # type: ignore[arg-type]
                            view=eng.view, now_ms=eng.sim_now_ms, on_event=eng._event)  # fmt: skip
    eng.step = DecisionStep(eng.strategy, cfg, full_day, signal_engine=Signals(), guard=eng.guard)  # type: ignore[arg-type]
    eng.eod = EndOfDay(eng.executor, full_day, cfg.session, eng.guard, scope=eng.eod_scope)
    eng.feed = Feed(broker)  # type: ignore[assignment]
    eng.view.seed([], cash=broker.cash, start_equity=100_000.0)
    yield eng, broker, stream, t0
    eng._close()


def tick(eng: LiveEngine, t: int | None = None) -> None:
    if t is not None:
        eng.feed.queue.append(minute(t))  # type: ignore[union-attr]
    assert eng._tick() is None


def up(eng: LiveEngine, stream: Stream, broker: Broker) -> None:
    stream.items.put(StreamStatus(True, "listening"))
    tick(eng)  # the resync: a poll of the (no) open orders and the broker check
    broker.calls.clear()


def test_the_minutes_orders_go_out_with_no_rest_read_before_the_first(live) -> None:
    eng, broker, stream, t0 = live
    up(eng, stream, broker)
    tick(eng, t0)
    first = eng.feed.read_at[-1]  # type: ignore[union-attr]
    assert broker.calls[first:] == ["submit_order", "submit_order"]  # nothing else: no fill yet
    assert eng.counters.decided == 1 and eng.counters.orders == 2
    orders = jr.orders(eng.journal.path, "psm", eng.today.day)
    assert {(o.symbol, o.status) for o in orders} == {("SPY", "accepted"), ("SPXL", "accepted")}
    (d,) = jr.decisions(eng.journal.path, "psm", eng.today.day)  # recorded after the sends
    assert d["summary"] == "BASE_BULL_3X"


def test_fills_from_the_stream_move_the_journal_the_book_and_the_view(live) -> None:
    eng, broker, stream, t0 = live
    up(eng, stream, broker)
    tick(eng, t0)
    broker.calls.clear()
    stream.items.put(broker.fill("SPY", 500.5))
    stream.items.put(broker.fill("SPXL", 150.2))
    tick(eng)
    fills = jr.fills(eng.journal.path, "psm", eng.today.day)
    assert sorted((f.symbol, f.source) for f in fills) == [("SPXL", "stream"), ("SPY", "stream")]
    held = {s: q for s, (q, _) in broker.positions.items()}
    assert eng.executor.book.quantities() == held and eng.view.quantities() == held
    assert broker.calls == ["get_account", "get_positions"]  # the check after the fills, all agree
    assert eng.counters.fills == 2 and eng.counters.book_repairs == 0 and eng.counters.view_repairs == 0
    # the next minute: holdings from the view (as the broker has them): nothing to send
    broker.calls.clear()
    tick(eng, t0 + MINUTE_MS)
    assert "submit_order" not in broker.calls and eng.counters.decided == 2


def test_a_refused_order_is_journaled_and_the_loop_carries_on(live) -> None:
    eng, broker, stream, t0 = live
    up(eng, stream, broker)
    broker.fail["submit_order"] = error_for_status(403, 40310000, "insufficient buying power")
    tick(eng, t0)
    assert eng.counters.decided == 1 and eng.counters.errors == 0
    orders = jr.orders(eng.journal.path, "psm", eng.today.day)
    assert {o.status for o in orders} == {"rejected"}
    assert all("HTTP 403: insufficient buying power" in o.detail for o in orders)
    rejected = [e.detail for e in eng.journal.events("psm", eng.today.day, "order_rejected")]
    assert sorted(d["client_order_id"] for d in rejected) == sorted(o.client_order_id for o in orders)
    del broker.fail["submit_order"]
    tick(eng, t0 + MINUTE_MS)  # planned again, with new ids: sent
    assert eng.counters.decided == 2 and broker.calls.count("submit_order") == 4


def test_while_the_stream_is_down_the_engine_polls_after_sending_then_resyncs(live) -> None:
    eng, broker, stream, t0 = live
    up(eng, stream, broker)
    stream.items.put(StreamStatus(False, "connection lost"))
    tick(eng)
    assert not eng.stream_up and eng.counters.stream_drops == 1
    tick(eng, t0)
    first = eng.feed.read_at[-1]  # type: ignore[union-attr]
    assert broker.calls[first:first + 2] == ["submit_order", "submit_order"]  # no read before them
    assert broker.calls[first + 2:] == ["get_order", "get_order", "get_account", "get_positions"]
    broker.fill("SPY", 500.5)  # the stream is down: nobody tells the engine...
    broker.calls.clear()
    stream.items.put(StreamStatus(True, "listening"))
    tick(eng)  # ...until it is back: one poll of the open orders, then the check
    assert broker.calls == ["get_order", "get_order", "get_account", "get_positions"]
    assert eng.counters.stream_resumes == 1
    (f,) = jr.fills(eng.journal.path, "psm", eng.today.day)
    assert (f.symbol, f.source) == ("SPY", "poll") and eng.view.quantities() == {"SPY": f.qty}
    assert [e.kind for e in eng.journal.events("psm", eng.today.day)
            if e.kind.startswith("trade_stream")] == ["trade_stream_down", "trade_stream_resumed"]  # fmt: skip
    broker.calls.clear()
    tick(eng, t0 + MINUTE_MS)  # up again: no poll after the minute
    assert "get_order" not in broker.calls


def test_a_trade_made_by_hand_is_seen_on_the_stream_and_the_book_repaired(live, caplog) -> None:
    eng, broker, stream, t0 = live
    up(eng, stream, broker)
    tick(eng, t0)
    stream.items.put(broker.fill("SPY", 500.5))
    stream.items.put(broker.fill("SPXL", 150.2))
    tick(eng)
    assert eng.counters.checks == 2  # the resync's, and the one after the fills
    stream.items.put(broker.fill("SH", 40.0, client_order_id="by-hand-1"))
    tick(eng)
    assert eng.view.quantities()["SH"] == 7  # the view follows the whole account at once
    assert eng.counters.checks == 2  # one check a minute at most: this fill waits for the next
    tick(eng, t0 + MINUTE_MS)
    assert eng.executor.book.quantities()["SH"] == 7  # the check took the broker's book
    assert eng.counters.book_repairs == 1 and eng.counters.checks == 3
    assert "position book differs from the broker: SH: book 0, broker 7" in caplog.text
    (ev,) = eng.journal.events("psm", eng.today.day, "book_mismatch")
    assert ev.detail["diff"] == ["SH: book 0, broker 7"]


class Wall:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_broker_clock_is_read_only_to_confirm_an_instant(live, full_day, at) -> None:
    """Live speed: a read at start-up, one more to measure the speed, then none while bars
    come; reads when the bridge falls silent, around the EOD instant, at the close."""
    eng, _, _, _ = live
    wall = Wall()
    eng._mono = wall  # type: ignore[method-assign]
    feed = eng.feed
    start = at(full_day, "15:31")
    truth = lambda: start + round(wall.now * 1000)  # noqa: E731  # the broker's time, speed 1
    eng.clock = type(eng.clock)()
    eng.clock.observe_clock(truth(), wall.now)  # start-up
    reads: list[tuple[str, int]] = []

    def turn() -> str | None:
        why = eng._clock_reason(wall.now)
        if why is not None:
            reads.append((why, truth()))
            eng.clock.observe_clock(truth(), wall.now)
        return why

    t = at(full_day, "15:30")
    while t < at(full_day, "15:53"):  # a bar a minute, a second after it closes
        wall.now = (t + MINUTE_MS + 1_000 - start) / 1000
        feed.last_t, feed.last_bars_at = t, wall.now  # type: ignore[union-attr]
        eng.clock.observe_bar(t, wall.now)
        for _ in range(60):  # the loop's turns during the minute
            turn()
            wall.now += 1.0
        t += MINUTE_MS
    assert reads == [("no batch from the bridge", start + 16_000)]  # once: the speed is measured
    reads.clear()
    while not reads:  # the 15:53 bar never comes: read once it is late by rest_fallback_s
        turn()
        wall.now += 0.5
    assert reads == [("no batch from the bridge", at(full_day, "15:54") + 15_000)]
    reads.clear()
    feed.last_t = at(full_day, "15:54")  # type: ignore[union-attr]  # caught up over REST
    while truth() < eng.eod.at_ms + 20_000:
        turn()
        wall.now += 0.5
    watching = [r for r in reads if r[0] == "watching for the end-of-day instant"]
    assert watching[0][1] == eng.eod.at_ms - 2 * MINUTE_MS  # from 15:56, every 5 s
    assert all(b[1] - a[1] == 5_000 for a, b in zip(watching, watching[1:], strict=False))
    assert ("to confirm the end-of-day instant", eng.eod.at_ms + 10_000) in reads
    eng.eod.done = object()  # type: ignore[assignment]  # flattened
    reads.clear()
    feed.last_bars_at = wall.now  # type: ignore[union-attr]
    while truth() < full_day.close_ms:
        turn()
        wall.now += 0.5
        feed.last_bars_at = wall.now  # type: ignore[union-attr]  # the bars come again
    turn()
    assert reads == [("to confirm the close", full_day.close_ms)]


def test_a_bar_far_later_than_expected_makes_the_clock_read(live) -> None:
    eng, _, stream, t0 = live
    eng._process([minute(t0 + 10 * MINUTE_MS)])  # ten minutes ahead of the tracked time
    assert eng._jump
    eng.feed.last_bars_at = 0.0  # type: ignore[union-attr]
    assert eng._clock_reason(1.0) == "a bar far from the expected time"

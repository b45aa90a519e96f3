"""The live engine's minute under broker errors, by category: a refusal (422 on submit, 403
buying power, a 404) never crashes the minute or the loop; a temporary error is logged and
the loop carries on; an operational error (401, an unusable journal) ends the run with
exit code 2. A real journal and strategy; the broker is an in-memory fake."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from common.bars import Bar
from common.calendar import MINUTE_MS, from_ms, nyse
from common.errors import (
    AuthError,
    NotFoundError,
    OperationalError,
    ServerError,
    TraderError,
    error_for_status,
)
from common.exit_codes import EXIT_OPERATOR
from common.minute import Minute
from common.rest_models import Account, BrokerClock, Order
from engine.app import EngineOptions, LiveEngine, run_live
from engine.decision import DecisionStep
from engine.eod import EndOfDay
from engine.execution import Executor
from engine.journal import Journal, JournalUnusableError
from engine.position_book import PositionBook
from engine.startup import Today
from engine.strategies import Signal
from tests.support import journal_reads as jr

PRICES = {"SPY": 500.0, "SPXL": 150.0, "SH": 40.0, "SDS": 20.0}
ACCOUNT = {"status": "ACTIVE", "cash": "100000", "equity": "100000", "last_equity": "100000"}


class FakeBroker:
    """The REST calls of an engine minute, from memory; ``fail[name]`` is raised by that call."""

    def __init__(self) -> None:
        self.fail: dict[str, TraderError] = {}
        self.submitted: list[dict[str, Any]] = []

    def _maybe_fail(self, name: str) -> None:
        if name in self.fail:
            raise self.fail[name]

    def get_clock(self) -> BrokerClock:
        self._maybe_fail("get_clock")
        raise AssertionError("the test does not look at the clock")

    def get_positions(self) -> list:
        self._maybe_fail("get_positions")
        return []

    def get_account(self) -> Account:
        self._maybe_fail("get_account")
        return Account.from_json(ACCOUNT)

    def submit_order(self, **kw: Any) -> Order:
        self.submitted.append(kw)
        self._maybe_fail("submit_order")
        raise AssertionError("every submit fails in these tests")

    def get_order(self, order_id: str) -> Order:
        raise NotFoundError(404, 40410000, "order not found")

    def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        return None

    def cancel_order(self, order_id: str) -> None:
        raise NotFoundError(404, 40410000, "order not found")

    def list_orders(self, **kw: Any) -> list[Order]:
        return []


def FakeMinute(t: int) -> Minute:
    """One grid minute of every symbol at ``PRICES`` (the shape ``DecisionStep`` reads)."""
    return Minute(t, {s: Bar(s, t, p, p, p, p, 1000.0) for s, p in PRICES.items()}, "fifo")


class FakeSignals:
    """Stands in for the warmed-up SignalEngine: SPY strong enough to enter BASE_BULL_3X."""

    symbols = tuple(PRICES)

    def update(self, minute: Minute) -> dict[str, Signal]:
        return {"SPY": Signal(0.62, 0.3)}


class FakeFeed:
    """The FIFO feed: hands out the queued minutes one poll at a time."""

    def __init__(self) -> None:
        self.queue: list[Minute] = []
        self.last_closes = dict(PRICES)
        self.last_t: int | None = None
        self.finished = False
        self.stats = FeedStats()
        self.reader = self

    def poll(self, timeout: float) -> list[Minute]:
        if not self.queue:
            return []
        m = self.queue.pop(0)
        self.last_t = m.t
        return [m]

    def close(self) -> None:
        pass


@dataclass
class FeedStats:
    batches: int = 0


@pytest.fixture
def engine(tmp_path: Path, psm_cfg, full_day):
    """A LiveEngine past its start-up at 10:00 of ``full_day``, on a FakeBroker."""
    cfg = psm_cfg()
    broker = FakeBroker()
    opts = EngineOptions(strategy="psm", fifo=tmp_path / "bars.fifo", log_dir=tmp_path / "logs",
                         poll_s=0.01)  # fmt: skip
    eng = LiveEngine(opts, cfg, broker, calendar=nyse(), monotonic=lambda: 0.0)  # type: ignore[arg-type]
    t0 = full_day.open_ms + 30 * MINUTE_MS
    clock = BrokerClock(from_ms(t0 + MINUTE_MS), True, from_ms(full_day.open_ms), from_ms(full_day.close_ms))
    eng.today = Today(t0 + MINUTE_MS, full_day.date, full_day, clock)
    opts.log_dir.mkdir()
    eng.journal = Journal(opts.journal_path, now_ms=eng.sim_now_ms)
    eng.executor = Executor(broker, eng.journal, "psm", full_day.date, book=PositionBook(),  # type: ignore[arg-type]
                            view=eng.view, now_ms=eng.sim_now_ms, on_event=eng._event)  # fmt: skip
    eng.step = DecisionStep(eng.strategy, cfg, full_day, signal_engine=FakeSignals(), guard=eng.guard)  # type: ignore[arg-type]
    eng.eod = EndOfDay(eng.executor, full_day, cfg.session, eng.guard, scope=eng.eod_scope)
    eng.feed = FakeFeed()  # type: ignore[assignment]
    eng.clock.observe_clock(t0 + MINUTE_MS, 0.0)  # the clock's duties are not under test:
    # time stands still at 10:01 (monotonic is frozen), so nothing asks the broker's clock
    eng.t0 = t0  # type: ignore[attr-defined]
    yield eng, broker
    eng._close()


def events(eng: LiveEngine, kind: str) -> list[dict]:
    assert eng.journal is not None and eng.today is not None
    return [e.detail for e in eng.journal.events(eng.name, eng.today.day, kind)]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (422, "qty must be > 0"),
        (403, "insufficient buying power"),
        (404, "asset not found"),
    ],
)
def test_a_refused_order_does_not_crash_the_minute(engine, status, message) -> None:
    eng, broker = engine
    broker.fail["submit_order"] = error_for_status(status, status * 100_000, message,
                                                   method="POST", path="/v2/orders")  # fmt: skip
    eng.feed.queue.append(FakeMinute(eng.t0))
    assert eng._tick() is None
    assert eng.counters.decided == 1 and eng.counters.errors == 0
    assert {o["symbol"] for o in broker.submitted} == {"SPY", "SPXL"}  # BASE_BULL_3X
    orders = jr.orders(eng.journal.path, "psm", eng.today.day)
    assert {o.status for o in orders} == {"rejected"} and len(orders) == 2
    assert all(f"HTTP {status}: {message}" in o.detail for o in orders)
    assert [d["client_order_id"] for d in events(eng, "order_rejected")] == [
        o.client_order_id for o in orders
    ]
    (d,) = jr.decisions(eng.journal.path, "psm", eng.today.day)
    assert d["summary"] == "BASE_BULL_3X"
    eng.feed.queue.append(FakeMinute(eng.t0 + MINUTE_MS))  # the next minute goes on as usual
    assert eng._tick() is None and eng.counters.decided == 2


def test_a_refusal_outside_an_order_is_journaled_and_the_loop_carries_on(engine) -> None:
    eng, broker = engine
    broker.fail["get_account"] = NotFoundError(404, 40410000, "account not found",
                                               method="GET", path="/v2/account")  # fmt: skip
    eng.feed.queue.append(FakeMinute(eng.t0))
    assert eng._tick() is None
    assert eng.counters.errors == 1 and eng.counters.decided == 0
    (refused,) = events(eng, "refused")
    assert "HTTP 404" in refused["error"] and refused["category"] == "NotFoundError"
    del broker.fail["get_account"]
    broker.fail["submit_order"] = error_for_status(422, None, "no")
    eng.feed.queue.append(FakeMinute(eng.t0 + MINUTE_MS))
    assert eng._tick() is None and eng.counters.decided == 1


def test_a_temporary_error_is_logged_and_the_loop_carries_on(engine, caplog) -> None:
    eng, broker = engine
    broker.fail["get_positions"] = ServerError(503, None, "busy", method="GET", path="/v2/positions")
    eng.feed.queue.append(FakeMinute(eng.t0))
    assert eng._tick() is None
    assert eng.counters.errors == 1 and events(eng, "error") and not events(eng, "refused")
    assert "broker trouble, carrying on: GET /v2/positions: HTTP 503" in caplog.text


def test_refused_keys_end_the_loop_as_an_operator_error(engine) -> None:
    eng, broker = engine
    broker.fail["get_account"] = AuthError(401, 40110000, "request is not authorized")
    eng.feed.queue.append(FakeMinute(eng.t0))
    with pytest.raises(OperationalError):
        eng._tick()


def test_a_journal_that_fills_the_disk_ends_the_loop_as_an_operator_error(engine) -> None:
    eng, broker = engine
    # the intents are small and may still fit: the orders then reach the broker (refused
    # here), and the decision written after them meets the full disk
    broker.fail["submit_order"] = error_for_status(403, None, "insufficient buying power")
    db = eng.journal._db
    db.execute(f"PRAGMA max_page_count={db.execute('PRAGMA page_count').fetchone()[0] + 2}")
    for pad in (2000, 200, 10):  # fill the minute's tables to their last bytes, as a full disk would
        with pytest.raises(JournalUnusableError, match="database or disk is full"):
            while True:
                filler = {"x": "x" * pad}
                eng.journal.record_minute("other", eng.today.day, 0, "", {}, {}, filler, filler)
    eng.feed.queue.append(FakeMinute(eng.t0))
    with pytest.raises(JournalUnusableError, match="database or disk is full"):
        eng._tick()


@pytest.mark.parametrize("status", [401, 403])
def test_run_live_exits_2_when_start_up_is_refused_or_needs_the_operator(
    tmp_path: Path, psm_cfg, status, caplog
) -> None:
    broker = FakeBroker()
    broker.fail["get_clock"] = error_for_status(status, None, "no", method="GET", path="/v2/clock")
    opts = EngineOptions(strategy="psm", fifo=tmp_path / "bars.fifo", log_dir=tmp_path / "logs")
    assert run_live(opts, psm_cfg(), broker) == EXIT_OPERATOR  # type: ignore[arg-type]
    assert "the engine needs the operator" in caplog.text and f"HTTP {status}" in caplog.text

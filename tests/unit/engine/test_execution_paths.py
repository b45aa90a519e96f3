"""Executor paths on a fake broker, one behaviour each: which fill is journaled from which
report (execution id, price, time, source), the pending quantities per symbol, the cancel
filters, the answers of a submit (accepted, refused, temporary error, duplicate id), the
refresh of an order the broker no longer knows, and the events reported on the way."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from common.errors import (
    DuplicateClientOrderIdError,
    ForbiddenError,
    NetworkError,
    NotFoundError,
    RefusedError,
    ServerError,
    UnprocessableError,
)
from common.quantities import QTY_EPS
from common.rest_models import Order
from engine.broker_view import BrokerView
from engine.execution import Executor, Sent
from engine.journal import Journal
from engine.order_plan import OrderPlan, PlannedOrder
from engine.position_book import PositionBook
from engine.trade_events import TradeEvent
from tests.support import journal_reads as jr

DAY = date(2025, 10, 16)
T = 1_760_623_200_000  # 10:00 EDT
NOW = T + 90_000
FILLED_AT = "2025-10-16T14:01:05Z"
FILLED_AT_MS = 1_760_623_265_000


def cid(symbol: str, side: str = "b", minute: str = "1000", seq: int = 0) -> str:
    return f"it-rot-20251016-{minute}-{symbol}-{side}-{seq}"


def order(client_order_id: str, *, oid: str | None = "b-1", symbol: str = "TQQQ", side: str = "buy",
          qty: float = 100, filled: float = 0, avg: float | None = None, status: str = "new",
          **extra: Any) -> Order:  # fmt: skip
    return Order.from_json({
        "id": oid, "client_order_id": client_order_id, "symbol": symbol, "side": side,
        "qty": str(qty), "filled_qty": str(filled), "filled_avg_price": None if avg is None else str(avg),
        "status": status, "type": "market", "time_in_force": "day",
        "created_at": "2025-10-16T14:00:01Z", **extra,
    })  # fmt: skip


class Broker:
    """The REST client's part the executor uses, in memory: every call is recorded; a
    submit answers ``accepted`` (or raises ``submit_error``); ``cancel_error`` maps a broker
    id to what its cancel raises; ``forget`` drops an order (a 404 by id, None by client id)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.orders: dict[str, Order] = {}
        self.submit_error: Exception | None = None
        self.submit_kwargs: list[dict[str, Any]] = []
        self.cancel_error: dict[str, Exception] = {}
        self.get_error: Exception | None = None
        self._n = 0

    def put(self, o: Order) -> Order:
        self.orders[o.id] = o
        return o

    def submit_order(self, **kw: Any) -> Order:
        self.calls.append(("submit", kw["client_order_id"]))
        self.submit_kwargs.append(kw)
        if self.submit_error is not None:
            raise self.submit_error
        self._n += 1
        return self.put(order(kw["client_order_id"], oid=f"s-{self._n}", symbol=kw["symbol"],
                              side=kw["side"], qty=kw["qty"], status="accepted"))  # fmt: skip

    def get_order(self, order_id: str) -> Order:
        self.calls.append(("get", order_id))
        if self.get_error is not None:
            raise self.get_error
        if order_id not in self.orders:
            raise NotFoundError(404, 40410000, "order not found")
        return self.orders[order_id]

    def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        self.calls.append(("get_by_cid", client_order_id))
        if self.get_error is not None:
            raise self.get_error
        return next((o for o in self.orders.values() if o.client_order_id == client_order_id), None)

    def cancel_order(self, order_id: str) -> None:
        self.calls.append(("cancel", order_id))
        if order_id in self.cancel_error:
            raise self.cancel_error[order_id]
        o = self.orders[order_id]
        self.put(order(o.client_order_id, oid=o.id, symbol=o.symbol, side=o.side, qty=o.qty or 0,
                       filled=o.filled_qty, avg=o.filled_avg_price, status="canceled"))  # fmt: skip

    def list_orders(self, **kw: Any) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open]

    def forget(self, order_id: str) -> None:
        del self.orders[order_id]


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.journal = Journal(tmp_path / "journal.sqlite", now_ms=lambda: NOW)
        self.broker = Broker()
        self.view = BrokerView()
        self.view.seed([], cash=100_000.0, start_equity=100_000.0)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.ex = Executor(self.broker, self.journal, "rotation", DAY, book=PositionBook(), view=self.view,  # type: ignore[arg-type]
                           now_ms=lambda: NOW, on_event=lambda k, d: self.events.append((k, d)))  # fmt: skip

    def intent(self, client_order_id: str, symbol: str = "TQQQ", side: str = "buy", qty: float = 100,
               strategy: str = "rotation") -> str:  # fmt: skip
        self.journal.record_intent(client_order_id, strategy=strategy, session_date=DAY, t_ms=T,
                                   symbol=symbol, side=side, qty=qty)  # fmt: skip
        return client_order_id

    def working(self, client_order_id: str, oid: str, symbol: str = "TQQQ", side: str = "buy",
                qty: float = 100, filled: float = 0, avg: float | None = None) -> Order:  # fmt: skip
        """An order journaled, sent and known to the broker under ``oid``."""
        self.intent(client_order_id, symbol, side, qty)
        o = self.broker.put(order(client_order_id, oid=oid, symbol=symbol, side=side, qty=qty,
                                  filled=filled, avg=avg, status="partially_filled" if filled else "new"))  # fmt: skip
        self.ex.apply(o, source="response")
        return o

    def fills(self) -> list[Any]:
        return jr.fills(self.journal.path, "rotation", DAY)


@pytest.fixture
def rig(tmp_path: Path):
    r = Rig(tmp_path)
    yield r
    r.journal.close()


def fill_event(o: Order, exec_id: str | None, qty: float | None, price: float | None,
               t_ms: int | None = T + 61_000) -> TradeEvent:  # fmt: skip
    kind = "fill" if o.status == "filled" else "partial_fill"
    return TradeEvent(kind, o, exec_id, qty, price, t_ms, None)


def lines(caplog) -> list[tuple[str, str]]:
    """What the executor logged: (level, message), in order."""
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "engine.execution"]


# ---------------------------------------------------------------- which fill is journaled


def test_a_stream_fill_is_journaled_under_its_execution_id_at_the_execution_s_own_price(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    o = order(c, filled=40, avg=50.0, status="partially_filled")  # the broker's average is rounded
    f = rig.ex.apply_event(fill_event(o, "x-1", 40, 50.0037, t_ms=T + 61_500))
    assert f is not None
    assert (f.execution_id, f.qty, f.price, f.cum_qty, f.t_ms, f.source) == ("x-1", 40, 50.0037, 40, T + 61_500, "stream")
    assert f.broker_order_id == "b-1" and f.symbol == "TQQQ" and f.side == "buy"
    (row,) = rig.fills()
    assert (row.execution_id, row.price, row.broker_order_id, row.t_ms) == ("x-1", 50.0037, "b-1", T + 61_500)
    assert rig.ex.book.qty("TQQQ") == 40 and rig.view.quantities() == {"TQQQ": 40}
    assert rig.view.cash == pytest.approx(100_000 - 40 * 50.0037)


def test_an_execution_id_seen_before_never_counts_twice_even_with_a_larger_cumulative(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    first = rig.ex.apply_event(fill_event(order(c, filled=40, avg=50.0, status="partially_filled"), "x-1", 40, 50.0))
    again = rig.ex.apply_event(fill_event(order(c, filled=70, avg=50.0, status="partially_filled"), "x-1", 40, 50.0))
    assert first is not None and again is None  # the id is the execution: replayed, not new
    later = rig.ex.apply_event(fill_event(order(c, filled=100, avg=50.3, status="filled"), "x-2", 60, 50.5))
    assert later is not None and (later.execution_id, later.qty, later.price) == ("x-2", 60, 50.5)
    assert [(f.execution_id, f.qty) for f in rig.fills()] == [("x-1", 40), ("x-2", 60)]
    assert rig.ex.book.qty("TQQQ") == 100 and rig.journal.order(c).status == "filled"


def test_a_fill_event_whose_order_has_no_average_is_priced_by_its_execution(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    f = rig.ex.apply_event(fill_event(order(c, filled=25, status="partially_filled"), "x-1", 25, 49.5))
    assert f is not None and (f.execution_id, f.qty, f.price) == ("x-1", 25, 49.5)


def test_a_fill_event_without_a_usable_execution_is_priced_by_the_order_s_average(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    f = rig.ex.apply_event(fill_event(order(c, filled=30, avg=48.0, status="partially_filled"), "x-1", None, None))
    assert f is not None and (f.execution_id, f.qty, f.price, f.source) == ("x-1", 30, 48.0, "stream")
    bare = rig.intent(cid("SSO"), symbol="SSO", qty=10)
    nothing = rig.ex.apply_event(fill_event(order(bare, oid="b-2", symbol="SSO", qty=10, filled=10, status="filled"),
                                            "x-9", None, None))  # fmt: skip
    assert nothing is None  # neither an execution nor an average: no price to journal
    assert [f.execution_id for f in rig.fills()] == ["x-1"]


def test_a_report_without_an_execution_id_journals_its_cumulative_progress(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    f = rig.ex.apply(order(c, filled=40, avg=50.0, status="partially_filled"), execution=None, execution_id=None,
                     t_ms=T + 70_000, source="poll")  # fmt: skip
    assert f is not None and (f.execution_id, f.qty, f.price, f.t_ms, f.source) == ("poll:b-1:40", 40, 50.0, T + 70_000, "poll")
    assert rig.fills()[0].broker_order_id == "b-1"


def test_a_report_with_an_execution_id_keeps_the_source_it_names(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    f = rig.ex.apply(order(c, filled=40, avg=50.0, status="partially_filled"), execution_id="x-5", source="poll")
    assert f is not None and (f.execution_id, f.source, f.price) == ("x-5", "poll", 50.0)


def test_nothing_filled_journals_no_fill(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    assert rig.ex.apply_event(fill_event(order(c, filled=0, status="new"), "x-1", 1, 50.0)) is None
    assert rig.ex.apply(order(c, filled=QTY_EPS, avg=50.0, status="partially_filled")) is None  # dust
    assert rig.fills() == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"filled_at": FILLED_AT, "updated_at": "2025-10-16T14:09:00Z"}, FILLED_AT_MS),
        ({"updated_at": FILLED_AT}, FILLED_AT_MS),
        ({"updated_at": "yesterday"}, NOW),
        ({"updated_at": 1_760_623_265}, NOW),
        ({}, NOW),
    ],
    ids=["filled_at", "updated_at", "unreadable", "not a string", "none"],
)
def test_a_fill_from_a_poll_is_dated_by_the_broker_s_fill_time_else_by_the_clock(rig, extra, expected) -> None:
    c = rig.intent(cid("TQQQ"))
    f = rig.ex.apply(order(c, filled=100, avg=50.0, status="filled", **extra))
    assert f is not None and f.t_ms == expected and rig.fills()[0].t_ms == expected


def test_an_event_s_time_dates_its_fill_even_when_the_order_has_a_fill_time(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    o = order(c, filled=100, avg=50.0, status="filled", filled_at=FILLED_AT)
    f = rig.ex.apply_event(fill_event(o, "x-1", 100, 50.0, t_ms=T + 99_000))
    assert f is not None and f.t_ms == T + 99_000


# ---------------------------------------------------------------- statuses


def test_a_report_moves_the_journal_s_status_broker_id_and_fill_figures(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    rig.ex.apply(order(c, oid="b-7", status="accepted"), source="response")
    rec = rig.journal.order(c)
    assert (rec.status, rec.broker_order_id, rec.filled_qty, rec.filled_avg_price) == ("accepted", "b-7", 0, None)
    rig.ex.apply(order(c, oid="b-7", filled=100, avg=50.25, status="filled"))
    rec = rig.journal.order(c)
    assert (rec.status, rec.filled_qty, rec.filled_avg_price) == ("filled", 100, 50.25)


def test_a_report_one_share_behind_the_journal_is_stale_and_within_tolerance_is_not(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    rig.ex.apply(order(c, filled=40, avg=50.0, status="partially_filled"))
    rig.ex.apply(order(c, filled=39, avg=50.0, status="new"))  # behind: not applied
    assert rig.journal.order(c).status == "partially_filled"
    rig.ex.apply(order(c, filled=40 - QTY_EPS, avg=50.0, status="pending_cancel"))  # the same quantity
    assert rig.journal.order(c).status == "pending_cancel"


def test_a_working_report_within_tolerance_of_a_finished_order_s_fill_is_stale(rig, caplog) -> None:
    c = rig.intent(cid("TQQQ"))
    rig.ex.apply(order(c, filled=40, avg=50.0, status="canceled"))
    rig.ex.apply(order(c, filled=40, avg=50.0, status="new"))  # the stream's late "new"
    rig.ex.apply(order(c, filled=40 + QTY_EPS, avg=50.0, status="partially_filled"))
    assert rig.journal.order(c).status == "canceled"
    assert "illegal status move" not in caplog.text  # recognised as old news, not a conflict


def test_a_rejection_is_reported_once(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    rig.ex.apply(order(c, status="rejected"))
    rig.ex.apply(order(c, status="rejected"))  # polled again: nothing new
    assert rig.events == [("order_rejected", {"client_order_id": c})]
    other = rig.intent(cid("SSO"), symbol="SSO")
    rig.ex.apply(order(other, oid="b-2", symbol="SSO", status="canceled"))
    rig.ex.apply(order(other, oid="b-2", symbol="SSO", status="rejected"))  # refused: it is finished
    assert rig.events == [("order_rejected", {"client_order_id": c})]
    assert rig.journal.order(other).status == "canceled"


def test_an_executor_without_a_view_or_book_makes_its_own_book_and_reads_the_journal_clock(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", now_ms=lambda: NOW)
    try:
        ex = Executor(Broker(), journal, "rotation", DAY)  # type: ignore[arg-type]
        assert isinstance(ex.book, PositionBook) and ex.view is None and ex.now_ms() == NOW
        book = PositionBook()
        assert Executor(Broker(), journal, "rotation", DAY, book=book).book is book  # type: ignore[arg-type]
        journal.record_intent(cid("TQQQ"), strategy="rotation", session_date=DAY, t_ms=T, symbol="TQQQ",
                              side="buy", qty=10)  # fmt: skip
        f = ex.apply(order(cid("TQQQ"), qty=10, filled=10, avg=50.0, status="filled"))
        assert f is not None and f.t_ms == NOW and ex.book.qty("TQQQ") == 10
    finally:
        journal.close()


# ---------------------------------------------------------------- pending


def test_pending_sums_what_open_orders_still_add_per_symbol_buys_up_sells_down(rig) -> None:
    rig.working(cid("TQQQ"), "b-1", qty=10)
    rig.working(cid("TQQQ", seq=1), "b-2", qty=5, filled=2, avg=50.0)  # 3 left
    rig.working(cid("SSO", "s"), "b-3", symbol="SSO", side="sell", qty=4)
    rig.working(cid("SSO", "s", seq=1), "b-4", symbol="SSO", side="sell", qty=6, filled=1, avg=90.0)
    rig.intent(cid("TNA"), symbol="TNA", qty=7)  # journaled, not answered yet: it may exist
    rig.working(cid("FAS"), "b-5", symbol="FAS", qty=3, filled=3, avg=100.0)  # fully filled: nothing
    rig.intent("it-psm-20251016-1000-UPRO-b-0", symbol="UPRO", qty=9, strategy="psm")  # another strategy's
    assert rig.ex.pending() == {"TQQQ": 13.0, "SSO": -9.0, "TNA": 7.0}


def test_pending_ignores_a_remainder_of_qty_eps(rig) -> None:
    rig.working(cid("TQQQ"), "b-1", qty=2 * QTY_EPS, filled=QTY_EPS, avg=50.0)
    rec = rig.journal.order(cid("TQQQ"))
    assert rec.is_open and rec.remaining_qty == QTY_EPS
    assert rig.ex.pending() == {}


def test_open_records_are_the_strategy_s_own(rig) -> None:
    mine = rig.intent(cid("TQQQ"))
    rig.intent("it-psm-20251016-1000-UPRO-b-0", symbol="UPRO", strategy="psm")
    assert [r.client_order_id for r in rig.ex.open_records()] == [mine]


# ---------------------------------------------------------------- cancels


def test_cancel_matching_filters_by_symbol_and_by_side(rig) -> None:
    rig.working(cid("TQQQ"), "b-1")
    rig.working(cid("TQQQ", "s"), "b-2", side="sell", qty=5)
    rig.working(cid("SSO"), "b-3", symbol="SSO")
    rig.working(cid("SSO", "s"), "b-4", symbol="SSO", side="sell")
    assert rig.ex.cancel_matching("TQQQ", "buy") == [cid("TQQQ")]
    assert rig.ex.cancel_matching(side="sell") == [cid("SSO", "s"), cid("TQQQ", "s")]
    assert [c for c in rig.broker.calls if c[0] == "cancel"] == [("cancel", "b-1"), ("cancel", "b-4"), ("cancel", "b-2")]
    assert rig.ex.cancel_matching("SSO") == [cid("SSO")]
    assert rig.ex.open_records() == []


def test_a_plan_cancels_only_the_side_and_symbol_it_names(rig) -> None:
    rig.working(cid("TQQQ"), "b-1")
    rig.working(cid("TQQQ", "s"), "b-2", side="sell", qty=5)
    rig.working(cid("SSO"), "b-3", symbol="SSO")
    plan = OrderPlan(T + 60_000, (), cancels=(("TQQQ", "buy"),))
    sent = rig.ex.execute(plan)
    assert sent.canceled == [cid("TQQQ")]
    assert {r.client_order_id for r in rig.ex.open_records()} == {cid("TQQQ", "s"), cid("SSO")}
    assert ("cancel", "b-2") not in rig.broker.calls and ("cancel", "b-3") not in rig.broker.calls


def test_a_cancel_that_fails_for_now_is_skipped_and_the_others_go_on(rig, caplog) -> None:
    rig.working(cid("TQQQ"), "b-1")
    rig.working(cid("TQQQ", seq=1), "b-2")
    rig.broker.cancel_error["b-1"] = NetworkError("read timed out")
    assert rig.ex.cancel_matching("TQQQ") == [cid("TQQQ", seq=1)]
    assert f"cannot cancel {cid('TQQQ')} now" in caplog.text
    rig.broker.cancel_error["b-1"] = ForbiddenError(403, 40310000, "forbidden")
    plan = OrderPlan(T + 60_000, (PlannedOrder("SSO", "buy", 1, cid("SSO", minute="1001"), False, "enter"),),
                     cancels=(("TQQQ", "buy"),))  # fmt: skip
    sent = rig.ex.execute(plan)
    assert sent.canceled == [] and sent.submitted == [cid("SSO", minute="1001")]  # the plan goes on
    assert rig.journal.order(cid("TQQQ")).is_open


def test_a_cancel_the_broker_answers_with_422_or_404_is_read_back(rig) -> None:
    rig.working(cid("TQQQ"), "b-1")
    rig.broker.put(order(cid("TQQQ"), oid="b-1", filled=100, avg=50.0, status="filled"))
    rig.broker.cancel_error["b-1"] = UnprocessableError(422, 42210000, 'order is already in "filled" state')
    assert rig.ex.cancel(rig.journal.order(cid("TQQQ"))) is True  # done: it filled meanwhile
    assert rig.journal.order(cid("TQQQ")).status == "filled" and rig.ex.book.qty("TQQQ") == 100


def test_a_cancel_the_broker_ignores_leaves_the_order_working(rig) -> None:
    rig.working(cid("TQQQ"), "b-1")
    rig.broker.cancel_error["b-1"] = NotFoundError(404, 40410000, "order not found")  # and it stays new
    assert rig.ex.cancel(rig.journal.order(cid("TQQQ"))) is False
    assert rig.ex.cancel_matching("TQQQ") == []
    assert rig.journal.order(cid("TQQQ")).status == "new"


def test_an_order_without_a_broker_id_is_looked_up_before_it_is_canceled(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    rig.broker.put(order(c, oid="b-1"))  # the broker has it; the journal never got the answer
    assert rig.ex.cancel(rig.journal.order(c)) is True
    assert rig.broker.calls == [("get_by_cid", c), ("cancel", "b-1"), ("get", "b-1")]
    assert rig.journal.order(c).status == "canceled"


def test_an_order_without_a_broker_id_that_finished_meanwhile_is_not_canceled(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    rig.broker.put(order(c, oid="b-1", filled=100, avg=50.0, status="filled"))
    assert rig.ex.cancel(rig.journal.order(c)) is True
    assert rig.broker.calls == [("get_by_cid", c)]
    sent = rig.ex.execute(OrderPlan(T + 60_000, (), cancels=(("TQQQ", "buy"),)))
    assert sent.canceled == []  # nothing open left to cancel


def test_an_order_the_broker_never_got_is_journaled_lost_when_canceled(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    sent = rig.ex.execute(OrderPlan(T + 60_000, (), cancels=(("TQQQ", "buy"),)))
    assert sent.canceled == [c]
    assert rig.journal.order(c).status == "lost" and rig.broker.calls == [("get_by_cid", c)]


def test_an_order_whose_answer_is_still_unknown_stays_open_and_is_not_canceled_blind(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    rig.broker.get_error = ServerError(503, None, "unavailable")
    sent = rig.ex.execute(OrderPlan(T + 60_000, (), cancels=(("TQQQ", "buy"),)))
    assert sent.canceled == [] and rig.journal.order(c).is_open
    assert all(call[0] != "cancel" for call in rig.broker.calls)


def test_a_cancel_read_back_that_fails_for_now_is_logged(rig, caplog) -> None:
    rig.working(cid("TQQQ"), "b-1")
    real_get = rig.broker.get_order

    def get_order(order_id: str) -> Order:
        raise NetworkError("read timed out")

    rig.broker.get_order = get_order  # type: ignore[method-assign]
    sent = rig.ex.execute(OrderPlan(T + 60_000, (), cancels=(("TQQQ", "buy"),)))
    assert sent.canceled == [] and f"cannot read back the cancel of {cid('TQQQ')} now" in caplog.text
    rig.broker.get_order = real_get  # type: ignore[method-assign]
    assert rig.ex.poll() == [] and rig.journal.order(cid("TQQQ")).status == "canceled"


# ---------------------------------------------------------------- refresh, poll, settle


def test_an_order_the_broker_lost_by_id_is_found_by_client_id(rig) -> None:
    o = rig.working(cid("TQQQ"), "b-1")
    rig.broker.forget("b-1")
    rig.broker.put(order(o.client_order_id, oid="b-1b", filled=100, avg=50.0, status="filled"))
    (f,) = rig.ex.poll()
    assert f.qty == 100 and rig.broker.calls[-2:] == [("get", "b-1"), ("get_by_cid", cid("TQQQ"))]


def test_an_order_the_broker_does_not_know_is_journaled_lost_and_reported(rig, caplog) -> None:
    sent_before = rig.working(cid("TQQQ"), "b-1")
    rig.broker.forget(sent_before.id)
    never = rig.intent(cid("SSO"), symbol="SSO")
    assert rig.ex.poll() == []
    for c in (cid("TQQQ"), never):
        rec = rig.journal.order(c)
        assert (rec.status, rec.detail) == ("lost", "not found at the broker")
    assert rig.events == [("order_lost", {"client_order_id": never}), ("order_lost", {"client_order_id": cid("TQQQ")})]
    assert lines(caplog)[-2:] == [("WARNING", f"order {never} (intent) never reached the broker: journaled as lost"),
                                  ("ERROR", f"order {cid('TQQQ')} (b-1) is unknown to the broker")]  # fmt: skip


def test_poll_journals_every_new_fill_and_skips_an_order_it_cannot_read_now(rig, caplog) -> None:
    rig.working(cid("TQQQ"), "b-1")
    rig.working(cid("SSO"), "b-2", symbol="SSO")
    rig.working(cid("TNA"), "b-3", symbol="TNA")
    rig.broker.put(order(cid("TQQQ"), oid="b-1", filled=100, avg=50.0, status="filled"))
    rig.broker.put(order(cid("TNA"), oid="b-3", symbol="TNA", filled=100, avg=30.0, status="filled"))
    real_get = rig.broker.get_order

    def get_order(order_id: str) -> Order:
        if order_id == "b-2":
            raise NetworkError("read timed out")
        return real_get(order_id)

    rig.broker.get_order = get_order  # type: ignore[method-assign]
    fills = rig.ex.poll()
    assert [(f.symbol, f.qty) for f in fills] == [("TNA", 100), ("TQQQ", 100)]
    assert ("WARNING", f"cannot refresh order {cid('SSO')} now: read timed out") in lines(caplog)
    assert rig.journal.order(cid("SSO")).status == "new"


def test_settle_resolves_every_open_order_with_the_broker(rig, caplog) -> None:
    caplog.set_level("INFO", logger="engine.execution")
    rig.working(cid("TQQQ"), "b-1")
    rig.broker.put(order(cid("TQQQ"), oid="b-1", filled=100, avg=50.0, status="filled"))
    (f,) = rig.ex.settle()
    assert f.qty == 100 and ("INFO", "settling 1 open journal order(s) with the broker") in lines(caplog)
    caplog.clear()
    assert rig.ex.settle() == [] and "settling" not in caplog.text


# ---------------------------------------------------------------- sending


def plan_of(*orders: PlannedOrder, t: int = T + 60_000) -> OrderPlan:
    return OrderPlan(t, tuple(orders))


def test_an_order_is_sent_as_a_market_day_order_under_its_id_and_its_answer_journaled(rig) -> None:
    c = cid("TQQQ", minute="1001")
    sent = rig.ex.execute(plan_of(PlannedOrder("TQQQ", "buy", 12, c, False, "enter")))
    assert rig.broker.submit_kwargs == [{"symbol": "TQQQ", "qty": 12, "side": "buy", "type": "market",
                                         "time_in_force": "day", "client_order_id": c}]  # fmt: skip
    assert sent.submitted == [c] and sent.count == 1 and sent.fills == []
    rec = rig.journal.order(c)
    assert (rec.status, rec.broker_order_id, rec.reason, rec.t_ms) == ("accepted", "s-1", "enter", T + 60_000)


def test_an_answer_that_filled_already_is_journaled_as_a_response_fill(rig) -> None:
    c = cid("TQQQ", minute="1001")

    def submit(**kw: Any) -> Order:
        rig.broker.calls.append(("submit", kw["client_order_id"]))
        return rig.broker.put(order(c, oid="s-1", qty=12, filled=12, avg=50.0, status="filled"))

    rig.broker.submit_order = submit  # type: ignore[method-assign]
    sent = rig.ex.execute(plan_of(PlannedOrder("TQQQ", "buy", 12, c, False, "enter")))
    assert [(f.qty, f.source) for f in sent.fills] == [(12, "response")]
    assert rig.fills()[0].source == "response"


@pytest.mark.parametrize(
    ("error", "why"),
    [
        (ForbiddenError(403, 40310000, "insufficient buying power"), "HTTP 403: insufficient buying power"),
        (UnprocessableError(422, 42210000, "qty must be > 0"), "HTTP 422: qty must be > 0"),
        (RefusedError("symbol is not tradable"), "symbol is not tradable"),
        (DuplicateClientOrderIdError(422, 40010001, "client_order_id must be unique"),
         "client_order_id conflict: client_order_id must be unique"),
    ],
    ids=["403", "422", "refused", "duplicate"],
)
def test_a_refused_order_is_journaled_rejected_with_why_and_reported(rig, caplog, error, why) -> None:
    c = cid("TQQQ", minute="1001")
    rig.broker.submit_error = error
    sent = rig.ex.execute(plan_of(PlannedOrder("TQQQ", "buy", 12, c, False, "enter")))
    assert sent.rejected == [c] and sent.submitted == sent.unknown == [] and sent.count == 1
    rec = rig.journal.order(c)
    assert (rec.status, rec.detail) == ("rejected", why)
    assert rig.events == [("order_rejected", {"client_order_id": c, "why": why})]
    assert f"order {c} refused: {why}" in caplog.text


def test_a_refusal_s_reason_is_journaled_cut_to_500_characters(rig) -> None:
    c = cid("TQQQ", minute="1001")
    rig.broker.submit_error = RefusedError("x" * 600)
    rig.ex.execute(plan_of(PlannedOrder("TQQQ", "buy", 12, c, False, "enter")))
    assert rig.journal.order(c).detail == "x" * 500


def test_a_temporary_error_leaves_the_outcome_unknown_never_resent(rig, caplog) -> None:
    c = cid("TQQQ", minute="1001")
    rig.broker.submit_error = ServerError(503, None, "y" * 600)
    sent = rig.ex.execute(plan_of(PlannedOrder("TQQQ", "buy", 12, c, False, "enter")))
    assert sent.unknown == [c] and sent.submitted == sent.rejected == [] and sent.count == 1
    rec = rig.journal.order(c)
    assert rec.status == "unknown" and rec.detail == str(rig.broker.submit_error)[:500] and len(rec.detail) == 500
    assert f"order {c}: outcome unknown" in caplog.text and rig.events == []
    rig.broker.submit_error = None
    rig.broker.put(order(c, oid="s-9", qty=12, status="new"))  # the broker did get it
    again = rig.ex.execute(plan_of(PlannedOrder("TQQQ", "buy", 12, c, False, "enter")))
    assert again.skipped == [c] and [k for k, _ in rig.broker.calls].count("submit") == 1
    assert rig.journal.order(c).status == "new"


def test_an_intent_journaled_and_finished_before_is_skipped_without_a_read(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    rig.ex.apply(order(c, filled=100, avg=50.0, status="filled"))
    rig.broker.calls.clear()
    sent = rig.ex.execute(plan_of(PlannedOrder("TQQQ", "buy", 100, c, False, "enter"), t=T))
    assert sent.skipped == [c] and sent.fills == [] and rig.broker.calls == []


def test_an_intent_journaled_before_whose_fill_comes_now_reports_it(rig) -> None:
    rig.working(cid("TQQQ"), "b-1")
    rig.broker.put(order(cid("TQQQ"), oid="b-1", filled=100, avg=50.0, status="filled"))
    sent = rig.ex.execute(plan_of(PlannedOrder("TQQQ", "buy", 100, cid("TQQQ"), False, "enter"), t=T))
    assert sent.skipped == [cid("TQQQ")] and [f.qty for f in sent.fills] == [100]


def test_sent_counts_the_orders_that_reached_or_may_have_reached_the_broker() -> None:
    s = Sent(submitted=["a", "b"], rejected=["c"], unknown=["d"], skipped=["e"], canceled=["f"])
    assert s.count == 4


# ---------------------------------------------------------------- adopting the broker's open orders


def test_open_orders_of_ours_the_journal_lost_are_adopted_as_they_are(rig, caplog) -> None:
    caplog.set_level("INFO", logger="engine.execution")
    known = rig.working(cid("TQQQ"), "b-1")
    lost_buy = order(cid("SSO"), oid="b-2", symbol="SSO", qty=10, filled=4, avg=90.0, status="partially_filled")
    lost_sell = order(cid("TNA", "s"), oid="b-3", symbol="TNA", side="sell", qty=2.5)
    notional = order(cid("FAS"), oid="b-4", symbol="FAS", qty=0)
    rig.broker.calls.clear()
    assert rig.ex.adopt([known, lost_buy, notional, lost_sell], t_ms=T + 120_000) == 2
    buy, sell = rig.journal.order(cid("SSO")), rig.journal.order(cid("TNA", "s"))
    assert (buy.strategy, buy.session_date, buy.t_ms, buy.symbol, buy.side, buy.qty, buy.reason) == (
        "rotation", DAY, T + 120_000, "SSO", "buy", 10, "adopted at start-up")  # fmt: skip
    assert (buy.status, buy.broker_order_id, buy.filled_qty) == ("partially_filled", "b-2", 4)
    assert (sell.side, sell.qty, sell.status, sell.broker_order_id) == ("sell", 2.5, "new", "b-3")
    assert rig.journal.order(cid("FAS")) is None and rig.ex.book.qty("SSO") == 4
    assert rig.broker.calls == []  # the broker's word was given: nothing read again
    assert ("INFO", f"adopted open order {cid('SSO')} buy 10 SSO") in lines(caplog)
    assert rig.ex.adopt([lost_buy], t_ms=T + 180_000) == 0  # journaled now


def test_a_fill_with_no_time_of_its_own_is_dated_by_the_executor_s_clock_not_the_journal_s(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite", now_ms=lambda: NOW)
    try:
        ex = Executor(Broker(), journal, "rotation", DAY, now_ms=lambda: T + 5)  # type: ignore[arg-type]
        journal.record_intent(cid("TQQQ"), strategy="rotation", session_date=DAY, t_ms=T, symbol="TQQQ",
                              side="buy", qty=10)  # fmt: skip
        f = ex.apply(order(cid("TQQQ"), qty=10, filled=10, avg=50.0, status="filled"))
        assert f is not None and f.t_ms == T + 5
    finally:
        journal.close()


def test_a_cancel_found_finished_while_asking_counts_at_once_the_others_after_the_read_back(rig) -> None:
    rig.working(cid("TQQQ"), "b-1")  # known to the broker: canceled, read back after the sends
    late = rig.intent(cid("TQQQ", seq=1))  # its answer was lost; the broker filled it meanwhile
    rig.broker.put(order(late, oid="b-2", filled=100, avg=50.0, status="filled"))
    sent = rig.ex.execute(OrderPlan(T + 60_000, (), cancels=(("TQQQ", "buy"),)))
    assert sent.canceled == [late, cid("TQQQ")]
    assert rig.broker.calls == [("cancel", "b-1"), ("get_by_cid", late), ("get", "b-1")]


def test_a_plan_whose_first_cancel_fails_still_asks_the_next(rig) -> None:
    rig.working(cid("TQQQ"), "b-1")
    rig.working(cid("TQQQ", seq=1), "b-2")
    rig.broker.cancel_error["b-1"] = NetworkError("read timed out")
    sent = rig.ex.execute(OrderPlan(T + 60_000, (), cancels=(("TQQQ", "buy"),)))
    assert sent.canceled == [cid("TQQQ", seq=1)] and rig.journal.order(cid("TQQQ")).is_open


def test_each_send_passes_its_crash_points_around_the_request(rig, monkeypatch) -> None:
    import engine.execution as execution_module

    seen: list[tuple[str, str, int]] = []
    c = cid("TQQQ", minute="1001")
    monkeypatch.setattr(execution_module, "crash_point", lambda name: seen.append(
        (name, rig.journal.order(c).status, len(rig.broker.submit_kwargs))))  # fmt: skip
    rig.ex.execute(plan_of(PlannedOrder("TQQQ", "buy", 12, c, False, "enter")))
    assert seen == [("before_send", "intent", 0), ("after_send", "intent", 1)]  # answer not journaled yet


# ---------------------------------------------------------------- what the operator reads



def test_the_log_tells_each_send_its_answer_and_each_fill(rig, caplog) -> None:
    caplog.set_level("DEBUG", logger="engine.execution")
    ok, refused, unsure = cid("TQQQ", minute="1001"), cid("SSO", minute="1001"), cid("TNA", minute="1001")
    real_submit = rig.broker.submit_order

    def submit(**kw: Any) -> Order:
        if kw["symbol"] == "SSO":
            raise ForbiddenError(403, 40310000, "insufficient buying power")
        if kw["symbol"] == "TNA":
            raise NetworkError("read timed out")
        return real_submit(**kw)

    rig.broker.submit_order = submit  # type: ignore[method-assign]
    rig.ex.execute(plan_of(PlannedOrder("TQQQ", "buy", 12, ok, False, "enter: p=0.61"),
                           PlannedOrder("SSO", "sell", 3, refused, True, "exit"),
                           PlannedOrder("TNA", "buy", 2.5, unsure, False, "enter")))  # fmt: skip
    rig.ex.apply_event(fill_event(order(ok, oid="s-1", qty=12, filled=5, avg=50.0, status="partially_filled"),
                                  "x-1", 5, 50.0037))  # fmt: skip
    assert lines(caplog) == [
        ("INFO", f"sending {ok}: buy 12 TQQQ (enter: p=0.61)"),
        ("INFO", f"sending {refused}: sell 3 SSO (exit)"),
        ("WARNING", f"order {refused} refused: HTTP 403: insufficient buying power"),
        ("INFO", f"sending {unsure}: buy 2.5 TNA (enter)"),
        ("ERROR", f"order {unsure}: outcome unknown (read timed out); will ask by client_order_id"),
        ("INFO", f"fill {ok} buy 5 TQQQ @ 50.0037 (cumulative 5 of 12, partially_filled, from stream)"),
    ]


def test_the_log_tells_a_stale_report_a_rejection_and_a_plan_journaled_before(rig, caplog) -> None:
    caplog.set_level("DEBUG", logger="engine.execution")
    c = rig.intent(cid("TQQQ"))
    rig.ex.apply(order(c, filled=40, avg=50.0, status="partially_filled"))
    caplog.clear()
    rig.ex.apply(order(c, filled=39, avg=50.0, status="new"), source="stream")
    other = rig.intent(cid("SSO"), symbol="SSO")
    rig.ex.apply(order(other, oid="b-2", symbol="SSO", status="rejected"))
    rig.ex.execute(plan_of(PlannedOrder("SSO", "buy", 100, other, False, "enter"), t=T))
    assert lines(caplog) == [
        ("DEBUG", f"order {c}: stream report (new, 39 filled) is older than the journal's (partially_filled, 40)"),
        ("WARNING", f"order {other} was rejected by the broker"),
        ("WARNING", f"order {other} was journaled already: asking the broker, not resending"),
    ]


def test_the_log_tells_each_cancel_and_what_became_of_it(rig, caplog) -> None:
    caplog.set_level("INFO", logger="engine.execution")
    rig.working(cid("TQQQ"), "b-1")
    rig.working(cid("SSO"), "b-2", symbol="SSO")
    rig.working(cid("TNA"), "b-3", symbol="TNA")
    rig.broker.put(order(cid("SSO"), oid="b-2", symbol="SSO", filled=100, avg=90.0, status="filled"))
    rig.broker.cancel_error["b-2"] = UnprocessableError(422, 42210000, 'order is already in "filled" state')
    rig.broker.cancel_error["b-3"] = NetworkError("read timed out")
    caplog.clear()
    rig.ex.cancel_matching(side="buy")
    assert [m for m in lines(caplog) if not m[1].startswith("fill ")] == [
        ("INFO", f"cancel of {cid('SSO')}: order is already in \"filled\" state (refreshing it)"),
        ("INFO", f"order {cid('SSO')} is filled"),
        ("WARNING", f"cannot cancel {cid('TNA')} now: read timed out"),
        ("INFO", f"order {cid('TQQQ')} is canceled"),
    ]
    caplog.clear()
    rig.broker.get_error = NetworkError("connection reset")
    rig.ex.execute(OrderPlan(T + 60_000, (), cancels=(("TNA", "buy"),)))
    assert lines(caplog) == [("WARNING", f"cannot cancel {cid('TNA')} now: read timed out")]
    rig.broker.cancel_error.clear()
    caplog.clear()
    rig.ex.execute(OrderPlan(T + 60_000, (), cancels=(("TNA", "buy"),)))
    assert lines(caplog) == [("WARNING", f"cannot read back the cancel of {cid('TNA')} now: connection reset")]


def test_the_journal_takes_the_broker_s_fill_figures_from_every_report(rig) -> None:
    c = rig.intent(cid("TQQQ"))
    rig.ex.apply(order(c, filled=40, status="partially_filled"))  # no average yet: no fill to price
    rec = rig.journal.order(c)
    assert (rec.filled_qty, rec.filled_avg_price, rig.fills()) == (40, None, [])
    other = rig.intent(cid("SSO"), symbol="SSO")
    rig.ex.apply_event(fill_event(order(other, oid="b-2", symbol="SSO", filled=40, avg=50.0, status="partially_filled"),
                                  "x-1", 40, 50.0037))  # fmt: skip
    assert rig.fills()[0].price == 50.0037 and rig.journal.order(other).filled_avg_price == 50.0  # the broker's

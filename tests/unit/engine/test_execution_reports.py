"""Every report of an order lands in one place (Executor.apply): a trade-updates event, a
submit's answer and a poll move the journal, the position book and the broker view, and a
fill reported several ways counts once. A plan's cancels are asked before its orders are
sent and read back after; its intents are journaled together, before the first send."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from common.errors import NotFoundError
from common.rest_models import Order
from engine.broker_view import BrokerView
from engine.execution import Executor
from engine.journal import Journal
from engine.order_plan import OrderPlan, PlannedOrder
from engine.position_book import PositionBook
from engine.trade_events import TradeEvent
from tests.support import journal_reads as jr

DAY = date(2025, 10, 16)
T = 1_760_623_200_000  # 10:00
CID = "it-rot-20251016-1000-TQQQ-b-0"


def order(cid: str = CID, *, oid: str = "b-1", symbol: str = "TQQQ", side: str = "buy", qty: float = 100,
          filled: float = 0, avg: float | None = None, status: str = "new") -> Order:  # fmt: skip
    return Order.from_json({
        "id": oid, "client_order_id": cid, "symbol": symbol, "side": side, "qty": str(qty),
        "filled_qty": str(filled), "filled_avg_price": None if avg is None else str(avg),
        "status": status, "type": "market", "time_in_force": "day",
        "created_at": "2025-10-16T14:00:01Z",
    })  # fmt: skip


def event(o: Order, kind: str, exec_id: str | None = None, qty: float | None = None,
          price: float | None = None) -> TradeEvent:  # fmt: skip
    return TradeEvent(kind, o, exec_id, qty, price, T + 61_000, None)


class Api:
    """Records every call; answers from ``orders`` (by broker id)."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.orders: dict[str, Order] = {}
        self.journal: Journal | None = None
        self.intents_at_first_submit: list[str] | None = None

    def submit_order(self, **kw: Any) -> Order:
        self.calls.append(f"submit {kw['symbol']}")
        if self.intents_at_first_submit is None and self.journal is not None:
            self.intents_at_first_submit = sorted(r.client_order_id for r in self.journal.open_orders())
        o = order(kw["client_order_id"], oid=f"b-{kw['symbol']}", symbol=kw["symbol"], side=kw["side"],
                  qty=kw["qty"], status="accepted")  # fmt: skip
        self.orders[o.id] = o
        return o

    def get_order(self, order_id: str) -> Order:
        self.calls.append(f"get {order_id}")
        if order_id not in self.orders:
            raise NotFoundError(404, 40410000, "order not found")
        return self.orders[order_id]

    def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        self.calls.append(f"get_by_cid {client_order_id}")
        return next((o for o in self.orders.values() if o.client_order_id == client_order_id), None)

    def cancel_order(self, order_id: str) -> None:
        self.calls.append(f"cancel {order_id}")
        o = self.orders[order_id]
        self.orders[order_id] = order(o.client_order_id, oid=o.id, symbol=o.symbol, side=o.side,
                                      qty=o.qty or 0, status="canceled")  # fmt: skip

    def list_orders(self, **kw: Any) -> list[Order]:
        return []


@pytest.fixture
def setup(tmp_path: Path):
    journal = Journal(tmp_path / "journal.sqlite", now_ms=lambda: T)
    api = Api()
    api.journal = journal
    view = BrokerView()
    view.seed([], cash=100_000.0, start_equity=100_000.0)
    ex = Executor(api, journal, "rotation", DAY, book=PositionBook(), view=view, now_ms=lambda: T)  # type: ignore[arg-type]
    journal.record_intent(CID, strategy="rotation", session_date=DAY, t_ms=T, symbol="TQQQ",
                          side="buy", qty=100)  # fmt: skip
    yield ex, api, journal, view
    journal.close()


def test_a_fill_event_is_journaled_from_the_stream_and_moves_both_books(setup) -> None:
    ex, _, journal, view = setup
    o = order(filled=40, avg=50.0, status="partially_filled")
    f = ex.apply_event(event(o, "partial_fill", "x1", 40, 50.0))
    assert f is not None and (f.qty, f.price, f.source) == (40, 50.0, "stream")
    assert journal.order(CID).status == "partially_filled" and ex.book.qty("TQQQ") == 40
    assert view.quantities() == {"TQQQ": 40} and view.cash == 100_000 - 2_000


def test_the_same_fill_from_the_stream_a_poll_and_the_response_counts_once(setup) -> None:
    ex, _, journal, view = setup
    filled = order(filled=100, avg=50.5, status="filled")
    ex.apply(filled, source="response")
    ex.apply_event(event(filled, "fill", "x1", 100, 50.5))
    ex.apply_event(event(filled, "fill", "x1", 100, 50.5))  # delivered twice
    ex.apply(filled)  # and polled
    fills = jr.fills(journal.path, "rotation", DAY)
    assert [(f.qty, f.source) for f in fills] == [(100.0, "response")]
    assert ex.book.qty("TQQQ") == 100 and view.quantities() == {"TQQQ": 100}
    assert view.cash == pytest.approx(100_000 - 5_050)


def test_events_out_of_order_and_a_missed_partial(setup) -> None:
    ex, _, journal, _ = setup
    ex.apply_event(event(order(filled=100, avg=50.6, status="filled"), "fill", "x2", 60, 51.0))
    ex.apply_event(event(order(filled=40, avg=50.0, status="partially_filled"), "partial_fill", "x1", 40, 50.0))
    (f,) = jr.fills(journal.path, "rotation", DAY)  # the first partial was missed: priced by the average
    assert f.qty == 100 and f.price == pytest.approx(50.6)
    assert journal.order(CID).status == "filled"  # the late partial never reopens it


def test_another_order_of_the_account_moves_only_the_view(setup) -> None:
    ex, _, journal, view = setup
    by_hand = order("by-hand-1", oid="h-1", symbol="SSO", qty=7, filled=7, avg=90.0, status="filled")
    assert ex.apply_event(event(by_hand, "fill", "h1", 7, 90.0)) is None
    assert view.quantities() == {"SSO": 7} and ex.book.quantities() == {}
    assert journal.order("by-hand-1") is None


def test_a_rejection_from_the_stream_is_journaled_and_reported(setup) -> None:
    ex, _, journal, _ = setup
    seen: list[tuple[str, dict]] = []
    ex.on_event = lambda kind, detail: seen.append((kind, detail))
    ex.apply_event(event(order(status="rejected"), "rejected"))
    assert journal.order(CID).status == "rejected"
    assert seen == [("order_rejected", {"client_order_id": CID})]


def test_a_plan_cancels_first_sends_with_no_read_and_reads_the_cancels_back_after(setup) -> None:
    ex, api, journal, _ = setup
    ex.apply(order(status="new"), source="response")  # the open buy, broker id known
    api.orders["b-1"] = order(status="new")
    api.calls.clear()
    plan = OrderPlan(T + 60_000, (
        PlannedOrder("SSO", "buy", 5, "it-rot-20251016-1001-SSO-b-0", False, "enter"),
        PlannedOrder("TNA", "buy", 3, "it-rot-20251016-1001-TNA-b-0", False, "enter"),
    ), cancels=(("TQQQ", "buy"),))  # fmt: skip
    sent = ex.execute(plan)
    assert api.calls == ["cancel b-1", "submit SSO", "submit TNA", "get b-1"]
    assert api.intents_at_first_submit == sorted(
        ["it-rot-20251016-1001-SSO-b-0", "it-rot-20251016-1001-TNA-b-0", CID])  # both intents first
    assert sent.canceled == [CID] and journal.order(CID).status == "canceled"
    assert sorted(sent.submitted) == ["it-rot-20251016-1001-SSO-b-0", "it-rot-20251016-1001-TNA-b-0"]


def test_an_intent_journaled_before_is_settled_not_sent_again(setup) -> None:
    ex, api, _, _ = setup
    api.orders["b-1"] = order(status="filled", filled=100, avg=50.0)
    ex.apply(order(status="accepted"), source="response")
    api.calls.clear()
    plan = OrderPlan(T, (PlannedOrder("TQQQ", "buy", 100, CID, False, "enter"),))
    sent = ex.execute(plan)
    assert api.calls == ["get b-1"] and sent.skipped == [CID] and ex.book.qty("TQQQ") == 100


def test_a_stale_report_is_not_applied_and_a_report_that_changes_nothing_is_not_written(setup, caplog) -> None:
    ex, _, journal, _ = setup
    ex.apply(order(filled=100, avg=50.0, status="filled"), source="response")
    commits: list[str] = []
    journal._db.set_trace_callback(lambda sql: commits.append(sql) if sql.startswith("UPDATE") else None)
    ex.apply_event(event(order(status="new"), "new"))  # published before the fill, read after it
    ex.apply_event(event(order(filled=100, avg=50.0, status="filled"), "fill", "x1", 100, 50.0))
    assert journal.order(CID).status == "filled" and commits == []
    assert "illegal status move" not in caplog.text
    lost = "it-rot-20251016-1000-SSO-b-0"  # the engine's guess contradicted: still reported
    journal.record_intent(lost, strategy="rotation", session_date=DAY, t_ms=T, symbol="SSO", side="buy", qty=1)
    journal.update_order(lost, "lost")
    ex.apply(order(lost, oid="b-9", symbol="SSO", qty=1, status="new"))
    assert "illegal status move lost -> new refused" in caplog.text

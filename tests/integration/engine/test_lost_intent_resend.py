"""A kill between journaling an intent and sending it (real mockmarket): the relaunch that
re-decides the minute sends the order under the intent's own client_order_id — the order
the killed run meant to send, once — found by ``make chaos`` (issue 12): it used to go out
under a new id (seq + 1), so a killed session's orders differed from the uninterrupted one's
and a lost intent counted against the minute's order cap."""

from __future__ import annotations

from datetime import date

from common.calendar import ny_datetime, to_ms
from common.config import RiskConfig
from common.order_status import OrderStatus
from engine.execution import Executor
from engine.order_plan import plan_orders
from engine.position_book import PositionBook, signed_positions
from engine.risk import RiskGuard

DAY = date(2025, 10, 16)
T = to_ms(ny_datetime(DAY, "10:00"))
GUARD = RiskGuard(RiskConfig(max_position_pct=1.0, max_orders_per_minute=1))


def _plan(targets, journal, pending):
    return plan_orders("rotation", T, targets, {}, prices={s: 10.0 for s in targets}, equity=100_000.0,
                       guard=GUARD, pending=pending,
                       used_ids=journal.ids_for_minute("rotation", T, taken_only=True))  # fmt: skip


def test_a_lost_intent_planned_again_is_sent_once_under_its_own_id(market_factory, rest_for, journal):
    market = market_factory(start_time="10:01")
    rest = rest_for(market)
    market.admin("POST", "/admin/clock", json={"action": "step", "seconds": 2})
    first = _plan({"TQQQ": 10}, journal, {})
    o = first.orders[0]
    assert o.client_order_id.endswith("-0")
    journal.record_intent(o.client_order_id, strategy="rotation", session_date=DAY, t_ms=T,
                          symbol=o.symbol, side=o.side, qty=o.qty)  # killed right after this  # fmt: skip

    ex = Executor(rest, journal, "rotation", DAY, book=PositionBook(), now_ms=market.now_ms)
    ex.settle()  # the relaunch: the broker never heard of it
    assert journal.order(o.client_order_id).status == OrderStatus.LOST
    assert journal.ids_for_minute("rotation", T) == {o.client_order_id}
    assert journal.ids_for_minute("rotation", T, taken_only=True) == set()

    again = _plan({"TQQQ": 10}, journal, ex.pending())  # the cap of one order is not used up
    assert [x.client_order_id for x in again.orders] == [o.client_order_id]
    sent = ex.execute(again)
    assert sent.submitted == [o.client_order_id] and not sent.skipped
    rec = journal.order(o.client_order_id)
    assert rec.status == OrderStatus.FILLED and rec.broker_order_id
    assert signed_positions(rest.get_positions()) == {"TQQQ": 10.0}
    c = market.admin("GET", "/admin/counters")
    assert c["orders_submitted"] == 1 and c["duplicates_rejected"] == 0

    # the same plan once more (a second relaunch): at the broker now, settled, never resent
    twice = ex.execute(again)
    assert twice.skipped == [o.client_order_id] and not twice.submitted
    assert market.admin("GET", "/admin/counters")["orders_submitted"] == 1


def test_an_order_the_broker_has_is_never_revived(market_factory, rest_for, journal):
    """Only an intent without a broker id that the broker does not know comes back: a sent
    order's id stays taken, a second plan of the minute gets the next seq."""
    market = market_factory(start_time="10:01")
    rest = rest_for(market)
    market.admin("POST", "/admin/clock", json={"action": "step", "seconds": 2})
    ex = Executor(rest, journal, "rotation", DAY, book=PositionBook(), now_ms=market.now_ms)
    first = _plan({"TQQQ": 10}, journal, {})
    ex.execute(first)
    cid = first.orders[0].client_order_id
    assert journal.ids_for_minute("rotation", T, taken_only=True) == {cid}
    more = plan_orders("rotation", T, {"TQQQ": 20}, {"TQQQ": 10}, prices={"TQQQ": 10.0}, equity=100_000.0,
                       guard=RiskGuard(RiskConfig(max_position_pct=1.0)),
                       used_ids=journal.ids_for_minute("rotation", T, taken_only=True))  # fmt: skip
    assert [x.client_order_id for x in more.orders] == [cid[:-1] + "1"]

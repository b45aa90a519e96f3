"""Orders through a real mockmarket: intent journaled before sending, fills journaled once,
lost responses and relaunches settled by client_order_id, never resent blindly."""

from __future__ import annotations

from datetime import date

import pytest

from common.calendar import ny_datetime, to_ms
from common.config import RiskConfig
from common.order_status import OrderStatus
from engine.execution import Executor
from engine.journal import Journal
from engine.order_plan import plan_orders
from engine.position_book import PositionBook, signed_positions
from engine.risk import RiskGuard
from tests.support import journal_reads as jr

DAY = date(2025, 10, 16)
T = to_ms(ny_datetime(DAY, "10:00"))  # the bar decided on; the market is paused at 10:01:02
GUARD = RiskGuard(RiskConfig(max_position_pct=1.0))


def plan(targets, positions=None, pending=None, used=(), t=T):
    return plan_orders("rotation", t, targets, positions or {}, prices={s: 10.0 for s in targets},
                       equity=100_000.0, guard=GUARD, pending=pending, used_ids=used)  # fmt: skip


class Spy:
    """Wraps the REST client: records what the journal held at each submit."""

    def __init__(self, rest, journal: Journal) -> None:
        self.rest, self.journal = rest, journal
        self.seen_at_submit: list[str | None] = []

    def submit_order(self, **kw):
        rec = self.journal.order(kw["client_order_id"])
        self.seen_at_submit.append(None if rec is None else rec.status)
        return self.rest.submit_order(**kw)

    def __getattr__(self, name):
        return getattr(self.rest, name)


@pytest.fixture
def mk(market_factory, rest_for, journal):
    market = market_factory(start_time="10:01")
    rest = rest_for(market)
    market.admin("POST", "/admin/clock", json={"action": "step", "seconds": 2})

    def executor(api=None, j: Journal | None = None) -> Executor:
        j = j or journal
        return Executor(api or rest, j, "rotation", DAY, book=PositionBook(), now_ms=market.now_ms)

    return market, rest, executor


def counters(market) -> dict:
    return market.admin("GET", "/admin/counters")


def test_intent_is_journaled_before_the_order_is_sent_and_fills_are_journaled(mk, journal):
    market, rest, make = mk
    spy = Spy(rest, journal)
    ex = make(spy)
    p = plan({"TQQQ": 10, "SQQQ": 5})
    sent = ex.execute(p)
    assert sorted(sent.submitted) == sorted(o.client_order_id for o in p.orders)
    assert len(sent.submitted) == 2 and sent.rejected == sent.unknown == sent.skipped == []
    assert spy.seen_at_submit == ["intent", "intent"]
    for cid in sent.submitted:
        rec = journal.order(cid)
        assert rec.status == "filled" and rec.broker_order_id and rec.filled_qty == rec.qty
    fills = jr.fills(journal.path, "rotation", DAY)
    assert sorted((f.symbol, f.qty) for f in fills) == [("SQQQ", 5.0), ("TQQQ", 10.0)]
    broker = signed_positions(rest.get_positions())
    assert broker == {"TQQQ": 10.0, "SQQQ": 5.0}
    assert ex.book.diff(broker) == []
    for f in fills:  # the journal's price is the broker's
        assert f.price == pytest.approx(rest.get_order_by_client_id(f.client_order_id).filled_avg_price)


def test_a_lost_response_is_recovered_by_client_order_id_without_a_second_order(mk, journal):
    market, rest, make = mk
    market.admin("POST", "/admin/faults", json={"lose_order_response_count": 1})
    ex = make()
    sent = ex.execute(plan({"TQQQ": 7}))
    assert len(sent.submitted) == 1
    c = counters(market)
    assert c["orders_accepted"] == 1 and c["fills"] == 1
    assert journal.order(sent.submitted[0]).status == "filled"
    assert signed_positions(rest.get_positions()) == {"TQQQ": 7.0}


def test_the_engine_recovers_from_a_422_when_its_journal_lost_the_answer(mk, journal):
    """A previous life sent the order and died before its journal kept anything of it: the
    engine re-deciding the minute sends the same client order id, the broker answers 422
    (duplicate), and the engine journals the broker's order as its own — filled, once —
    instead of a refusal or a second order."""
    market, rest, make = mk
    p = plan({"TQQQ": 10})
    (o,) = p.orders
    before = rest.submit_order(symbol="TQQQ", qty=10, side="buy", client_order_id=o.client_order_id)
    assert jr.orders(journal.path, "rotation", DAY) == []  # the journal lost it all
    ex = make()
    sent = ex.execute(p)
    c = counters(market)
    assert (c["orders_accepted"], c["duplicates_rejected"]) == (1, 1)  # the 422 was met
    assert sent.submitted == [o.client_order_id] and sent.rejected == [] and sent.unknown == []
    rec = journal.order(o.client_order_id)
    assert rec.status == "filled" and rec.broker_order_id == before.id and rec.filled_qty == 10
    assert [(f.symbol, f.qty) for f in jr.fills(journal.path, "rotation", DAY)] == [("TQQQ", 10.0)]
    broker = signed_positions(rest.get_positions())
    assert broker == {"TQQQ": 10.0}
    assert ex.book.diff(broker) == [] and ex.pending() == {}


def test_a_relaunch_that_re_plans_the_same_minute_sends_nothing_twice(mk, journal, tmp_path):
    market, rest, make = mk
    first = make()
    p = plan({"TQQQ": 10})
    first.execute(p)
    assert counters(market)["orders_submitted"] == 1
    # a new process: the same journal file, the broker's book
    j2 = Journal(journal.path)
    try:
        again = make(j=j2)
        again.settle()
        positions = signed_positions(rest.get_positions())
        p2 = plan({"TQQQ": 10}, positions, again.pending(), j2.ids_for_minute("rotation", T))
        assert p2.orders == ()
        # even the very same plan, replayed, is settled and not resent
        sent = again.execute(p)
        assert sent.skipped == [p.orders[0].client_order_id] and sent.submitted == []
        assert counters(market)["orders_submitted"] == 1
    finally:
        j2.close()


def test_an_intent_that_never_reached_the_broker_is_settled_as_lost(mk, journal):
    market, rest, make = mk
    p = plan({"TQQQ": 10})
    o = p.orders[0]
    journal.record_intent(o.client_order_id, strategy="rotation", session_date=DAY, t_ms=T,
                          symbol=o.symbol, side=o.side, qty=o.qty)  # crashed right after this  # fmt: skip
    ex = make()
    assert ex.pending() == {"TQQQ": 10.0}  # until settled it may exist: counted as pending
    ex.settle()
    assert journal.order(o.client_order_id).status == OrderStatus.LOST
    assert ex.pending() == {}
    p2 = plan({"TQQQ": 10}, {}, ex.pending(), journal.ids_for_minute("rotation", T))
    assert [x.client_order_id for x in p2.orders] == [o.client_order_id[:-1] + "1"]
    ex.execute(p2)
    assert signed_positions(rest.get_positions()) == {"TQQQ": 10.0}
    assert counters(market)["orders_submitted"] == 1


def test_an_intent_sent_before_a_crash_is_found_and_its_fill_journaled(mk, journal):
    market, rest, make = mk
    p = plan({"FAS": 4})
    o = p.orders[0]
    journal.record_intent(o.client_order_id, strategy="rotation", session_date=DAY, t_ms=T,
                          symbol=o.symbol, side=o.side, qty=o.qty)  # fmt: skip
    rest.submit_order(symbol="FAS", qty=4, side="buy", client_order_id=o.client_order_id)
    ex = make()  # the relaunch never saw the answer
    fills = ex.settle()
    assert [(f.symbol, f.qty) for f in fills] == [("FAS", 4.0)]
    assert journal.order(o.client_order_id).status == "filled"
    assert ex.settle() == []  # a second look journals nothing new


def test_rejections_are_journaled_and_reported(mk, journal):
    market, rest, make = mk
    market.admin("POST", "/admin/faults", json={"reject_order_count": 1})
    events = []
    ex = make()
    ex.on_event = lambda k, d: events.append(k)
    ex.execute(plan({"TZA": 3}))
    (rec,) = jr.orders(journal.path, "rotation", DAY)
    assert rec.status == "accepted"  # accepted, then rejected (a trade update): seen by polling
    assert ex.pending() == {"TZA": 3.0}
    ex.poll()
    assert journal.order(rec.client_order_id).status == "rejected" and ex.pending() == {}
    assert "order_rejected" in events
    # a refusal by HTTP status (insufficient buying power) as well
    sent = ex.execute(plan({"ERX": 10_000_000}, used=journal.ids_for_minute("rotation", T)))
    assert sent.rejected and journal.order(sent.rejected[0]).status == "rejected"
    assert signed_positions(rest.get_positions()) == {}


def test_an_unknown_outcome_is_asked_for_never_resent(mk, journal):
    market, rest, make = mk

    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        def submit_order(self, **kw):
            from common.errors import NetworkError

            self.calls += 1
            rest.submit_order(**kw)  # it reached the broker ...
            raise NetworkError("read timed out")  # ... but the answer did not come back

        def __getattr__(self, name):
            return getattr(rest, name)

    flaky = Flaky()
    ex = make(flaky)
    sent = ex.execute(plan({"UVXY": 6}))
    cid = sent.unknown[0]
    assert journal.order(cid).status == OrderStatus.UNKNOWN
    assert ex.pending() == {"UVXY": 6.0}
    fills = ex.poll()
    assert [(f.symbol, f.qty) for f in fills] == [("UVXY", 6.0)]
    assert journal.order(cid).status == "filled" and flaky.calls == 1
    assert counters(market)["orders_submitted"] == 1


def test_partial_fills_are_journaled_as_they_come(market_factory, rest_for, journal):
    market = market_factory(start_time="10:01", extra_args=("--partial-fill-rate", "1"))
    rest = rest_for(market)
    market.admin("POST", "/admin/clock", json={"action": "step", "seconds": 2})
    ex = Executor(rest, journal, "rotation", DAY, book=PositionBook(), now_ms=market.now_ms)
    sent = ex.execute(plan({"SSO": 500}))
    cid = sent.submitted[0]
    for _ in range(30):
        rec = journal.order(cid)
        if rec.status == "filled":
            break
        market.admin("POST", "/admin/clock", json={"action": "step", "seconds": 60})
        ex.poll()
    rec = journal.order(cid)
    fills = jr.fills(journal.path, "rotation", DAY)
    assert rec.status == "filled" and len(fills) >= 2
    assert sum(f.qty for f in fills) == 500
    broker = rest.get_order_by_client_id(cid)
    avg = sum(f.qty * f.price for f in fills) / 500
    assert avg == pytest.approx(broker.filled_avg_price)
    assert ex.book.quantities() == {"SSO": 500.0}


def test_a_trade_the_engine_did_not_make_shows_as_a_book_mismatch(mk, journal):
    market, rest, make = mk
    ex = make()
    ex.execute(plan({"TNA": 2}))
    assert ex.book.diff(signed_positions(rest.get_positions())) == []
    rest.submit_order(symbol="TNA", qty=3, side="buy", client_order_id="by-hand-1")
    (m,) = ex.book.diff(signed_positions(rest.get_positions()))
    assert (m.symbol, m.book, m.broker) == ("TNA", 2.0, 5.0)


def test_cancel_on_conflicting_target_and_pending(mk, journal):
    market, rest, make = mk
    ex = make()
    # a resting order: a limit far below the market stays open
    p = plan({"ERY": 5})
    o = p.orders[0]
    journal.record_intent(o.client_order_id, strategy="rotation", session_date=DAY, t_ms=T,
                          symbol="ERY", side="buy", qty=5)  # fmt: skip
    rest.submit_order(symbol="ERY", qty=5, side="buy", type="limit", limit_price=0.01,
                      client_order_id=o.client_order_id)  # fmt: skip
    ex.poll()
    assert ex.pending() == {"ERY": 5.0}
    p2 = plan({"ERY": 0}, {}, ex.pending(), journal.ids_for_minute("rotation", T))
    assert p2.cancels == (("ERY", "buy"),) and p2.orders == ()
    sent = ex.execute(p2)
    assert sent.canceled == [o.client_order_id]
    assert journal.order(o.client_order_id).status == "canceled" and ex.pending() == {}

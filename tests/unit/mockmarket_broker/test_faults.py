"""Order faults: rejected after acceptance, lost responses, counters."""

from __future__ import annotations


def test_reject_fault_answers_accepted_then_rejects(market):
    market.faults.reject_order_count = 1
    sub = market.broker.submit(
        {"symbol": "AAA", "qty": 1, "side": "buy", "type": "market", "time_in_force": "day"}
    )
    assert sub.order["status"] == "accepted" and not sub.lose_response
    got = market.broker.get_order(sub.order["id"])
    assert got["status"] == "rejected" and got["failed_at"] is not None
    assert market.events(sub.order["id"]) == ["rejected"]
    assert market.broker.portfolio.positions == {}
    assert market.faults.reject_order_count == 0
    c = market.counters
    assert (c.orders_submitted, c.orders_accepted, c.orders_rejected) == (1, 0, 1)
    # the next order is not affected
    assert market.order(symbol="AAA", qty=1, side="buy")["status"] == "filled"


def test_lost_response_fault_keeps_the_order_and_its_fill(market):
    market.faults.lose_order_response_count = 1
    body = {
        "symbol": "AAA",
        "qty": 3,
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
        "client_order_id": "lost-1",
    }
    sub = market.broker.submit(body)
    assert sub.lose_response
    assert market.broker.get_order_by_client_id("lost-1")["status"] == "filled"
    assert market.broker.portfolio.qty("AAA") == 3
    assert market.counters.orders_accepted == 1
    # the client retries the same client_order_id: a duplicate, and the order is found by its id
    again = market.broker.submit(dict(body, client_order_id="lost-2"))
    assert not again.lose_response

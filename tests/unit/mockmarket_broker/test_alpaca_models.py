"""Every JSON object the broker sends parses in alpaca-py's own pydantic models, unmodified."""

from __future__ import annotations

from alpaca.trading.models import (
    Asset,
    ClosePositionResponse,
    Order,
    Position,
    TradeAccount,
    TradeUpdate,
)
from alpaca.trading.requests import CancelOrderResponse
from pydantic import TypeAdapter


def test_orders_positions_account_and_updates_parse(market):
    market.faults.partial_fill_rate = 1.0
    market.order(symbol="AAA", qty=10, side="buy")
    market.order(symbol="BBB", notional=250, side="sell")
    lim = market.order(
        symbol="AAA", qty=2, side="sell", type="limit", limit_price="70", time_in_force="gtc"
    )
    market.broker.replace_order(lim["id"], {"limit_price": 71})
    for o in market.broker.list_orders({"status": "all"}):
        parsed = Order(**o)
        assert str(parsed.id) == o["id"]
    acct = TradeAccount(**market.broker.account())
    assert acct.cash is not None and float(acct.equity) > 0
    for p in market.broker.positions():
        Position(**p)
    for msg in market.broker.updates.history:
        update = TradeUpdate(**msg["data"])
        assert update.order.symbol in ("AAA", "BBB")
    fills = [
        TradeUpdate(**m["data"])
        for m in market.broker.updates.history
        if m["data"]["event"] in ("fill", "partial_fill")
    ]
    assert fills and all(f.price and f.qty and f.position_qty is not None for f in fills)
    Asset(**market.broker.asset("AAA"))


def test_multi_status_answers_parse(market):
    market.order(symbol="AAA", qty=1, side="buy", type="limit", limit_price="45")
    TypeAdapter(list[CancelOrderResponse]).validate_python(market.broker.cancel_all_orders())
    market.order(symbol="AAA", qty=1, side="buy")
    closed = TypeAdapter(list[ClosePositionResponse]).validate_python(
        market.broker.close_all_positions()
    )
    assert closed[0].symbol == "AAA" and isinstance(closed[0].body, Order)

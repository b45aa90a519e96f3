"""Contract tests: alpaca-py's TradingClient and TradingStream, unmodified, against a real
mockmarket server process (C's harness) on a synthetic market.

The clock is paused right after start-up and moved only through the admin API, so
every step is deterministic.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    ClosePositionRequest,
    GetCalendarRequest,
    GetOrdersRequest,
    LimitOrderRequest,
    MarketOrderRequest,
)
from alpaca.trading.stream import TradingStream

from mockmarket.harness import RunningMarket, run_market


def _paused_market(workdir: Path, start_time: str) -> Iterator[RunningMarket]:
    with run_market(workdir, start_time=start_time, speed=1.0) as market:
        market.admin("POST", "/admin/clock", {"action": "pause"})
        yield market


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningMarket]:
    """One server for the REST contract tests, paused at 10:00 on the replay date (market open)."""
    yield from _paused_market(tmp_path_factory.mktemp("contract"), "10:00")


@pytest.fixture
def client(market: RunningMarket) -> Iterator[TradingClient]:
    c = TradingClient(market.key, market.secret, paper=True, url_override=market.base_url)
    yield c
    c.close_all_positions(cancel_orders=True)  # the next test starts flat, with no open orders


def _market_order(
    symbol: str, qty: float, side: OrderSide, cid: str | None = None
) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol=symbol, qty=qty, side=side, time_in_force=TimeInForce.DAY, client_order_id=cid
    )


def test_account_clock_calendar(client, market):
    acct = client.get_account()
    assert acct.status.value == "ACTIVE" and acct.currency == "USD"
    total = Decimal(acct.cash) + Decimal(acct.long_market_value) + Decimal(acct.short_market_value)
    assert Decimal(acct.equity) == total
    replay = date.fromisoformat(market.state["date"])
    clock = client.get_clock()
    assert clock.is_open and clock.timestamp.date() == replay
    cal = client.get_calendar(GetCalendarRequest(start=replay - timedelta(days=7), end=replay))
    assert cal[-1].date == replay and len(cal) >= 4


def test_orders_round_trip(client):
    filled = client.submit_order(_market_order("SPY", 10, OrderSide.BUY, "mkt-1"))
    assert filled.status == OrderStatus.FILLED and filled.filled_qty == "10"
    resting = client.submit_order(
        LimitOrderRequest(
            symbol="SPY",
            qty=5,
            side=OrderSide.BUY,
            time_in_force=TimeInForce.GTC,
            limit_price=1.0,
            client_order_id="lim-1",
        )
    )
    assert resting.status == OrderStatus.NEW
    assert client.get_order_by_id(resting.id).client_order_id == "lim-1"
    assert client.get_order_by_client_id("mkt-1").id == filled.id
    open_orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.OPEN, symbols=["SPY"]))
    assert [o.id for o in open_orders] == [resting.id]
    all_orders = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL, limit=500))
    assert {filled.id, resting.id} <= {o.id for o in all_orders}

    with pytest.raises(APIError) as e:  # a resend with the same client_order_id
        client.submit_order(_market_order("SPY", 1, OrderSide.BUY, "mkt-1"))
    assert e.value.status_code == 422 and e.value.code == 40010001

    client.cancel_order_by_id(resting.id)
    assert client.get_order_by_id(resting.id).status == OrderStatus.CANCELED
    with pytest.raises(APIError) as e:
        client.cancel_order_by_id(filled.id)
    assert e.value.status_code == 422 and e.value.code == 42210000

    client.submit_order(
        LimitOrderRequest(
            symbol="TQQQ", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY, limit_price=1.0
        )
    )
    canceled = client.cancel_orders()
    assert len(canceled) == 1 and canceled[0].status == 200


def test_positions_and_closing(client):
    client.submit_order(_market_order("SPY", 10, OrderSide.BUY))
    client.submit_order(_market_order("TQQQ", 4, OrderSide.SELL))
    positions = {p.symbol: p for p in client.get_all_positions()}
    assert positions["SPY"].qty == "10" and positions["TQQQ"].qty == "-4"
    assert positions["TQQQ"].side.value == "short"
    order = client.close_position("SPY", ClosePositionRequest(qty="4"))
    assert order.side == OrderSide.SELL and order.qty == "4"
    assert client.get_open_position("SPY").qty == "6"
    closed = client.close_all_positions(cancel_orders=True)
    assert sorted(c.symbol for c in closed) == ["SPY", "TQQQ"]
    assert all(c.status == 200 for c in closed)
    assert client.get_all_positions() == []
    with pytest.raises(APIError) as e:
        client.get_open_position("SPY")
    assert e.value.status_code == 404
    acct = client.get_account()
    assert Decimal(acct.equity) == Decimal(acct.cash)


def test_trading_stream_receives_fills(tmp_path):
    # Before the open: the order waits, and fills at the first minute's open once the clock moves.
    with run_market(tmp_path, start_time="09:28", speed=1.0) as market:
        market.admin("POST", "/admin/clock", {"action": "pause"})
        client = TradingClient(market.key, market.secret, paper=True, url_override=market.base_url)
        stream = TradingStream(
            market.key, market.secret, paper=True, url_override=market.trade_stream_url
        )
        updates = []
        filled = threading.Event()

        async def on_update(update) -> None:
            updates.append(update)
            if update.event == "fill" and update.order.client_order_id == "s-1":
                filled.set()

        stream.subscribe_trade_updates(on_update)
        thread = threading.Thread(target=stream.run, name="alpaca-trading-stream", daemon=True)
        thread.start()
        try:
            _wait_listening(client, updates)
            queued = client.submit_order(_market_order("SPY", 3, OrderSide.BUY, "s-1"))
            assert queued.status == OrderStatus.NEW and queued.filled_qty == "0"
            market.admin("POST", "/admin/clock", {"action": "step", "seconds": 150})
            assert filled.wait(15), f"no fill event; got {[u.event for u in updates]}"
        finally:
            stream.stop()
            market.stop()  # closes the socket: the stream's reader wakes up and sees the stop
            thread.join(15)
        assert not thread.is_alive()
    mine = [u for u in updates if u.order.client_order_id == "s-1"]
    assert [u.event for u in mine] == ["new", "fill"]
    fill = mine[1]
    assert fill.qty == 3 and fill.position_qty == 3
    assert fill.price == float(fill.order.filled_avg_price)
    assert fill.order.filled_at is not None and fill.execution_id is not None


def _wait_listening(client: TradingClient, updates: list, timeout: float = 10.0) -> None:
    """Send probe orders until one's "new" event comes back: the stream is then listening."""
    deadline = time.monotonic() + timeout
    n = 0
    while True:
        n += 1
        probe = client.submit_order(
            LimitOrderRequest(
                symbol="SPY", qty=1, side=OrderSide.BUY, time_in_force=TimeInForce.DAY,
                limit_price=1.0, client_order_id=f"probe-{n}",
            )
        )  # fmt: skip
        client.cancel_order_by_id(probe.id)
        seen = time.monotonic() + 0.5
        while time.monotonic() < seen:
            if any(u.order.client_order_id.startswith("probe-") for u in updates):
                return
            time.sleep(0.01)
        if time.monotonic() > deadline:
            raise TimeoutError("TradingStream never received a trade update")

"""Order lifecycle: duplicates, cancel rules, replace, expiry, closing positions, minute bookkeeping."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from common.bars import MINUTE_MS
from common.calendar import nyse
from mockmarket.trading_errors import TradingError

D = Decimal


def _limit(market, **kw) -> dict:
    body = {"symbol": "AAA", "qty": 5, "side": "buy", "type": "limit", "limit_price": "45.00"}
    body.update(kw)
    return market.order(**body)


def test_duplicate_client_order_id_is_refused_and_counted(market):
    first = market.order(symbol="AAA", qty=1, side="buy", client_order_id="engine-1")
    with pytest.raises(TradingError) as e:
        market.order(symbol="AAA", qty=1, side="buy", client_order_id="engine-1")
    assert (e.value.status, e.value.code, e.value.message) == (
        422,
        40010001,
        "client_order_id must be unique",
    )
    c = market.counters
    assert (c.orders_submitted, c.orders_accepted, c.duplicates_rejected, c.orders_rejected) == (
        2,
        1,
        1,
        0,
    )
    assert market.broker.get_order_by_client_id("engine-1")["id"] == first["id"]
    assert market.broker.portfolio.qty("AAA") == 1


def test_generated_client_order_id_is_a_uuid(market):
    import uuid

    order = market.order(symbol="AAA", qty=1, side="buy")
    uuid.UUID(order["client_order_id"])
    uuid.UUID(order["id"])


def test_cancel_an_open_order(market):
    order = _limit(market)
    market.broker.cancel_order(order["id"])
    got = market.broker.get_order(order["id"])
    assert got["status"] == "canceled" and got["canceled_at"] is not None
    assert market.events(order["id"]) == ["new", "canceled"]


def test_cancel_a_filled_order_is_422_naming_its_state(market):
    order = market.order(symbol="AAA", qty=1, side="buy")
    with pytest.raises(TradingError) as e:
        market.broker.cancel_order(order["id"])
    assert (e.value.status, e.value.code) == (422, 42210000)
    assert e.value.message == 'order is already in "filled" state'


@pytest.mark.parametrize("order_id", ["8c6b6a4e-7f6c-4c43-9a53-1d4a63a8f6f2", "not-a-uuid"])
def test_cancel_an_unknown_order_is_404(market, order_id):
    with pytest.raises(TradingError) as e:
        market.broker.cancel_order(order_id)
    assert (e.value.status, e.value.code, e.value.message) == (404, 40410000, "order not found")


def test_cancel_all_returns_one_entry_per_open_order(market):
    a, b = _limit(market), _limit(market, symbol="BBB", limit_price="10")
    market.order(symbol="AAA", qty=1, side="buy")  # filled: not canceled
    out = market.broker.cancel_all_orders()
    assert sorted(x["id"] for x in out) == sorted([a["id"], b["id"]])
    assert all(x["status"] == 200 and x["body"]["status"] == "canceled" for x in out)
    assert market.broker.cancel_all_orders() == []


def test_replace_makes_a_new_order_and_closes_the_old(market):
    old = _limit(market, client_order_id="old")
    new = market.broker.replace_order(
        old["id"], {"limit_price": 46.5, "qty": 7, "client_order_id": "new"}
    )
    got_old = market.broker.get_order(old["id"])
    assert got_old["status"] == "replaced" and got_old["replaced_by"] == new["id"]
    assert new["replaces"] == old["id"]
    assert (new["qty"], new["limit_price"], new["client_order_id"], new["status"]) == (
        "7",
        "46.5",
        "new",
        "new",
    )
    assert market.events(old["id"]) == ["new", "replaced"]
    assert market.events(new["id"]) == ["new"]


def test_replace_to_a_marketable_price_fills_at_once(market):
    old = _limit(market)
    new = market.broker.replace_order(old["id"], {"limit_price": "55"})
    assert (new["status"], new["filled_avg_price"]) == ("filled", "50")


def test_replace_a_filled_order_is_422(market):
    order = market.order(symbol="AAA", qty=1, side="buy")
    with pytest.raises(TradingError) as e:
        market.broker.replace_order(order["id"], {"qty": 2})
    assert e.value.status == 422 and "filled" in e.value.message


def test_replace_with_a_used_client_order_id_is_refused(market):
    _limit(market, client_order_id="taken")
    other = _limit(market)
    with pytest.raises(TradingError) as e:
        market.broker.replace_order(other["id"], {"client_order_id": "taken"})
    assert e.value.message == "client_order_id must be unique"
    assert market.broker.get_order(other["id"])["status"] == "new"


def test_day_orders_expire_at_the_close_and_gtc_orders_stay(market, session):
    day = _limit(market)
    gtc = _limit(market, time_in_force="gtc")
    market.minute(session.close_ms - MINUTE_MS)
    assert market.broker.get_order(day["id"])["status"] == "new"
    market.minute(session.close_ms)
    got = market.broker.get_order(day["id"])
    assert got["status"] == "expired" and got["expired_at"] is not None
    assert market.events(day["id"]) == ["new", "expired"]
    assert market.broker.get_order(gtc["id"])["status"] == "new"


def test_day_orders_expire_at_a_half_day_close(make_market):
    half = nyse().session(date(2024, 11, 29))
    assert half.is_half_day
    mk = make_market(half.open_ms + 60 * MINUTE_MS)
    mk.prices.flat("AAA", half.minutes(), 50.0)
    order = mk.order(symbol="AAA", qty=1, side="buy", type="limit", limit_price="40")
    mk.minute(half.close_ms)
    assert mk.broker.get_order(order["id"])["status"] == "expired"


def test_a_partially_filled_day_order_expires_with_its_fills(make_market, session):
    mk = make_market(session.close_ms - MINUTE_MS + 5_000)
    mk.prices.flat("AAA", session.minutes(), 50.0)
    mk.faults.partial_fill_rate = 1.0
    order = mk.order(symbol="AAA", qty=10, side="buy")
    assert order["status"] == "partially_filled"
    mk.minute(session.close_ms)
    got = mk.broker.get_order(order["id"])
    assert got["status"] == "expired" and got["filled_qty"] == order["filled_qty"]


def test_close_position_by_qty_and_percentage_and_flat_is_404(market):
    market.order(symbol="AAA", qty=10, side="buy")
    part = market.broker.close_position("AAA", qty="4")
    assert (part["side"], part["qty"], part["status"]) == ("sell", "4", "filled")
    half = market.broker.close_position("AAA", percentage="50")
    assert half["qty"] == "3"
    with pytest.raises(TradingError) as e:
        market.broker.close_position("AAA", qty="9")
    assert e.value.status == 403
    market.broker.close_position("AAA")
    with pytest.raises(TradingError) as e:
        market.broker.close_position("AAA")
    assert (e.value.status, e.value.message) == (404, "position does not exist")


def test_close_all_positions_cancels_orders_first_when_asked(market):
    market.order(symbol="AAA", qty=10, side="buy")
    market.order(symbol="BBB", qty=5, side="sell")
    pending = _limit(market)
    out = market.broker.close_all_positions(cancel_orders=True)
    assert [(x["symbol"], x["status"]) for x in out] == [("AAA", 200), ("BBB", 200)]
    assert [x["body"]["side"] for x in out] == ["sell", "buy"]
    assert market.broker.get_order(pending["id"])["status"] == "canceled"
    assert market.broker.positions() == []


def test_on_minute_refuses_an_unaligned_instant_and_ignores_repeats(market, session):
    with pytest.raises(ValueError, match="start of a minute"):
        market.broker.on_minute(session.open_ms + 1)
    order = _limit(market)
    market.minute(session.close_ms)
    market.broker.on_minute(session.close_ms)  # a repeat does nothing
    assert market.events(order["id"]) == ["new", "expired"]


def test_last_equity_is_the_equity_at_the_previous_close(closed_market, session):
    closed_market.order(symbol="AAA", qty=100, side="buy")
    closed_market.minute(session.open_ms)  # fills at 50 after recording last_equity
    assert closed_market.broker.last_equity == D(100000)
    nxt = nyse().next_session(session.date)
    closed_market.prices.flat("AAA", nxt.minutes(), 52.0)
    closed_market.minute(nxt.open_ms)  # marked at today's close (50): equity unchanged
    assert closed_market.broker.last_equity == D(100000)
    closed_market.at(nxt.open_ms + 2 * MINUTE_MS)
    assert closed_market.broker.equity() == D(100000) + 100 * D(2)

"""common.rest_models and common.errors: parsing Alpaca's objects, typed errors by status."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.errors import (
    AuthError,
    BadRequestError,
    ClientRequestError,
    DuplicateClientOrderIdError,
    ForbiddenError,
    NotFoundError,
    OperationalError,
    RateLimitError,
    RefusedError,
    ResponseFormatError,
    ServerError,
    TemporaryError,
    UnprocessableError,
    error_for_status,
)
from common.rest_models import Account, BrokerClock, Order, Position, bar_from_alpaca

ORDER = {
    "id": "61e69015-8549-4bfd-b9c3-01e75843f47d",
    "client_order_id": "rot-1",
    "created_at": "2025-10-16T13:31:00.123456789Z",
    "updated_at": "2025-10-16T13:31:01Z",
    "submitted_at": "2025-10-16T13:31:00Z",
    "filled_at": "2025-10-16T13:31:01.5Z",
    "symbol": "TQQQ",
    "qty": "10",
    "filled_qty": "4",
    "filled_avg_price": "55.125",
    "order_type": "limit",
    "type": "limit",
    "side": "buy",
    "time_in_force": "day",
    "limit_price": "55.2",
    "status": "partially_filled",
}


def test_order_parses_strings_and_keeps_raw():
    o = Order.from_json(ORDER)
    assert (o.qty, o.filled_qty, o.filled_avg_price, o.limit_price) == (10.0, 4.0, 55.125, 55.2)
    assert o.created_at == datetime(2025, 10, 16, 13, 31, 0, 123456, tzinfo=UTC)
    assert o.filled_at == datetime(2025, 10, 16, 13, 31, 1, 500000, tzinfo=UTC)
    assert o.is_open and o.type == "limit" and o.raw == ORDER


def test_order_nulls_become_none_and_numbers_are_accepted():
    obj = dict(
        ORDER,
        qty=None,
        notional="100",
        filled_qty=None,
        filled_avg_price=None,
        filled_at=None,
        limit_price=None,
        status="filled",
    )
    obj["qty"] = None
    o = Order.from_json(obj)
    assert (o.qty, o.filled_qty, o.filled_avg_price, o.filled_at, o.limit_price) == (
        None,
        0.0,
        None,
        None,
        None,
    )
    assert not o.is_open
    assert Order.from_json(dict(ORDER, qty=3.5)).qty == 3.5


def test_order_type_falls_back_to_order_type():
    obj = dict(ORDER)
    del obj["type"]
    assert Order.from_json(obj).type == "limit"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"qty": "ten"}, "qty='ten'"),
        ({"filled_avg_price": "NaN"}, "not finite"),
        ({"created_at": None}, "created_at"),
        ({"status": 3}, "status"),
        ({"qty": True}, "qty"),
    ],
)
def test_bad_orders_name_the_field(change, match):
    with pytest.raises(ResponseFormatError, match=match):
        Order.from_json(dict(ORDER, **change))


def test_order_missing_a_field_or_not_an_object():
    obj = dict(ORDER)
    del obj["client_order_id"]
    with pytest.raises(ResponseFormatError, match="client_order_id.*missing"):
        Order.from_json(obj)
    with pytest.raises(ResponseFormatError, match="JSON object"):
        Order.from_json(["x"])


def test_position_parses_and_tolerates_nulls():
    p = Position.from_json(
        {
            "symbol": "SQQQ",
            "qty": "-5",
            "side": "short",
            "avg_entry_price": "20.5",
            "market_value": None,
            "current_price": "21",
        }
    )
    assert (p.symbol, p.qty, p.side, p.avg_entry_price, p.market_value, p.current_price) == (
        "SQQQ",
        -5.0,
        "short",
        20.5,
        None,
        21.0,
    )
    with pytest.raises(
        ResponseFormatError, match="position SQQQ: field 'avg_entry_price' is missing"
    ):
        Position.from_json({"symbol": "SQQQ", "qty": "1", "side": "long"})


@pytest.mark.parametrize(
    ("qty", "side", "signed"),
    [("5", "long", 5.0), ("-3", "short", -3.0), ("3", "short", -3.0), ("-2", "long", -2.0),
     ("0", "long", 0.0), ("1.5", "SHORT", -1.5)],
)  # fmt: skip
def test_signed_qty_is_negative_for_a_short_whatever_the_sign_of_qty(qty, side, signed):
    p = Position.from_json({"symbol": "SPY", "qty": qty, "side": side, "avg_entry_price": "1"})
    assert p.signed_qty == signed


def test_an_unknown_order_status_is_read_as_open():
    assert Order.from_json(dict(ORDER, status="something_new")).is_open
    for status in ("filled", "canceled", "expired", "rejected", "replaced", "done_for_day"):
        assert not Order.from_json(dict(ORDER, status=status)).is_open
    for status in ("new", "accepted", "pending_new", "partially_filled", "pending_cancel", "held"):
        assert Order.from_json(dict(ORDER, status=status)).is_open


ACCOUNT = {
    "id": "acct-1", "account_number": "PA0000", "status": "ACTIVE", "currency": "USD",
    "cash": "41000.5", "portfolio_value": "100250.25", "equity": "100250.25",
    "last_equity": "100000", "buying_power": "200500.5", "regt_buying_power": "200500.5",
    "daytrading_buying_power": "0", "non_marginable_buying_power": "41000.5",
    "long_market_value": "59249.75", "short_market_value": "0", "initial_margin": "29624.88",
    "maintenance_margin": "17774.93", "multiplier": "2", "daytrade_count": 0,
    "pattern_day_trader": False, "trading_blocked": "False", "transfers_blocked": False,
    "account_blocked": False, "shorting_enabled": True, "created_at": "2025-01-02T00:00:00Z",
}  # fmt: skip


def test_account_parses_money_as_floats_once():
    a = Account.from_json(ACCOUNT)
    assert (a.status, a.cash, a.equity, a.last_equity, a.buying_power, a.portfolio_value) == (
        "ACTIVE", 41000.5, 100250.25, 100000.0, 200500.5, 100250.25
    )  # fmt: skip
    assert (a.long_market_value, a.multiplier, a.daytrade_count, a.currency) == (
        59249.75, 2.0, 0, "USD"
    )  # fmt: skip
    assert a.trading_blocked is False and a.shorting_enabled is True and a.raw == ACCOUNT


def test_account_with_only_the_required_fields():
    a = Account.from_json({"status": "ACTIVE", "cash": "10", "equity": 12})
    assert (a.cash, a.equity, a.last_equity, a.buying_power, a.trading_blocked) == (
        10.0, 12.0, None, None, None
    )  # fmt: skip


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"cash": None}, "account: cash=None is not a number"),
        ({"equity": "lots"}, "account: equity='lots' is not a number"),
        ({"last_equity": "NaN"}, "account: last_equity='NaN' is not finite"),
        ({"trading_blocked": "maybe"}, "account: trading_blocked='maybe' is not true/false"),
        ({"daytrade_count": 1.5}, "daytrade_count=1.5 is not a whole number"),
        ({"status": 1}, "account: status=1 is not a string"),
    ],
)
def test_bad_accounts_name_the_field(change, match):
    with pytest.raises(ResponseFormatError, match=match):
        Account.from_json({**ACCOUNT, **change})
    missing = {k: v for k, v in ACCOUNT.items() if k != "equity"}
    with pytest.raises(ResponseFormatError, match="account: field 'equity' is missing"):
        Account.from_json(missing)


def test_clock():
    c = BrokerClock.from_json(
        {
            "timestamp": "2025-10-16T09:29:59.5-04:00",
            "is_open": False,
            "next_open": "2025-10-16T09:30:00-04:00",
            "next_close": "2025-10-16T16:00:00-04:00",
        }
    )
    assert not c.is_open and c.timestamp_ms == 1_760_621_399_500
    assert c.next_open.utcoffset() is not None


def test_bar_from_alpaca():
    b = bar_from_alpaca(
        "SPY",
        {
            "t": "2025-10-16T13:30:00Z",
            "o": 1,
            "h": 2,
            "l": 0.5,
            "c": 1.5,
            "v": 100,
            "n": 3,
            "vw": 1.2,
        },
    )
    assert (b.symbol, b.t, b.open, b.high, b.low, b.close, b.volume, b.trade_count, b.vwap) == (
        "SPY",
        1_760_621_400_000,
        1,
        2,
        0.5,
        1.5,
        100,
        3,
        1.2,
    )
    with pytest.raises(ResponseFormatError, match="bar of SPY: field 'o' is missing"):
        bar_from_alpaca("SPY", {"t": "2025-10-16T13:30:00Z"})


@pytest.mark.parametrize(
    ("status", "message", "cls", "family"),
    [
        (400, "bad", BadRequestError, RefusedError),
        (401, "request is not authorized", AuthError, OperationalError),
        (403, "insufficient buying power", ForbiddenError, RefusedError),
        (404, "order not found", NotFoundError, RefusedError),
        (422, 'order is already in "filled" state', UnprocessableError, RefusedError),
        (422, "client_order_id must be unique", DuplicateClientOrderIdError, RefusedError),
        (429, "rate limit exceeded", RateLimitError, TemporaryError),
        (500, "internal", ServerError, TemporaryError),
        (504, "gateway", ServerError, TemporaryError),
        (418, "teapot", ClientRequestError, RefusedError),
    ],
)
def test_error_for_status(status, message, cls, family):
    err = error_for_status(status, 123, message, method="GET", path="/v2/x")
    assert type(err) is cls
    assert (err.status, err.code, err.message) == (status, 123, message)
    assert str(err) == f"GET /v2/x: HTTP {status} code=123 {message}"
    if family is not None:
        assert isinstance(err, family)
    assert isinstance(DuplicateClientOrderIdError(422, 1, "x"), UnprocessableError)

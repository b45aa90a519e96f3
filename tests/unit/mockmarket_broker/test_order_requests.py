"""Order request validation: Alpaca-shaped errors that name the field; fuzzed with hypothesis."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockmarket.order_requests import parse_new_order, parse_replacement
from mockmarket.trading_errors import TradingError

BASE = {"symbol": "AAA", "qty": 1, "side": "buy", "type": "market", "time_in_force": "day"}


def _err(**changes) -> TradingError:
    body = {**BASE, **changes}
    body = {k: v for k, v in body.items() if v is not ...}
    with pytest.raises(TradingError) as e:
        parse_new_order(body)
    return e.value


def test_a_valid_order_from_alpaca_py_floats_or_strings():
    req = parse_new_order({**BASE, "qty": 2.5, "symbol": "aaa"})
    assert req.qty == Decimal("2.5") and req.symbol == "AAA"
    lim = parse_new_order({**BASE, "type": "limit", "limit_price": "12.34", "qty": "3"})
    assert lim.limit_price == Decimal("12.34") and lim.qty == 3


def test_qty_and_notional_together_is_400():
    e = _err(notional=100)
    assert (e.status, e.code) == (400, 40010000) and "notional" in e.message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"symbol": ...}, "symbol"),
        ({"side": "hold"}, "side"),
        ({"type": ...}, "type"),
        ({"time_in_force": "week"}, "time_in_force"),
        ({"qty": ...}, "qty or notional"),
        ({"qty": -1}, "qty"),
        ({"qty": 0}, "qty"),
        ({"qty": True}, "qty"),
        ({"qty": "ten"}, "qty"),
        ({"qty": float("nan")}, "qty"),
        ({"qty": "1.0000000001"}, "qty"),
        ({"qty": 1.5, "time_in_force": "gtc"}, "fractional"),
        ({"type": "limit"}, "limit_price"),
        ({"type": "limit", "limit_price": "10.001"}, "limit_price"),
        ({"type": "limit", "limit_price": -3}, "limit_price"),
        ({"limit_price": 10}, "limit_price"),
        ({"client_order_id": "x" * 49}, "client_order_id"),
        ({"client_order_id": 12}, "client_order_id"),
        ({"extended_hours": True}, "extended_hours"),
        ({"extended_hours": "maybe"}, "extended_hours"),
        ({"qty": ..., "notional": 100, "type": "limit", "limit_price": 5}, "notional"),
        ({"qty": ..., "notional": 0.5}, "notional"),
        ({"order_class": "bracket"}, "order_class"),
        ({"stop_price": 3}, "stop_price"),
    ],
)
def test_validation_errors_name_the_field(changes, field):
    e = _err(**changes)
    assert e.status == 422 and e.code == 40010001
    assert field in e.message


@pytest.mark.parametrize("otype", ["stop", "stop_limit", "trailing_stop"])
def test_unsupported_order_types_are_422(otype):
    e = _err(type=otype)
    assert e.status == 422 and "unsupported order type" in e.message


def test_sub_dollar_limit_prices_take_four_decimals():
    assert parse_new_order({**BASE, "type": "limit", "limit_price": 0.1234}).limit_price == Decimal(
        "0.1234"
    )


def test_non_object_body_is_400():
    with pytest.raises(TradingError) as e:
        parse_new_order(["not", "an", "object"])
    assert e.value.status == 400


def test_replacement_needs_a_field_and_refuses_stops():
    with pytest.raises(TradingError, match="nothing to replace"):
        parse_replacement({})
    with pytest.raises(TradingError, match="stop_price"):
        parse_replacement({"stop_price": 3})
    rep = parse_replacement({"qty": 3, "time_in_force": "GTC"})
    assert rep.qty == 3 and rep.time_in_force == "gtc"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
order_like = st.fixed_dictionaries(
    {},
    optional={
        k: json_values | st.sampled_from(v)
        for k, v in {
            "symbol": ["AAA", "BBB", "ZZZ"],
            "qty": [1, "2", 0.5, -1],
            "notional": [100, "5.5"],
            "side": ["buy", "sell"],
            "type": ["market", "limit", "stop"],
            "time_in_force": ["day", "gtc", "ioc", "fok", "opg", "cls"],
            "limit_price": [49.5, "51", "0.0001"],
            "client_order_id": ["a", "b"],
            "extended_hours": [True, "false"],
        }.items()
    },
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=order_like | json_values)
def test_any_body_is_an_order_or_an_alpaca_error(market, body):
    """The broker answers every input with an order or a TradingError, nothing else."""
    try:
        order = market.broker.submit(body).order
    except TradingError as e:
        assert e.status in (400, 403, 404, 422) and e.message
    else:
        assert order["status"] in ("new", "filled", "partially_filled", "canceled", "accepted")

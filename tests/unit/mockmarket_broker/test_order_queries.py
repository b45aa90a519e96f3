"""GET /v2/orders filters."""

from __future__ import annotations

import pytest

from common.bars import MINUTE_MS
from common.calendar import rfc3339_utc
from mockmarket.trading_errors import TradingError


@pytest.fixture
def book(market, session):
    """Five orders one minute apart: filled AAA, open AAA, filled BBB, open BBB sell, canceled AAA."""
    t0 = session.open_ms + 31 * MINUTE_MS
    ids = []
    bodies = [
        {"symbol": "AAA", "qty": 1, "side": "buy"},
        {"symbol": "AAA", "qty": 1, "side": "buy", "type": "limit", "limit_price": "40"},
        {"symbol": "BBB", "qty": 1, "side": "buy"},
        {"symbol": "BBB", "qty": 1, "side": "sell", "type": "limit", "limit_price": "30"},
        {"symbol": "AAA", "qty": 1, "side": "buy", "type": "limit", "limit_price": "41"},
    ]
    for i, body in enumerate(bodies):
        market.at(t0 + i * MINUTE_MS)
        ids.append(market.order(**body)["id"])
    market.broker.cancel_order(ids[4])
    return market, ids, t0


def _ids(market, **query) -> list[str]:
    return [o["id"] for o in market.broker.list_orders({k: str(v) for k, v in query.items()})]


def test_default_is_open_newest_first(book):
    market, ids, _ = book
    assert _ids(market) == [ids[3], ids[1]]


def test_status_direction_limit_symbols_side(book):
    market, ids, _ = book
    assert _ids(market, status="closed", direction="asc") == [ids[0], ids[2], ids[4]]
    assert _ids(market, status="all", limit=2) == [ids[4], ids[3]]
    assert _ids(market, status="all", symbols="BBB", direction="asc") == [ids[2], ids[3]]
    assert _ids(market, status="all", side="sell") == [ids[3]]
    assert _ids(market, status="all", nested="True") == list(reversed(ids))


def test_after_and_until_are_exclusive(book):
    market, ids, t0 = book
    got = _ids(
        market,
        status="all",
        after=rfc3339_utc(t0),
        until=rfc3339_utc(t0 + 3 * MINUTE_MS),
        direction="asc",
    )
    assert got == [ids[1], ids[2]]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"status": "pending"}, "status"),
        ({"direction": "up"}, "direction"),
        ({"after": "yesterday"}, "after"),
        ({"side": "long"}, "side"),
        ({"nested": "perhaps"}, "nested"),
    ],
)
def test_bad_filters_are_422_naming_the_field(market, query, field):
    with pytest.raises(TradingError) as e:
        market.broker.list_orders(query)
    assert e.value.status == 422 and field in e.value.message

"""REST answers (alpaca-protocol.md §3–4): orders, positions, account, clock and bars as
Alpaca might send them — numbers as strings or as numbers, fields missing or null, any
JSON in their place, bodies that are not JSON, any status — read by the real client over a
session that answers what the fuzzer says. The only errors are the documented ones
(:class:`ResponseFormatError` for an unreadable success, an :class:`AlpacaAPIError`
subclass for an error status), each naming what was wrong, and never carrying the keys."""

from __future__ import annotations

import json
from typing import Any

import requests
from hypothesis import given
from hypothesis import strategies as st

from common.bars import Bar
from common.env import AlpacaEndpoints
from common.errors import AlpacaAPIError, ResponseFormatError, TraderError
from common.rest import AlpacaRestClient
from common.rest_models import Account, BrokerClock, Order, Position
from tests.fuzz.fuzzing import bent, count, fuzz, json_values

KEY, SECRET = "PKFUZZKEY0000000001", "fuzzsecret/0000000000000000000000000000001"

ORDER = {
    "id": "61e69015-8549-4bfd-b9c3-01e75843f47d", "client_order_id": "it-rot-20251016-1000-TQQQ-b-0",
    "created_at": "2025-10-16T14:00:01.000000Z", "updated_at": "2025-10-16T14:00:02Z",
    "submitted_at": "2025-10-16T14:00:01Z", "filled_at": "2025-10-16T14:00:02Z", "expired_at": None,
    "canceled_at": None, "failed_at": None, "replaced_at": None, "replaced_by": None, "replaces": None,
    "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415", "symbol": "TQQQ", "asset_class": "us_equity",
    "notional": None, "qty": "100", "filled_qty": "100", "filled_avg_price": "50.25", "order_class": "",
    "order_type": "market", "type": "market", "side": "buy", "time_in_force": "day", "limit_price": None,
    "stop_price": None, "status": "filled", "extended_hours": False, "legs": None,
}  # fmt: skip
POSITION = {
    "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415", "symbol": "SQQQ", "exchange": "NASDAQ",
    "asset_class": "us_equity", "avg_entry_price": "16.5", "qty": "-30", "side": "short",
    "cost_basis": "-495", "market_value": "-490.5", "unrealized_pl": "4.5", "unrealized_plpc": "0.009",
    "unrealized_intraday_pl": "4.5", "current_price": "16.35", "lastday_price": "16.6",
    "change_today": "-0.015", "qty_available": "-30",
}  # fmt: skip
ACCOUNT = {
    "id": "acc-1", "account_number": "PA0000001", "status": "ACTIVE", "currency": "USD", "cash": "100000",
    "portfolio_value": "100000", "equity": "100000", "last_equity": "99000", "buying_power": "200000",
    "regt_buying_power": "200000", "daytrading_buying_power": "400000", "non_marginable_buying_power": "100000",
    "long_market_value": "0", "short_market_value": "0", "initial_margin": "0", "maintenance_margin": "0",
    "multiplier": "2", "created_at": "2024-01-01T00:00:00Z", "daytrade_count": 0, "pattern_day_trader": False,
    "trading_blocked": "False", "transfers_blocked": False, "account_blocked": False, "shorting_enabled": True,
}  # fmt: skip
CLOCK = {"timestamp": "2025-10-16T10:00:00.123-04:00", "is_open": True,
         "next_open": "2025-10-17T09:30:00-04:00", "next_close": "2025-10-16T16:00:00-04:00"}  # fmt: skip
BAR = {"t": "2025-10-16T13:30:00Z", "o": 10.0, "h": 10.5, "l": 9.5, "c": 10.2, "v": 1200, "n": 12, "vw": 10.1}


def secretish(v: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from([KEY, SECRET, f"bad key {KEY}", f"{{'secret': '{SECRET}'}}"])


def answers(good: Any, listed: bool) -> st.SearchStrategy[Any]:
    one = st.one_of(bent(good), bent(good), st.just(good), json_values)
    if listed:
        return st.lists(one, max_size=3) | json_values
    return one


class FakeSession:
    """A ``requests.Session`` that answers each request with the next (status, body)."""

    def __init__(self, answers: list[tuple[int, bytes, str]]) -> None:
        self.answers = answers

    def request(self, method: str, url: str, **kw: Any) -> requests.Response:
        status, body, ctype = self.answers.pop(0) if self.answers else (200, b"{}", "application/json")
        r = requests.Response()
        r.status_code = status
        r._content = body
        r.headers["Content-Type"] = ctype
        r.reason = "fuzz"
        r.url = url
        return r

    def close(self) -> None:
        pass


def client(answers: list[tuple[int, bytes, str]]) -> AlpacaRestClient:
    ep = AlpacaEndpoints(KEY, SECRET, "http://127.0.0.1:1", "http://127.0.0.1:1", "ws://127.0.0.1:1/v2/iex")
    return AlpacaRestClient(ep, max_retries=0, sleep=lambda s: None, session=FakeSession(answers))  # type: ignore[arg-type]


def body(value: Any, raw: bytes | None, echo_secret: bool) -> bytes:
    if raw is not None:
        return raw
    text = json.dumps(value)
    if echo_secret:  # a broker (or a proxy) echoing the request's keys must not put them in our errors
        text = text.replace('"', f'"{SECRET} ', 1) if text.startswith('"') else text
    return text.encode()


statuses = st.sampled_from([200, 200, 200, 200, 201, 204, 207, 301, 400, 401, 403, 404, 422, 429, 500, 503])
raws = st.none() | st.none() | st.binary(max_size=60) | st.just(b"[" * 5000) | st.sampled_from(
    [f"<html>{SECRET}</html>".encode(), b"", b"null", f'{{"message": "key {KEY} refused", "code": 40110000}}'.encode()]
)

CALLS = {
    "account": (ACCOUNT, False, lambda c: c.get_account(), Account),
    "clock": (CLOCK, False, lambda c: c.get_clock(), BrokerClock),
    "positions": (POSITION, True, lambda c: c.get_positions(), list),
    "orders": (ORDER, True, lambda c: c.list_orders(status="all"), list),
    "order by client id": (ORDER, False, lambda c: c.get_order_by_client_id("it-1"), (Order, type(None))),
}


def check_error(e: TraderError) -> None:
    text = str(e)
    assert text
    assert KEY not in text and SECRET not in text, text


def fuzz_call(name: str, data: st.DataObject) -> None:
    good, listed, call, kind = CALLS[name]
    count(f"rest answer: AlpacaRestClient {name}")
    value = data.draw(answers(good, listed))
    status = data.draw(statuses)
    raw = data.draw(raws)
    c = client([(status, body(value, raw, data.draw(st.booleans())), "application/json")])
    try:
        out = call(c)
    except (ResponseFormatError, AlpacaAPIError) as e:
        check_error(e)
        return
    assert isinstance(out, kind)
    if isinstance(out, list):
        assert all(isinstance(x, Position | Order) for x in out)


@fuzz
@given(st.data())
def test_account(data: st.DataObject) -> None:
    fuzz_call("account", data)


@fuzz
@given(st.data())
def test_clock(data: st.DataObject) -> None:
    fuzz_call("clock", data)


@fuzz
@given(st.data())
def test_positions(data: st.DataObject) -> None:
    fuzz_call("positions", data)


@fuzz
@given(st.data())
def test_orders(data: st.DataObject) -> None:
    fuzz_call("orders", data)


@fuzz
@given(st.data())
def test_order_by_client_id(data: st.DataObject) -> None:
    fuzz_call("order by client id", data)


pages = st.fixed_dictionaries(
    {"bars": st.one_of(st.dictionaries(st.sampled_from(["AAA", "BBB", ""]), st.lists(answers(BAR, False), max_size=3) | json_values, max_size=2), json_values)},
    optional={"next_page_token": st.none() | st.sampled_from(["", "p2", "p2"]) | json_values, "symbol": json_values},
)  # fmt: skip


@fuzz
@given(st.lists(st.tuples(statuses, pages | json_values, raws), min_size=1, max_size=3))
def test_bars(replies: list) -> None:
    count("rest answer: AlpacaRestClient bars (pages)")
    from datetime import UTC, datetime

    c = client([(s, body(v, r, False), "application/json") for s, v, r in replies])
    try:
        out = c.get_bars(["AAA", "BBB"], datetime(2025, 10, 16, 13, 30, tzinfo=UTC), datetime(2025, 10, 16, 20, tzinfo=UTC))
    except (ResponseFormatError, AlpacaAPIError) as e:
        check_error(e)
        return
    assert {"AAA", "BBB"} <= set(out)
    for sym, bars in out.items():
        ts = [b.t for b in bars]
        assert ts == sorted(set(ts))
        for b in bars:
            assert isinstance(b, Bar) and b.symbol == sym
            b.validate()


def test_regression_an_answer_nested_deeper_than_python_recurses_is_a_format_error() -> None:
    """Found by the fuzzer: json's RecursionError escaped the client (success and error answers)."""
    deep = b"[" * 100_000
    try:
        client([(200, deep, "application/json")]).get_account()
    except ResponseFormatError as e:
        assert "GET /v2/account" in str(e) and "not JSON" in str(e)
    else:
        raise AssertionError("no error")
    try:
        client([(422, deep, "application/json")]).get_positions()
    except AlpacaAPIError as e:
        assert e.status == 422 and e.code is None
    else:
        raise AssertionError("no error")


def test_regression_a_page_token_that_is_not_a_string_is_a_format_error() -> None:
    """Found by the fuzzer: ``"next_page_token": [null]`` raised TypeError (unhashable list)."""
    from datetime import UTC, datetime

    c = client([(200, b'{"bars": {}, "next_page_token": [null]}', "application/json")])
    try:
        c.get_bars(["AAA"], datetime(2025, 10, 16, 13, 30, tzinfo=UTC), datetime(2025, 10, 16, 20, tzinfo=UTC))
    except ResponseFormatError as e:
        assert "next_page_token" in str(e)
    else:
        raise AssertionError("no error")

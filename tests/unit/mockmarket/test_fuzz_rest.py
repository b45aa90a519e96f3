"""Hypothesis: arbitrary query strings and bodies get Alpaca-shaped answers, never a crash."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PARAM_NAMES = [
    "symbols",
    "timeframe",
    "start",
    "end",
    "limit",
    "page_token",
    "sort",
    "feed",
    "adjustment",
    "asof",
    "currency",
    "qty",
    "status",
    "direction",
    "after",
    "until",
    "nested",
    "cancel_orders",
]
GET_PATHS = [
    "/v2/stocks/bars",
    "/v2/stocks/{s}/bars",
    "/v2/stocks/bars/latest",
    "/v2/stocks/{s}/bars/latest",
    "/v2/calendar",
    "/v2/clock",
    "/v2/orders",
    "/v2/positions/{s}",
    "/v2/assets/{s}",
    "/v2/orders:by_client_order_id",
    "/admin/clock",
    "/admin/market",
    "/v2/{s}",
]
POST_PATHS = ["/admin/clock", "/admin/faults", "/v2/orders"]

texts = st.text(max_size=40)
param_values = st.one_of(
    texts,
    st.sampled_from(
        [
            "1Min",
            "1T",
            "5Min",
            "AAA,BBB",
            "THIN",
            "asc",
            "desc",
            "iex",
            "raw",
            "0",
            "-1",
            "10000",
            "10001",
            "2025-10-16",
            "2025-10-16T14:00:00Z",
            "2025-10-16T10:00:00-04:00",
            "",
            " ",
            "nan",
        ]
    ),
    st.integers().map(str),
)
VALID = {"symbols": "AAA,BBB,THIN", "timeframe": "1Min", "start": "2025-10-15", "limit": "100"}
# mostly-valid queries with a few parameters dropped or replaced, so later checks run too
params = st.builds(
    lambda drop, overrides: {**{k: v for k, v in VALID.items() if k not in drop}, **overrides},
    st.sets(st.sampled_from(sorted(VALID))),
    st.dictionaries(st.one_of(st.sampled_from(PARAM_NAMES), texts), param_values, max_size=4),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
known_keys = st.sampled_from(
    [
        "action",
        "seconds",
        "speed",
        "time",
        "symbol",
        "qty",
        "side",
        "type",
        "time_in_force",
        "limit_price",
        "client_order_id",
        "notional",
        "rest_429_count",
        "rest_5xx_status",
        "partial_fill_rate",
        "silence_open",
        "connection_limit_seconds",
    ]
)
bodies = st.one_of(
    st.dictionaries(st.one_of(known_keys, texts), json_values, max_size=6).map(
        lambda d: json.dumps(d).encode()
    ),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)


@pytest.fixture(scope="module")
def fuzz_server(store, facts):
    # speed 1 and running: requests meet a moving clock; faults stay off except what examples set
    s = facts.start_server(store, paused=False, max_connections=100)
    yield s
    s.stop()


def assert_alpaca_shaped(r: requests.Response) -> None:
    assert r.status_code != 500, f"{r.request.method} {r.request.url}: 500 {r.text[:300]}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.text[:200]
    body = r.json()
    if r.status_code >= 400:
        assert set(body) == {"code", "message"}, body
        assert (
            isinstance(body["code"], int) and isinstance(body["message"], str) and body["message"]
        )


def reset(server) -> None:
    """Undo what an example may have changed (faults, a paused clock)."""
    server.admin(
        "POST",
        "/admin/faults",
        {
            "rest_429_count": 0,
            "rest_5xx_count": 0,
            "handshake_429_count": 0,
            "silent_count": 0,
            "reject_order_count": 0,
            "lose_order_response_count": 0,
        },
    )


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(GET_PATHS), symbol=texts, query=params)
def test_get_with_arbitrary_query_strings(fuzz_server, path, symbol, query):
    url = fuzz_server.base_url + path.replace("{s}", quote(symbol, safe="") or "X")
    r = requests.get(url, params=query, headers=fuzz_server.headers, timeout=10)
    if r.status_code in (429, 503):  # a fault an admin body example switched on
        reset(fuzz_server)
    assert_alpaca_shaped(r)


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(POST_PATHS), body=bodies)
def test_post_with_arbitrary_bodies(fuzz_server, path, body):
    r = requests.post(
        fuzz_server.base_url + path,
        data=body,
        timeout=10,
        headers={**fuzz_server.headers, "Content-Type": "application/json"},
    )
    reset(fuzz_server)
    if path == "/admin/clock" and r.status_code == 200:
        fuzz_server.admin("POST", "/admin/clock", {"action": "resume"})
        fuzz_server.admin("POST", "/admin/clock", {"action": "set_speed", "speed": 1})
    assert_alpaca_shaped(r)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    headers=st.dictionaries(
        st.sampled_from(["APCA-API-KEY-ID", "APCA-API-SECRET-KEY", "Content-Type", "X-Y"]),
        st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30),
        max_size=4,
    )
)
def test_arbitrary_auth_headers(fuzz_server, headers):
    r = requests.get(fuzz_server.base_url + "/v2/clock", headers=headers, timeout=10)
    assert r.status_code in (200, 401)
    assert_alpaca_shaped(r)


def test_the_server_still_serves_after_the_fuzzing(fuzz_server):
    assert fuzz_server.get("/v2/clock").status_code == 200
    assert fuzz_server.get("/v2/stocks/bars", symbols="AAA", timeframe="1Min").status_code == 200

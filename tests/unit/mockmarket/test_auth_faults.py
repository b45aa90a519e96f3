from __future__ import annotations

import time

import pytest
import requests

PATHS = [
    "/v2/clock",
    "/v2/stocks/bars?symbols=AAA&timeframe=1Min",
    "/v2/account",
    "/admin/clock",
    "/admin/faults",
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"APCA-API-KEY-ID": "unit-key"},
        {"APCA-API-KEY-ID": "unit-key", "APCA-API-SECRET-KEY": "wrong"},
        {"APCA-API-KEY-ID": "other", "APCA-API-SECRET-KEY": "unit-secret-value"},
    ],
)
def test_every_rest_endpoint_checks_the_keys(server, path, headers):
    r = requests.get(server.base_url + path, headers=headers, timeout=10)
    assert r.status_code == 401
    assert r.json() == {"code": 40110000, "message": "request is not authorized"}


def test_rate_limit_headers_on_every_answer(server):
    r = server.get("/v2/clock")
    assert r.status_code == 200
    assert int(r.headers["X-Ratelimit-Limit"]) == 200
    assert int(r.headers["X-Ratelimit-Remaining"]) >= 0
    assert int(r.headers["X-Ratelimit-Reset"]) >= int(time.time())


def test_429_burst_with_rate_limit_headers(server):
    server.admin("POST", "/admin/faults", {"rest_429_count": 2})
    for _ in range(2):
        r = server.get("/v2/clock")
        assert r.status_code == 429
        assert r.json() == {"code": 42910000, "message": "rate limit exceeded"}
        assert r.headers["X-Ratelimit-Remaining"] == "0"
        assert int(time.time()) < int(r.headers["X-Ratelimit-Reset"]) <= int(time.time()) + 3
    assert server.get("/v2/clock").status_code == 200
    assert server.admin("GET", "/admin/faults")["rest_429_count"] == 0


def test_5xx_burst_uses_the_configured_status(server):
    server.admin("POST", "/admin/faults", {"rest_5xx_count": 2, "rest_5xx_status": 504})
    statuses = [
        server.get("/v2/stocks/bars", symbols="AAA", timeframe="1Min").status_code for _ in range(3)
    ]
    assert statuses == [504, 504, 200]
    server.admin("POST", "/admin/faults", {"rest_5xx_count": 1, "rest_5xx_status": 500})
    r = server.get("/v2/account")
    assert r.status_code == 500 and r.json() == {
        "code": 50010000,
        "message": "internal server error",
    }


def test_admin_is_exempt_from_rest_faults(server):
    server.admin("POST", "/admin/faults", {"rest_429_count": 1, "rest_5xx_count": 1})
    for _ in range(3):
        server.admin("GET", "/admin/counters")
    assert server.get("/v2/clock").status_code == 429
    assert server.get("/v2/clock").status_code == 503
    assert server.get("/v2/clock").status_code == 200


def test_unauthorized_requests_do_not_consume_faults(server):
    server.admin("POST", "/admin/faults", {"rest_429_count": 1})
    assert requests.get(server.base_url + "/v2/clock", timeout=10).status_code == 401
    assert server.get("/v2/clock").status_code == 429


def test_unknown_path_and_wrong_method_are_json(server):
    r = server.get("/v2/no/such/thing")
    assert r.status_code == 404
    assert r.json() == {"code": 40410000, "message": "endpoint not found: GET /v2/no/such/thing"}
    r = requests.put(server.base_url + "/v2/clock", headers=server.headers, timeout=10)
    assert r.status_code == 405 and "PUT" in r.json()["message"]
    assert "GET" in r.headers["Allow"]


def test_a_plain_get_on_a_websocket_path_is_an_alpaca_error(server):
    r = requests.get(server.base_url + "/v2/iex", timeout=10)
    assert r.status_code == 400 and "websocket" in r.json()["message"]


def test_an_unexpected_exception_becomes_a_500_and_the_server_goes_on(server, monkeypatch):
    from mockmarket import clock_routes

    def boom(*_a, **_k):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(clock_routes, "calendar_day_json", boom)
    r = server.get("/v2/calendar", start="2025-10-16", end="2025-10-16")
    assert r.status_code == 500
    assert r.json() == {"code": 50010000, "message": "internal server error"}
    assert server.get("/v2/clock").status_code == 200


GOOD = {"APCA-API-KEY-ID": "unit-key", "APCA-API-SECRET-KEY": "unit-secret-value"}
WRITES = [
    ("POST", "/v2/orders", {"symbol": "AAA", "qty": "1", "side": "buy", "type": "market",
                            "time_in_force": "day", "client_order_id": "wrong-keys-1"}),  # fmt: skip
    ("DELETE", "/v2/orders", None),
    ("DELETE", "/v2/positions?cancel_orders=true", None),
    ("POST", "/admin/clock", {"action": "pause"}),
    ("POST", "/admin/faults", {"reject_order_count": 5}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
@pytest.mark.parametrize(
    "headers",
    [{}, {"APCA-API-KEY-ID": "unit-key", "APCA-API-SECRET-KEY": "wrong"},
     {"APCA-API-KEY-ID": "other", "APCA-API-SECRET-KEY": "unit-secret-value"}],
)  # fmt: skip
def test_wrong_keys_change_nothing(server, method, path, body, headers):
    """A request that would trade or steer the market is refused (401) with wrong keys, and
    leaves no trace: no order, the clock and the faults as they were."""
    def look() -> tuple:
        get = {p: requests.get(server.base_url + p, headers=GOOD, timeout=10).json() for p in ("/admin/faults", "/admin/clock", "/admin/counters")}
        clock = {k: v for k, v in get["/admin/clock"].items() if k in ("speed", "paused", "replay_date")}
        return get["/admin/faults"], clock, {k: v for k, v in get["/admin/counters"].items() if "order" in k}

    before = look()
    r = requests.request(method, server.base_url + path, json=body, headers=headers, timeout=10)
    assert r.status_code == 401
    assert r.json() == {"code": 40110000, "message": "request is not authorized"}
    orders = requests.get(server.base_url + "/v2/orders?status=all", headers=GOOD, timeout=10)
    assert orders.status_code == 200 and orders.json() == []
    assert look() == before

"""Trading REST over real HTTP against the whole mockmarket app."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.bars import MINUTE_MS


def _url(api, path: str) -> str:
    return api.base + path


def _order(api, **body) -> requests.Response:
    body = {
        "symbol": "AAA",
        "qty": "10",
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
        **body,
    }
    return api.post(_url(api, "/v2/orders"), json=body)


def test_every_trading_route_needs_the_keys(server):
    for method, path in [
        ("GET", "/v2/account"),
        ("GET", "/v2/orders"),
        ("POST", "/v2/orders"),
        ("DELETE", "/v2/positions"),
        ("GET", "/v2/assets/AAA"),
    ]:
        r = requests.request(method, server.base_url + path, headers={"APCA-API-KEY-ID": "x"})
        assert r.status_code == 401, path
        assert r.json() == {"code": 40110000, "message": "request is not authorized"}


def test_submit_get_list_and_cancel(api, server):
    r = _order(api, client_order_id="c-1")
    assert r.status_code == 200
    filled = r.json()
    assert filled["status"] == "filled" and isinstance(filled["filled_avg_price"], str)
    assert "X-Ratelimit-Limit" in r.headers
    assert api.get(_url(api, f"/v2/orders/{filled['id']}")).json() == filled
    by_cid = api.get(_url(api, "/v2/orders:by_client_order_id"), params={"client_order_id": "c-1"})
    assert by_cid.json()["id"] == filled["id"]

    rest = _order(api, type="limit", limit_price="1.00", client_order_id="c-2").json()
    listed = api.get(_url(api, "/v2/orders"), params={"status": "all", "direction": "asc"}).json()
    assert [o["id"] for o in listed] == [filled["id"], rest["id"]]

    r = api.delete(_url(api, f"/v2/orders/{rest['id']}"))
    assert (r.status_code, r.text) == (204, "")
    r = api.delete(_url(api, f"/v2/orders/{rest['id']}"))
    assert r.status_code == 422
    assert r.json() == {"code": 42210000, "message": 'order is already in "canceled" state'}
    r = api.delete(_url(api, "/v2/orders/8c6b6a4e-7f6c-4c43-9a53-1d4a63a8f6f2"))
    assert (r.status_code, r.json()["code"]) == (404, 40410000)
    r = api.get(_url(api, "/v2/orders:by_client_order_id"), params={"client_order_id": "nope"})
    assert r.status_code == 404


def test_duplicate_client_order_id_is_422(api, server):
    assert _order(api, client_order_id="dup").status_code == 200
    r = _order(api, client_order_id="dup")
    assert r.status_code == 422
    assert r.json() == {"code": 40010001, "message": "client_order_id must be unique"}
    assert api.get(_url(api, "/admin/counters")).json()["duplicates_rejected"] == 1


def test_bad_requests_are_alpaca_shaped(api):
    r = api.post(
        _url(api, "/v2/orders"), data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and set(r.json()) == {"code", "message"}
    r = _order(api, qty=None, notional=None)
    assert r.status_code == 422 and "qty or notional" in r.json()["message"]
    r = _order(api, notional="100")
    assert r.status_code == 400
    r = _order(api, type="stop", stop_price=None)
    assert r.status_code == 422 and "unsupported order type" in r.json()["message"]
    r = api.get(_url(api, "/v2/orders"), params={"limit": "9999"})
    assert r.status_code == 422 and "limit" in r.json()["message"]
    r = _order(api, qty="100000")
    assert (r.status_code, r.json()["code"]) == (403, 40310000)


def test_lost_response_fault_drops_the_connection_but_keeps_the_order(api, server):
    server.set_faults(lose_order_response_count=1)
    with pytest.raises(requests.ConnectionError):
        _order(api, client_order_id="lost")
    got = api.get(_url(api, "/v2/orders:by_client_order_id"), params={"client_order_id": "lost"})
    assert got.status_code == 200 and got.json()["status"] == "filled"
    assert _order(api, client_order_id="lost").status_code == 422  # a blind resend is caught


def test_rejected_fault(api, server):
    server.set_faults(reject_order_count=1)
    r = _order(api)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    assert api.get(_url(api, f"/v2/orders/{r.json()['id']}")).json()["status"] == "rejected"
    assert api.get(_url(api, "/admin/counters")).json()["orders_rejected"] == 1


def test_positions_account_and_closing(api, server, session):
    _order(api, qty="10")
    _order(api, symbol="BBB", qty="5", side="sell")
    positions = api.get(_url(api, "/v2/positions")).json()
    assert [(p["symbol"], p["qty"], p["side"]) for p in positions] == [
        ("AAA", "10", "long"),
        ("BBB", "-5", "short"),
    ]
    acct = api.get(_url(api, "/v2/account")).json()
    assert Decimal(acct["equity"]) == Decimal(acct["cash"]) + Decimal(
        acct["long_market_value"]
    ) + Decimal(acct["short_market_value"])
    r = api.delete(_url(api, "/v2/positions/AAA"), params={"percentage": "50"})
    assert r.status_code == 200 and r.json()["qty"] == "5" and r.json()["side"] == "sell"
    _order(api, type="limit", limit_price="1.00")  # open: canceled by cancel_orders=true
    r = api.delete(_url(api, "/v2/positions"), params={"cancel_orders": "True"})
    assert r.status_code == 207
    assert sorted((x["symbol"], x["status"]) for x in r.json()) == [("AAA", 200), ("BBB", 200)]
    assert api.get(_url(api, "/v2/positions")).json() == []
    assert api.get(_url(api, "/v2/orders")).json() == []
    r = api.get(_url(api, "/v2/positions/AAA"))
    assert r.status_code == 404 and r.json()["message"] == "position does not exist"


def test_cancel_all_is_207(api):
    ids = {_order(api, type="limit", limit_price=f"{p}.00").json()["id"] for p in (1, 2, 3)}
    r = api.delete(_url(api, "/v2/orders"))
    assert r.status_code == 207
    assert {x["id"] for x in r.json()} == ids and all(x["status"] == 200 for x in r.json())


def test_replace_by_patch(api):
    old = _order(api, type="limit", limit_price="1.00").json()
    r = api.patch(_url(api, f"/v2/orders/{old['id']}"), json={"limit_price": 1.5, "qty": 3})
    assert r.status_code == 200
    new = r.json()
    assert (new["replaces"], new["limit_price"], new["qty"]) == (old["id"], "1.5", "3")
    assert api.get(_url(api, f"/v2/orders/{old['id']}")).json()["status"] == "replaced"


def test_assets(api):
    asset = api.get(_url(api, "/v2/assets/AAA")).json()
    assert asset["symbol"] == "AAA" and asset["tradable"] and asset["class"] == "us_equity"
    assert api.get(_url(api, "/v2/assets/NOPE")).status_code == 404


def test_queued_order_fills_at_the_next_minute_open_via_the_minute_step(api, server, session):
    # a limit order resting until a later minute's bar trades through it
    m = session.open_ms + 30 * MINUTE_MS
    store = server.ctx.store
    later = store.bar_at("AAA", m + 5 * MINUTE_MS)
    limit = f"{later.low:.2f}"
    order = _order(api, type="limit", limit_price=limit, qty="1").json()
    for k in range(1, 8):
        server.minute(m + k * MINUTE_MS)
    got = api.get(_url(api, f"/v2/orders/{order['id']}")).json()
    assert got["status"] == "filled"
    assert Decimal(got["filled_avg_price"]) <= Decimal(limit)


settings_http = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
fuzz_values = (
    st.none()
    | st.booleans()
    | st.integers(-10, 10**9)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)


@settings_http
@given(
    body=st.dictionaries(
        st.sampled_from(
            [
                "symbol",
                "qty",
                "notional",
                "side",
                "type",
                "time_in_force",
                "limit_price",
                "client_order_id",
                "extended_hours",
                "order_class",
            ]
        ),
        fuzz_values
        | st.sampled_from(["AAA", "buy", "sell", "market", "limit", "day", "gtc", "1", "50.5"]),
    )
    | st.lists(fuzz_values, max_size=3)
    | fuzz_values
)
def test_fuzzed_order_bodies_get_an_order_or_an_alpaca_error(api, body):
    r = api.post(_url(api, "/v2/orders"), json=body)
    assert r.status_code in (200, 400, 403, 422), r.text
    payload = r.json()
    if r.status_code != 200:
        assert isinstance(payload["code"], int) and payload["message"]
    else:
        assert isinstance(payload["id"], str)

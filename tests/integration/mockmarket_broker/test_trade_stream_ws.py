"""The trade-updates websocket over a real socket, with the websockets client."""

from __future__ import annotations

import contextlib
import json

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect


def _auth(ws, key: str, secret: str) -> dict:
    ws.send(json.dumps({"action": "authenticate", "data": {"key_id": key, "secret_key": secret}}))
    return json.loads(ws.recv(timeout=5))


def test_auth_listen_and_fill_events_in_binary_frames(server, keys):
    with connect(server.stream_url) as ws:
        assert _auth(ws, *keys) == {
            "stream": "authorization",
            "data": {"status": "authorized", "action": "authenticate"},
        }
        ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
        assert json.loads(ws.recv(timeout=5)) == {
            "stream": "listening",
            "data": {"streams": ["trade_updates"]},
        }
        r = requests.post(
            server.base_url + "/v2/orders",
            json={
                "symbol": "AAA",
                "qty": 2,
                "side": "buy",
                "type": "market",
                "time_in_force": "day",
            },
            headers={"APCA-API-KEY-ID": keys[0], "APCA-API-SECRET-KEY": keys[1]},
        )
        order_id = r.json()["id"]
        frames = [ws.recv(timeout=5) for _ in range(2)]
        assert all(isinstance(f, bytes) for f in frames)  # like Alpaca's paper stream
        new, fill = (json.loads(f)["data"] for f in frames)
        assert (new["event"], fill["event"]) == ("new", "fill")
        assert fill["order"]["id"] == order_id and fill["order"]["filled_qty"] == "2"
        assert (fill["qty"], fill["position_qty"]) == ("2", "2")
        assert fill["price"] == r.json()["filled_avg_price"]
        ws.send(b"\x00not json")
        err = json.loads(ws.recv(timeout=5))
        assert err["stream"] == "error" and err["data"]["code"] == 400
    server.wait_for(lambda: server.ctx.counters.trade_connections_open == 0)
    assert server.ctx.counters.trade_connections_total == 1


def test_bad_keys_get_unauthorized_then_the_socket_closes(server, keys):
    with connect(server.base_url.replace("http", "ws") + "/stream/") as ws:
        reply = _auth(ws, keys[0], "wrong")
        assert reply["data"] == {"status": "unauthorized", "action": "authenticate"}
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)


def test_hostile_frames_never_take_the_server_down(server, keys):
    with connect(server.stream_url) as ws:
        _auth(ws, *keys)
        for raw in ["", "null", "[]", '{"action": null}', '{"action":"listen"}', "\u2603" * 50]:
            ws.send(raw)
            reply = json.loads(ws.recv(timeout=5))
            assert reply["stream"] == "error" and reply["data"]["code"] == 400, raw
    with connect(server.stream_url, max_size=None) as ws:
        ws.send("x" * (200 * 1024))  # over the 64 KiB message limit: the server drops this socket
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    with connect(server.stream_url) as ws:  # and still serves the next one
        assert _auth(ws, *keys)["data"]["status"] == "authorized"


def _listen(stack: contextlib.ExitStack, url: str, keys) -> ClientConnection:
    ws = stack.enter_context(connect(url))
    assert _auth(ws, *keys)["data"]["status"] == "authorized"
    ws.send(json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}}))
    assert json.loads(ws.recv(timeout=5))["stream"] == "listening"
    return ws


def test_the_drop_fault_closes_every_connection_and_refuses_handshakes_for_a_while(server, keys, api):
    with contextlib.ExitStack() as stack:
        first, second = _listen(stack, server.stream_url, keys), _listen(stack, server.stream_url, keys)
        r = api.post(api.base + "/admin/faults",
                     json={"drop_trade_streams": True, "trade_stream_refuse_seconds": 30})  # fmt: skip
        assert r.status_code == 200
        assert r.json()["drop_trade_streams"] is False  # an action, not a state
        for ws in (first, second):
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=5)
        with pytest.raises(InvalidStatus) as refused:  # within the 30 simulated seconds
            stack.enter_context(connect(server.stream_url))
        assert refused.value.response.status_code == 503
        counters = api.get(api.base + "/admin/counters").json()
        assert counters["trade_connections_dropped"] == 2 and counters["trade_handshakes_refused"] == 1
        server.call(server.ctx.clock.step, 31_000)  # the window is over: served again
        again = _listen(stack, server.stream_url, keys)
        api.post(api.base + "/v2/orders", json={"symbol": "AAA", "qty": 1, "side": "buy",
                                                "type": "market", "time_in_force": "day"})  # fmt: skip
        assert json.loads(again.recv(timeout=5))["data"]["event"] == "new"

"""The trade-updates websocket over a real socket, with the websockets client."""

from __future__ import annotations

import json

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


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

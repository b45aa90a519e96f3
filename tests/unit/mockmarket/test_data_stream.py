"""The market-data websocket against the real app on a loopback socket, with real clients."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import UTC, datetime

import msgpack
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from mockmarket.wire import stream_bar

WAIT = 5.0
_SOCKETS: list[contextlib.ExitStack] = []


@pytest.fixture(autouse=True)
def _close_sockets_after_each_test():
    with contextlib.ExitStack() as stack:
        _SOCKETS.append(stack)
        yield
        _SOCKETS.pop()


def open_ws(url: str, **kwargs) -> ClientConnection:
    """A client connection closed when the test ends, whatever happens."""
    return _SOCKETS[-1].enter_context(connect(url, **kwargs))


def recv_json(ws: ClientConnection, timeout: float = WAIT) -> list[dict]:
    return json.loads(ws.recv(timeout=timeout))


def open_json(server, path: str = "/v2/iex") -> ClientConnection:
    ws = open_ws(server.base_url.replace("http", "ws") + path, open_timeout=WAIT)
    assert recv_json(ws) == [{"T": "success", "msg": "connected"}]
    return ws


def login(server, ws: ClientConnection) -> None:
    ws.send(
        json.dumps(
            {
                "action": "auth",
                "key": server.headers["APCA-API-KEY-ID"],
                "secret": server.headers["APCA-API-SECRET-KEY"],
            }
        )
    )
    assert recv_json(ws) == [{"T": "success", "msg": "authenticated"}]


def subscribe(ws: ClientConnection, **channels: list[str]) -> dict:
    ws.send(json.dumps({"action": "subscribe", **channels}))
    (msg,) = recv_json(ws)
    assert msg["T"] == "subscription"
    return msg


def ready(server, **channels: list[str]) -> ClientConnection:
    ws = open_json(server)
    login(server, ws)
    subscribe(ws, **channels)
    return ws


def expect_closed(ws: ClientConnection) -> None:
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=WAIT)


def expect_nothing(ws: ClientConnection, timeout: float = 0.3) -> None:
    with pytest.raises(TimeoutError):
        ws.recv(timeout=timeout)


def poll(condition, timeout: float = WAIT) -> None:
    """Wait for a condition the server reaches on its own (e.g. noticing a closed socket)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def csv_bar(facts, symbol: str, t: int):
    return next(b for b in facts.csv_bars(symbol) if b.t == t)


def test_subscription_echo_has_every_channel(server):
    ws = open_json(server)
    login(server, ws)
    msg = subscribe(ws, bars=["AAA", "BBB"], trades=["AAA"], updatedBars=["*"])
    assert msg == {
        "T": "subscription",
        "trades": ["AAA"],
        "quotes": [],
        "bars": ["AAA", "BBB"],
        "updatedBars": ["*"],
        "dailyBars": [],
        "statuses": [],
        "lulds": [],
        "corrections": ["AAA"],
        "cancelErrors": ["AAA"],
    }
    ws.send(json.dumps({"action": "unsubscribe", "bars": ["BBB"], "trades": ["AAA"]}))
    (msg,) = recv_json(ws)
    assert msg["bars"] == ["AAA"] and msg["trades"] == [] and msg["corrections"] == []
    ws.close()


def test_bars_arrive_one_second_after_the_minute_closes_for_subscribed_symbols(server, facts):
    ws = ready(server, bars=["AAA", "THIN"])
    t = facts.ny_ms(facts.replay, "09:59")
    server.step(0.999)
    expect_nothing(ws, 0.2)
    server.step(0.001)  # 10:00:01: the 09:59 bar goes out
    msgs = recv_json(ws)
    expected = [
        stream_bar(csv_bar(facts, s, t))
        for s in ("AAA", "THIN")
        if any(b.t == t for b in facts.csv_bars(s))
    ]
    assert msgs == expected
    assert all(m["T"] == "b" and m["t"] == "2025-10-16T13:59:00Z" for m in msgs)
    ws.close()


def test_a_symbol_without_a_bar_that_minute_gets_none(server, facts):
    thin = {b.t for b in facts.csv_bars("THIN")}
    ws = ready(server, bars=["AAA", "THIN"])
    seen = {}
    for _ in range(4):  # minutes 09:59..10:02
        server.step(60)
        for m in recv_json(ws):
            seen.setdefault(m["t"], []).append(m["S"])
    assert len(seen) == 4
    for t_text, symbols in seen.items():
        t = int(
            datetime.strptime(t_text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() * 1000
        )
        assert ("THIN" in symbols) == (t in thin)
        assert "AAA" in symbols
    assert any("THIN" not in s for s in seen.values()), "the test window must include a THIN gap"
    ws.close()


def test_star_subscribes_to_everything_and_unsubscribe_stops_it(server, facts):
    ws = ready(server, bars=["*"])
    server.step(1)
    assert sorted(m["S"] for m in recv_json(ws)) == sorted(
        s
        for s in facts.symbols
        if any(b.t == facts.ny_ms(facts.replay, "09:59") for b in facts.csv_bars(s))
    )
    ws.send(json.dumps({"action": "unsubscribe", "bars": ["*"]}))
    assert recv_json(ws)[0]["bars"] == []
    server.step(60)
    expect_nothing(ws)
    ws.close()


def test_msgpack_when_the_handshake_asks_for_it(server, facts):
    ws = open_ws(
        server.base_url.replace("http", "ws") + "/v2/iex",
        additional_headers={"Content-Type": "application/msgpack"},
    )
    welcome = ws.recv(timeout=WAIT)
    assert isinstance(welcome, bytes) and msgpack.unpackb(welcome) == [
        {"T": "success", "msg": "connected"}
    ]
    ws.send(msgpack.packb({"action": "auth", "key": "unit-key", "secret": "unit-secret-value"}))
    assert msgpack.unpackb(ws.recv(timeout=WAIT)) == [{"T": "success", "msg": "authenticated"}]
    ws.send(msgpack.packb({"action": "subscribe", "bars": ["BBB"]}))
    assert msgpack.unpackb(ws.recv(timeout=WAIT))[0]["bars"] == ["BBB"]
    server.step(1)
    (bar,) = msgpack.unpackb(ws.recv(timeout=WAIT))
    t = facts.ny_ms(facts.replay, "09:59")
    assert isinstance(bar["t"], msgpack.Timestamp) and bar["t"].to_unix_nano() == t * 1_000_000
    assert {k: v for k, v in bar.items() if k != "t"} == {
        k: v for k, v in stream_bar(csv_bar(facts, "BBB", t)).items() if k != "t"
    }
    ws.send(b"\xc1")  # never-used msgpack byte: invalid syntax, answered in msgpack
    assert msgpack.unpackb(ws.recv(timeout=WAIT)) == [
        {"T": "error", "code": 400, "msg": "invalid syntax"}
    ]
    ws.close()


def test_auth_failure_is_402_and_closes(server):
    ws = open_json(server)
    ws.send(json.dumps({"action": "auth", "key": "unit-key", "secret": "nope"}))
    assert recv_json(ws) == [{"T": "error", "code": 402, "msg": "auth failed"}]
    expect_closed(ws)


def test_protocol_errors_keep_the_connection(server):
    ws = open_json(server)
    ws.send(json.dumps({"action": "subscribe", "bars": ["AAA"]}))
    assert recv_json(ws) == [{"T": "error", "code": 401, "msg": "not authenticated"}]
    for bad in ["not json", "[1,2]", '{"action": "dance"}', '{"nothing": 1}', "null"]:
        ws.send(bad)
        assert recv_json(ws) == [{"T": "error", "code": 400, "msg": "invalid syntax"}]
    login(server, ws)
    ws.send(json.dumps({"action": "auth", "key": "unit-key", "secret": "unit-secret-value"}))
    assert recv_json(ws) == [{"T": "error", "code": 403, "msg": "already authenticated"}]
    for bad in [{"bars": "AAA"}, {"bars": [1]}, {"bars": [""]}, {"bars": ["X" * 40]}]:
        ws.send(json.dumps({"action": "subscribe", **bad}))
        assert recv_json(ws) == [{"T": "error", "code": 400, "msg": "invalid syntax"}]
    assert subscribe(ws, bars=["AAA"])["bars"] == ["AAA"]
    ws.close()


def test_symbol_limit_is_405(server_factory):
    server = server_factory(symbol_limit=3)
    ws = open_json(server)
    login(server, ws)
    subscribe(ws, bars=["A", "B"], trades=["C", "*"])
    ws.send(json.dumps({"action": "subscribe", "quotes": ["D"]}))
    assert recv_json(ws) == [{"T": "error", "code": 405, "msg": "symbol limit exceeded"}]
    ws.close()


def test_auth_timeout_is_404(server_factory):
    server = server_factory(auth_timeout_s=0.2)
    ws = open_json(server)
    assert recv_json(ws) == [{"T": "error", "code": 404, "msg": "auth timeout"}]
    expect_closed(ws)


def test_one_connection_per_key(server):
    first = ready(server, bars=["AAA"])
    second = open_json(server)
    second.send(json.dumps({"action": "auth", "key": "unit-key", "secret": "unit-secret-value"}))
    assert recv_json(second) == [{"T": "error", "code": 406, "msg": "connection limit exceeded"}]
    expect_closed(second)
    first.close()
    third = open_json(server)
    login(server, third)  # the slot is free again (no connection_limit fault)
    third.close()
    c = server.admin("GET", "/admin/counters")
    assert c["data_auth_406"] == 1 and c["data_connections_total"] == 3


def test_connection_limit_fault_lasts_simulated_seconds_after_a_disconnect(server):
    server.admin("POST", "/admin/faults", {"connection_limit_seconds": 90})
    ready(server, bars=["AAA"]).close()
    server.step(89)
    ws = open_json(server)
    ws.send(json.dumps({"action": "auth", "key": "unit-key", "secret": "unit-secret-value"}))
    assert recv_json(ws)[0]["code"] == 406
    expect_closed(ws)
    server.step(1)
    ws = open_json(server)
    login(server, ws)
    ws.close()


def test_handshake_429_fault(server):
    server.admin("POST", "/admin/faults", {"handshake_429_count": 1})
    with pytest.raises(InvalidStatus) as err:
        connect(server.base_url.replace("http", "ws") + "/v2/sip", open_timeout=WAIT)
    assert err.value.response.status_code == 429
    open_json(server, "/v2/sip").close()
    assert server.admin("GET", "/admin/counters")["handshake_429"] == 1


def test_silent_connection_answers_pings_but_gets_no_data(server_factory):
    server = server_factory(max_connections=2)
    server.admin("POST", "/admin/faults", {"silent_count": 1})
    silent = ready(server, bars=["AAA"])
    loud = ready(server, bars=["AAA"])
    server.step(1)
    assert recv_json(loud)[0]["S"] == "AAA"
    expect_nothing(silent)
    assert silent.ping().wait(WAIT)
    silent.close()
    loud.close()


def test_silence_open_silences_the_connections_open_now(server_factory):
    server = server_factory(max_connections=2)
    before = ready(server, bars=["AAA"])
    server.admin("POST", "/admin/faults", {"silence_open": True})
    assert server.admin("GET", "/admin/faults")["silence_open"] is False  # an action, done
    after = ready(server, bars=["AAA"])
    server.step(1)
    assert recv_json(after)[0]["S"] == "AAA"
    expect_nothing(before)
    assert before.ping().wait(WAIT)
    before.close()
    after.close()


def test_corrections_send_a_preliminary_bar_then_the_truth(server_factory, facts):
    server = server_factory(correction_rate=1.0)
    ws = ready(server, bars=["AAA"], updatedBars=["AAA"])
    t = facts.ny_ms(facts.replay, "09:59")
    truth = stream_bar(csv_bar(facts, "AAA", t))
    server.step(1)
    (pre,) = recv_json(ws)
    assert pre["T"] == "b" and pre["t"] == truth["t"] and pre["c"] == truth["c"]
    assert pre["v"] < truth["v"] and pre["n"] <= truth["n"]
    server.step(29.999)
    expect_nothing(ws, 0.2)
    server.step(0.001)
    (upd,) = recv_json(ws)
    assert upd == dict(truth, T="u")
    rest = server.get("/v2/stocks/bars", symbols="AAA", timeframe="1Min").json()["bars"]["AAA"]
    assert {k: v for k, v in truth.items() if k not in ("T", "S")} == rest[-1]
    ws.close()


def test_counters_track_connections_and_bars(server, facts):
    ws = ready(server, bars=["*"])
    c = server.admin("GET", "/admin/counters")
    assert c["data_connections_open"] == 1 and c["data_connections_total"] == 1
    server.step(1)
    n = len(recv_json(ws))
    assert server.admin("GET", "/admin/counters")["bars_sent"] == n
    ws.close()
    poll(lambda: server.admin("GET", "/admin/counters")["data_connections_open"] == 0)


def test_admin_lists_the_open_data_connections(server):
    assert server.admin("GET", "/admin/streams") == {"data": []}
    ws = ready(server, bars=["AAA"], updatedBars=["*"])
    (info,) = server.admin("GET", "/admin/streams")["data"]
    assert info["authenticated"] is True and info["msgpack"] is False and info["silent"] is False
    assert info["subscriptions"]["bars"] == ["AAA"] and info["subscriptions"]["updatedBars"] == [
        "*"
    ]
    ws.close()
    poll(lambda: server.admin("GET", "/admin/streams")["data"] == [])

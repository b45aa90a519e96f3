"""Hypothesis: arbitrary websocket messages (text, binary, JSON, msgpack) get protocol answers."""

from __future__ import annotations

import json

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from mockmarket.data_stream import ERRORS

KEY, SECRET = "unit-key", "unit-secret-value"
CHANNELS = [
    "trades",
    "quotes",
    "bars",
    "updatedBars",
    "dailyBars",
    "statuses",
    "lulds",
    "news",
    "orderbooks",
]

texts = st.text(max_size=30)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | texts
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=10,
)
symbol_lists = st.one_of(
    st.lists(st.sampled_from(["AAA", "BBB", "THIN", "*", "ZZZ"]), max_size=5),
    st.lists(texts, max_size=5),
    scalars,
    json_values,
)
auth_msgs = st.fixed_dictionaries(
    {"action": st.just("auth")},
    optional={
        "key": st.sampled_from([KEY, "", "nope"]) | json_values,
        "secret": st.sampled_from([SECRET, "", "nope"]) | json_values,
    },
)
sub_msgs = st.builds(
    lambda action, channels: {"action": action, **channels},
    st.sampled_from(
        ["subscribe", "subscribe", "subscribe", "unsubscribe", "listen", "", "SUBSCRIBE"]
    )
    | texts,
    st.dictionaries(st.sampled_from(CHANNELS), symbol_lists, min_size=1, max_size=4)
    | st.dictionaries(texts, symbol_lists, max_size=2),
)
objects = st.one_of(sub_msgs, sub_msgs, sub_msgs, auth_msgs, json_values)
# (is_binary, payload)
frames = st.one_of(
    objects.map(lambda o: (False, json.dumps(o))),
    objects.map(lambda o: (True, msgpack.packb(o))),
    texts.map(lambda t: (False, t)),
    st.binary(max_size=100).map(lambda b: (True, b)),
)


@pytest.fixture(scope="module")
def fuzz_server(store, facts):
    s = facts.start_server(store, paused=True, max_connections=1000, auth_timeout_s=30.0)
    yield s
    s.stop()


def check_reply(frame: str | bytes, use_msgpack: bool) -> list[int]:
    """The error codes in a server frame, after checking its shape."""
    assert isinstance(frame, bytes) == use_msgpack
    messages = msgpack.unpackb(frame) if use_msgpack else json.loads(frame)
    assert isinstance(messages, list) and messages
    codes = []
    for m in messages:
        assert m["T"] in ("success", "subscription", "error"), m
        if m["T"] == "error":
            assert m["code"] in ERRORS and m["msg"] == ERRORS[m["code"]], m
            assert m["code"] != 500, "an internal error is a bug"
            codes.append(m["code"])
    return codes


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    use_msgpack=st.booleans(),
    sequence=st.lists(frames, min_size=1, max_size=5),
    login_first=st.sampled_from([True, True, True, False]),
)
def test_arbitrary_messages_get_protocol_answers(fuzz_server, use_msgpack, sequence, login_first):
    headers = {"Content-Type": "application/msgpack"} if use_msgpack else {}
    pack = msgpack.packb if use_msgpack else json.dumps
    with connect(
        fuzz_server.ws_url, additional_headers=headers, open_timeout=5, max_size=None
    ) as ws:
        check_reply(ws.recv(timeout=5), use_msgpack)
        if login_first:
            ws.send(pack({"action": "auth", "key": KEY, "secret": SECRET}))
            assert check_reply(ws.recv(timeout=5), use_msgpack) == []
        for _is_binary, payload in sequence:
            try:
                ws.send(payload)
                codes = check_reply(ws.recv(timeout=5), use_msgpack)
            except ConnectionClosed:
                break
            if set(codes) & {402, 404, 406, 407}:
                with pytest.raises(ConnectionClosed):
                    ws.recv(timeout=5)
                break
    with connect(fuzz_server.ws_url, open_timeout=5) as ws:  # the server still serves
        assert json.loads(ws.recv(timeout=5)) == [{"T": "success", "msg": "connected"}]


def test_a_huge_message_closes_that_connection_only(fuzz_server):
    with connect(fuzz_server.ws_url, open_timeout=5, max_size=None) as ws:
        ws.recv(timeout=5)
        ws.send("x" * (2 << 20))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    with connect(fuzz_server.ws_url, open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))[0]["msg"] == "connected"

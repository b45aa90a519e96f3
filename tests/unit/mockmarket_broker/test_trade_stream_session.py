"""The trade-updates stream protocol, without sockets: auth, listen, errors, fan-out."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockmarket.trade_stream import TradeStreamSession
from mockmarket.trade_updates import TradeUpdateHub


def _drain(session: TradeStreamSession) -> list:
    out = []
    while not session.outbox.queue.empty():
        frame = session.outbox.queue.get_nowait()
        out.append(None if frame is None else json.loads(frame))
    return out


def _auth(key="k", secret="s") -> str:
    return json.dumps({"action": "authenticate", "data": {"key_id": key, "secret_key": secret}})


LISTEN = json.dumps({"action": "listen", "data": {"streams": ["trade_updates"]}})


def test_authenticate_then_listen_then_receive():
    hub = TradeUpdateHub()
    s = TradeStreamSession(hub, "k", "s")
    s.handle(_auth().encode())  # binary frames are fine too
    s.handle(LISTEN)
    assert _drain(s) == [
        {"stream": "authorization", "data": {"status": "authorized", "action": "authenticate"}},
        {"stream": "listening", "data": {"streams": ["trade_updates"]}},
    ]
    hub.publish({"event": "fill", "order": {}})
    assert _drain(s) == [{"stream": "trade_updates", "data": {"event": "fill", "order": {}}}]


def test_bad_keys_are_refused_then_closed():
    s = TradeStreamSession(TradeUpdateHub(), "k", "s")
    s.handle(_auth(secret="wrong"))
    assert _drain(s) == [
        {"stream": "authorization", "data": {"status": "unauthorized", "action": "authenticate"}},
        None,
    ]


def test_listen_before_auth_is_refused():
    hub = TradeUpdateHub()
    s = TradeStreamSession(hub, "k", "s")
    s.handle(LISTEN)
    assert _drain(s)[0]["data"]["status"] == "unauthorized"
    hub.publish({"event": "fill", "order": {}})
    assert _drain(s) == []  # not listening


def test_listening_to_nothing_unsubscribes():
    hub = TradeUpdateHub()
    s = TradeStreamSession(hub, "k", "s")
    s.handle(_auth())
    s.handle(LISTEN)
    s.handle(json.dumps({"action": "listen", "data": {"streams": ["account_updates"]}}))
    assert _drain(s)[-1] == {"stream": "listening", "data": {"streams": []}}
    hub.publish({"event": "fill", "order": {}})
    assert _drain(s) == []  # not listening any more


@pytest.mark.parametrize(
    "raw",
    [
        "{",
        "[1,2]",
        '"x"',
        '{"action":"dance"}',
        b"\xff\xfe",
        '{"action":"listen","data":{"streams":"trade_updates"}}',
    ],
)
def test_malformed_messages_get_an_error_not_a_crash(raw):
    s = TradeStreamSession(TradeUpdateHub(), "k", "s")
    s.handle(_auth())
    s.handle(raw)
    last = _drain(s)[-1]
    assert last["stream"] == "error" and last["data"]["code"] == 400 and last["data"]["message"]


def test_a_slow_listener_overflows_instead_of_blocking():
    hub = TradeUpdateHub(queue_size=3)
    s = TradeStreamSession(hub, "k", "s")
    s.handle(_auth())
    s.handle(LISTEN)
    for i in range(5):
        hub.publish({"event": "new", "i": i})
    assert s.outbox.overflowed


@settings(max_examples=200, deadline=None)
@given(
    raw=st.binary(max_size=200)
    | st.text(max_size=200)
    | st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda x: (
            st.lists(x, max_size=3)
            | st.dictionaries(
                st.sampled_from(["action", "data", "streams", "key_id", "secret_key"]),
                x,
                max_size=3,
            )
        ),
        max_leaves=10,
    ).map(json.dumps)
)
def test_fuzzed_messages_never_raise(raw):
    s = TradeStreamSession(TradeUpdateHub(), "k", "s")
    s.handle(raw)
    assert _drain(s)

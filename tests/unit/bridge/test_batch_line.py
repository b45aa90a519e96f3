from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.bars import Bar, filled_bar
from common.batch_line import (
    MAX_LINE_BYTES,
    Heartbeat,
    LineError,
    LineTooLongError,
    check_symbols_fit,
    decode_line,
    encode_heartbeat,
    encode_minute,
    worst_case_batch_bytes,
)
from common.minute import Minute

T = 1760621400000  # 2025-10-16 09:30 ET
ROTATION = ["ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA", "UVXY"]


def bar(sym: str, close: float = 10.0, t: int = T) -> Bar:
    return Bar(sym, t, close, close + 1, close - 1, close, 1200.0, close, 7)


def minute(bars, t: int = T, source: str = "complete") -> Minute:
    return Minute(t, {b.symbol: b for b in bars}, source)


def test_batch_round_trip_keeps_every_field_and_order():
    bars = (bar("TQQQ", 50.25), filled_bar("SQQQ", T, 12.5), bar("UVXY", 20.0))
    line = encode_minute(minute(bars))
    assert "\n" not in line
    out = decode_line(line)
    assert out == minute(bars, source="fifo")
    assert out.symbols == ("TQQQ", "SQQQ", "UVXY")
    assert json.loads(line)["bars"][1]["filled"] is True


def test_a_bar_object_carries_every_field_and_decodes_to_the_same_bar():
    b = bar("TQQQ")
    (obj,) = json.loads(encode_minute(minute([b])))["bars"]
    assert obj["symbol"] == "TQQQ" and obj["filled"] is False and obj["trade_count"] == 7
    assert decode_line(encode_minute(minute([b]))).bars["TQQQ"] == b


def test_a_bar_object_may_have_null_vwap_and_count():
    obj = {"symbol": "SPY", "open": 10, "high": 11, "low": 9, "close": 10, "volume": 0,
           "vwap": None, "trade_count": None}  # fmt: skip
    b = decode_line(json.dumps({"type": "bars", "t": T, "bars": [obj]})).bars["SPY"]
    assert (b.open, b.vwap, b.trade_count, b.filled) == (10.0, None, None, False)


@pytest.mark.parametrize(
    ("obj", "needle"),
    [
        ({"symbol": "SPY", "open": 1, "high": 1, "low": 1, "close": 1}, "missing volume"),
        ({"symbol": "SPY", "open": 1, "high": 0.5, "low": 1, "close": 1, "volume": 1}, "high 0.5 < low 1.0"),
        ({"symbol": "SPY", "open": -1, "high": 1, "low": 1, "close": 1, "volume": 1}, "open=-1"),
        ({"symbol": "SPY", "open": "x", "high": 1, "low": 1, "close": 1, "volume": 1}, "open='x'"),
        ({"symbol": "SPY", "open": None, "high": 1, "low": 1, "close": 1, "volume": 1}, "open=None"),
        ({"symbol": "SPY", "open": 1, "high": 1, "low": 1, "close": 1, "volume": 1, "vwap": -2}, "vwap=-2"),
        ({"symbol": "SPY", "open": 1, "high": 1, "low": 1, "close": 1, "volume": 10**400}, "volume=1000"),
    ],
)
def test_bad_bar_objects_are_refused(obj, needle):
    with pytest.raises(LineError) as e:
        decode_line(json.dumps({"type": "bars", "t": T, "bars": [obj]}))
    assert needle in str(e.value) and "SPY" in str(e.value)


def test_heartbeat_round_trip():
    assert decode_line(encode_heartbeat(1760621401234, True, T)) == Heartbeat(1760621401234, True, T)
    assert decode_line(encode_heartbeat(5, False, None)) == Heartbeat(5, False, None)


def test_unknown_type_decodes_to_none():
    assert decode_line('{"type":"status","x":1}') is None


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("not json", "not JSON"),
        ("[1,2]", "not an object"),
        ('{"t":1}', "'type'"),
        ('{"type":"bars","t":123,"bars":[]}', "t=123"),
        ('{"type":"bars","t":1760621400000,"bars":[]}', "non-empty list"),
        ('{"type":"bars","t":1760621400000,"bars":[{"symbol":"A","open":1,"high":1,"low":1}]}', "missing close"),
        ('{"type":"bars","t":1760621400000,"bars":[{"symbol":"A","open":"1","high":1,"low":1,"close":1,"volume":0}]}', "open='1'"),
        ('{"type":"bars","t":1760621400000,"bars":[{"symbol":"A","open":-1,"high":1,"low":1,"close":1,"volume":0}]}', "open=-1"),
        ('{"type":"bars","t":1760621400000,"bars":[{"symbol":"A","open":1,"high":1,"low":2,"close":1,"volume":0}]}', "high 1.0 < low 2.0"),
        ('{"type":"bars","t":1760621400000,"bars":[{"symbol":"A","open":1,"high":1,"low":1,"close":NaN,"volume":0}]}', "close=nan"),
        ('{"type":"bars","t":1760621400000,"bars":[{"symbol":"A","open":1,"high":1,"low":1,"close":1,"volume":0,"filled":"no"}]}', "filled='no'"),
        ('{"type":"bars","t":1760621400000,"bars":[{"symbol":"A","open":1,"high":1,"low":1,"close":1,"volume":0,"trade_count":1.5}]}', "trade_count=1.5"),
        ('{"type":"bars","t":1760621400000,"bars":[{"symbol":"A","open":1,"high":1,"low":1,"close":1,"volume":0},'
         '{"symbol":"A","open":1,"high":1,"low":1,"close":1,"volume":0}]}', "more than once"),
        ('{"type":"heartbeat","ts":true,"connected":true,"last_t":null}', "ts=True"),
        ('{"type":"heartbeat","ts":1,"connected":1,"last_t":null}', "connected=1"),
        ('{"type":"heartbeat","ts":1,"connected":true,"last_t":5}', "last_t=5"),
    ],
)
def test_bad_lines_are_refused_with_a_message_naming_the_problem(line, needle):
    with pytest.raises(LineError) as e:
        decode_line(line)
    assert needle in str(e.value)


def test_overlong_and_non_utf8_lines_are_refused():
    with pytest.raises(LineTooLongError):
        decode_line(b'{"type":"x","pad":"' + b"a" * MAX_LINE_BYTES + b'"}')
    with pytest.raises(LineError, match="UTF-8"):
        decode_line(b'{"type":"\xff"}')


def test_encode_refuses_inconsistent_batches():
    with pytest.raises(LineError, match="has t="):
        encode_minute(minute([bar("A", t=T + 60_000)]))
    with pytest.raises(LineError, match="twice"):
        encode_minute(Minute(T, {"A": bar("A"), "B": bar("A")}, "complete"))
    with pytest.raises(LineError, match="filed under B"):
        encode_minute(Minute(T, {"B": bar("A")}, "complete"))
    with pytest.raises(LineError, match="no bars"):
        encode_minute(minute([]))
    with pytest.raises(LineError, match="not a minute start"):
        encode_minute(minute([bar("A", t=T + 1)], t=T + 1))
    with pytest.raises(LineError, match="Out of range float"):
        encode_minute(minute([Bar("A", T, 1, 1, 1, 1, 1, float("nan"))]))


def test_rotation_symbols_fit_and_a_large_set_is_refused_at_start():
    check_symbols_fit(ROTATION)
    assert worst_case_batch_bytes(ROTATION) <= MAX_LINE_BYTES
    many = [f"SYM{i:02d}" for i in range(40)]
    with pytest.raises(LineTooLongError, match="40 symbols"):
        check_symbols_fit(many)


prices = st.floats(min_value=1e-6, max_value=1e12, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    closes=st.lists(prices, min_size=12, max_size=12),
    volumes=st.lists(st.floats(min_value=0, max_value=1e15), min_size=12, max_size=12),
    counts=st.lists(st.integers(min_value=0, max_value=2**63 - 1), min_size=12, max_size=12),
)
def test_any_valid_batch_of_the_symbols_stays_under_the_worst_case_bound(closes, volumes, counts):
    bars = [Bar(s, T, c, c, c, c, v, c, n) for s, c, v, n in zip(ROTATION, closes, volumes, counts, strict=True)]
    line = encode_minute(minute(bars))
    assert len(line.encode()) + 1 <= worst_case_batch_bytes(ROTATION)
    assert decode_line(line) == minute(bars, source="fifo")


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["type", "t", "bars", "ts", "symbol", "open", "close", "connected", "last_t"]),
        children, max_size=6),
    max_leaves=20,
).map(lambda o: json.dumps(o))))
def test_decoder_never_fails_with_anything_but_line_error(data):
    try:
        out = decode_line(data)
    except LineError as e:
        assert str(e)  # always says why
    else:
        assert out is None or isinstance(out, Minute | Heartbeat)

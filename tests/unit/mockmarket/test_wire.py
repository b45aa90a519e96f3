from __future__ import annotations

import json
from datetime import UTC, datetime

import msgpack
from hypothesis import given, settings
from hypothesis import strategies as st

from common.bars import Bar
from mockmarket.wire import (
    derived_n_vw,
    json_array,
    msgpack_array,
    rest_bar,
    rest_bar_text,
    stream_bar,
    stream_bar_msgpack,
    stream_bar_text,
)

T = 1760621400000  # 2025-10-16 13:30:00 UTC
BAR = Bar("SPY", T, 100.01, 100.25, 99.9, 100.2, 1234.0)


def test_rest_form():
    assert rest_bar(BAR) == {
        "t": "2025-10-16T13:30:00Z",
        "o": 100.01,
        "h": 100.25,
        "l": 99.9,
        "c": 100.2,
        "v": 1234,
        "n": 12,
        "vw": 100.1167,
    }
    assert isinstance(rest_bar(BAR)["v"], int)
    assert json.loads(rest_bar_text(BAR)) == rest_bar(BAR)


def test_n_and_vw_are_derived_deterministically_and_stay_plausible():
    assert derived_n_vw(BAR) == derived_n_vw(Bar(**{f: getattr(BAR, f) for f in BAR.__slots__}))
    assert derived_n_vw(Bar("X", T, 5, 5, 5, 5, 0.0)) == (0, 5.0)
    assert derived_n_vw(Bar("X", T, 5, 5, 5, 5, 7.0))[0] == 1
    n, vw = derived_n_vw(Bar("X", T, 10, 10.5, 9.5, 10.4, 5000.0))
    assert n == 50 and 9.5 <= vw <= 10.5
    # a bar that carries its own trade count and VWAP keeps them
    assert derived_n_vw(Bar("X", T, 10, 11, 9, 10, 500.0, vwap=9.75, trade_count=3)) == (3, 9.75)


def test_fractional_volume_is_kept():
    assert rest_bar(Bar("X", T, 1, 1, 1, 1, 10.5))["v"] == 10.5


def test_stream_json_form_agrees_with_rest():
    s = stream_bar(BAR)
    assert s["T"] == "b" and s["S"] == "SPY"
    assert {k: v for k, v in s.items() if k not in ("T", "S")} == rest_bar(BAR)
    assert stream_bar(BAR, "u")["T"] == "u"
    assert json.loads(stream_bar_text(BAR)) == s


def test_msgpack_form_carries_a_timestamp_extension():
    raw = stream_bar_msgpack(BAR)
    decoded = msgpack.unpackb(raw)
    assert isinstance(decoded["t"], msgpack.Timestamp)
    assert decoded["t"].to_datetime() == datetime(2025, 10, 16, 13, 30, tzinfo=UTC)
    # fixext 4 (0xd6) of type -1 (0xff) holding the whole seconds: msgpack's timestamp32
    assert b"\xd6\xff" + (T // 1000).to_bytes(4, "big") in raw
    stripped = {k: v for k, v in decoded.items() if k != "t"}
    assert stripped == {k: v for k, v in stream_bar(BAR).items() if k != "t"}


def test_arrays_of_pre_serialized_items():
    items = [stream_bar_text(BAR), stream_bar_text(BAR, "u")]
    assert json.loads(json_array(items)) == [stream_bar(BAR), stream_bar(BAR, "u")]
    assert json_array([]) == "[]"
    packed = msgpack.unpackb(msgpack_array([stream_bar_msgpack(BAR)] * 3))
    assert len(packed) == 3 and all(p["S"] == "SPY" for p in packed)


prices = st.floats(min_value=0.0001, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(
    t_min=st.integers(0, 40_000_000),
    o=prices,
    h=prices,
    low=prices,
    c=prices,
    v=st.one_of(st.integers(0, 10**12).map(float), st.floats(0, 1e9)),
)
def test_fast_rest_text_is_the_rest_form(t_min, o, h, low, c, v):
    bar = Bar("SYM", t_min * 60_000, o, max(o, h, low, c), min(o, h, low, c), c, v)
    assert json.loads(rest_bar_text(bar)) == rest_bar(bar)
    assert json.loads(rest_bar_text(bar)) == json.loads(json.dumps(rest_bar(bar)))

"""common.bars: validation, the FIFO JSON form and the session-grid fill."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.bars import MINUTE_MS, Bar, BarError, fill_grid, filled_bar

T0 = 1_760_621_400_000  # 2025-10-16 09:30 New York


def bar(
    t: int = T0,
    o: float = 10.0,
    h: float = 11.0,
    lo: float = 9.0,
    c: float = 10.5,
    v: float = 100.0,
    sym: str = "TQQQ",
) -> Bar:
    return Bar(sym, t, o, h, lo, c, v, 10.2, 7)


def test_a_sound_bar_validates_to_itself():
    b = bar()
    assert b.validate() is b


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"o": 0.0}, "open"),
        ({"h": -1.0}, "high"),
        ({"lo": math.nan}, "low"),
        ({"c": math.inf}, "close"),
        ({"v": -1.0}, "volume"),
        ({"v": math.nan}, "volume"),
        ({"h": 8.0}, "high 8.0 < low 9.0"),
        ({"t": T0 + 1}, "not aligned"),
    ],
)
def test_invalid_bars_name_the_symbol_minute_and_field(kw, field):
    with pytest.raises(BarError) as ei:
        bar(**kw).validate()
    msg = str(ei.value)
    assert field in msg and "TQQQ" in msg and "t=" in msg


def test_json_round_trip():
    b = bar()
    obj = b.to_json()
    assert obj["symbol"] == "TQQQ" and obj["filled"] is False and obj["trade_count"] == 7
    assert Bar.from_json(b.t, obj) == b


def test_from_json_accepts_null_vwap_and_count_and_numeric_strings():
    obj = {
        "symbol": "SPY",
        "open": "10",
        "high": 11,
        "low": 9,
        "close": 10,
        "volume": 0,
        "vwap": None,
        "trade_count": None,
    }
    b = Bar.from_json(T0, obj)
    assert (b.open, b.vwap, b.trade_count, b.filled) == (10.0, None, None, False)


@pytest.mark.parametrize(
    ("obj", "exc"),
    [
        ({"symbol": "SPY", "open": 1, "high": 1, "low": 1, "close": 1}, KeyError),
        ({"symbol": "SPY", "open": 1, "high": 0.5, "low": 1, "close": 1, "volume": 1}, BarError),
        ({"symbol": "SPY", "open": -1, "high": 1, "low": 1, "close": 1, "volume": 1}, BarError),
        ({"symbol": "SPY", "open": "x", "high": 1, "low": 1, "close": 1, "volume": 1}, ValueError),
        ({"symbol": "SPY", "open": None, "high": 1, "low": 1, "close": 1, "volume": 1}, TypeError),
    ],
)
def test_from_json_rejects_bad_objects(obj, exc):
    with pytest.raises(exc):
        Bar.from_json(T0, obj)


def test_filled_bar_is_flat_at_the_last_close_with_no_volume():
    f = filled_bar("SPY", T0, 123.45)
    assert (f.open, f.high, f.low, f.close, f.volume, f.vwap, f.trade_count, f.filled) == (
        123.45,
        123.45,
        123.45,
        123.45,
        0.0,
        123.45,
        0,
        True,
    )
    assert f.validate() is f


def test_fill_grid_fills_gaps_from_the_last_close_and_skips_the_unknown_start():
    grid = [T0 + k * MINUTE_MS for k in range(6)]
    real = [bar(grid[1], c=10.5), bar(grid[2], c=10.7), bar(grid[4], c=11.0)]
    out = fill_grid("TQQQ", real, grid)
    assert [b.t for b in out] == grid[1:]
    assert [b.filled for b in out] == [False, False, True, False, True]
    assert out[2].close == 10.7 and out[4].close == 11.0


def test_fill_grid_uses_the_given_last_close_before_the_first_bar():
    grid = [T0 + k * MINUTE_MS for k in range(3)]
    out = fill_grid("TQQQ", [bar(grid[2])], grid, last_close=9.99)
    assert [(b.filled, b.close) for b in out[:2]] == [(True, 9.99), (True, 9.99)]
    assert out[2].filled is False


def test_fill_grid_drops_off_grid_bars_and_renames_the_symbol():
    grid = [T0, T0 + MINUTE_MS]
    out = fill_grid("SPY", [bar(T0 - MINUTE_MS), bar(T0, sym="spy")], grid)
    assert [b.t for b in out] == grid
    assert all(b.symbol == "SPY" for b in out)


def test_fill_grid_of_nothing_with_no_last_close_is_empty():
    assert fill_grid("SPY", [], [T0, T0 + MINUTE_MS]) == []


@given(
    present=st.lists(st.booleans(), min_size=1, max_size=60),
    closes=st.lists(st.floats(1, 1000), min_size=60, max_size=60),
)
def test_fill_grid_gives_one_bar_per_grid_minute_after_the_first_price(present, closes):
    grid = [T0 + k * MINUTE_MS for k in range(len(present))]
    real = [
        bar(t, o=c, h=c, lo=c, c=c) for t, p, c in zip(grid, present, closes, strict=False) if p
    ]
    out = fill_grid("TQQQ", real, grid)
    first = next((i for i, p in enumerate(present) if p), None)
    expected = [] if first is None else grid[first:]
    assert [b.t for b in out] == expected
    for prev, cur in zip(out, out[1:], strict=False):
        if cur.filled:
            assert cur.close == prev.close and cur.volume == 0

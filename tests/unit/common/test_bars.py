"""common.bars: validation and the one constructor of a filled bar."""

from __future__ import annotations

import math

import pytest

from common.bars import Bar, BarError, filled_bar

T0 = 1_760_621_400_000  # 2025-10-16 09:30 New York


def bar(
    t: int = T0,
    o: float = 10.0,
    h: float = 11.0,
    lo: float = 9.0,
    c: float = 10.5,
    v: float = 100.0,
    sym: str = "TQQQ",
    vwap: float | None = 10.2,
) -> Bar:
    return Bar(sym, t, o, h, lo, c, v, vwap, 7)


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
        ({"vwap": math.nan}, "vwap"),
        ({"vwap": -1.0}, "vwap"),
    ],
)
def test_invalid_bars_name_the_symbol_minute_and_field(kw, field):
    with pytest.raises(BarError) as ei:
        bar(**kw).validate()
    msg = str(ei.value)
    assert field in msg and "TQQQ" in msg and "t=" in msg


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

"""common.session_grid: the one session-grid rule, minute by minute and as arrays, and both agree."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.bars import MINUTE_MS, Bar, filled_bar
from common.calendar import nyse
from common.minute import Minute
from common.session_grid import GridFiller, fill_arrays, fill_grid

T0 = 1_760_621_400_000  # 2025-10-16 09:30 New York


def bar(t: int = T0, c: float = 10.5, sym: str = "TQQQ") -> Bar:
    """A real bar that opened at 10.0."""
    return Bar(sym, t, 10.0, max(10.0, c) + 0.5, min(10.0, c) - 0.5, c, 100.0, 10.2, 7)


def flat(sym: str, t: int, c: float) -> Bar:
    """A real bar with open = high = low = close."""
    return Bar(sym, t, c, c, c, c, 50.0)


# ---------------------------------------------------------------------- incremental


def test_a_minute_keeps_real_bars_and_fills_the_others_from_their_last_close():
    g = GridFiller(["AAA", "BBB", "CCC"], {"BBB": 5.0, "CCC": 7.0})
    m = g.fill(T0, {"AAA": flat("AAA", T0, 10.0), "CCC": filled_bar("CCC", T0, 99.0)}, "fifo")
    assert isinstance(m, Minute) and m.t == T0 and m.source == "fifo"
    assert m.symbols == ("AAA", "BBB", "CCC")
    assert m.bars["AAA"] == flat("AAA", T0, 10.0)
    # absent, or filled by someone else (at another close): flat at the owner's last close
    assert m.bars["BBB"] == filled_bar("BBB", T0, 5.0) and m.bars["CCC"] == filled_bar("CCC", T0, 7.0)
    assert m.filled_symbols == ("BBB", "CCC") and m.real_prices == {"AAA": 10.0}
    assert m.closes == {"AAA": 10.0, "BBB": 5.0, "CCC": 7.0}
    assert dict(g.last_closes) == {"AAA": 10.0, "BBB": 5.0, "CCC": 7.0}


def test_nothing_is_made_up_before_a_symbols_first_price():
    g = GridFiller(["AAA", "BBB"])
    m0 = g.fill(T0, {"AAA": flat("AAA", T0, 10.0)}, "history")
    m1 = g.fill(T0 + MINUTE_MS, {"BBB": filled_bar("BBB", T0 + MINUTE_MS, 3.0)}, "history")
    assert m0.symbols == ("AAA",) and m1.symbols == ("AAA",)
    assert m1.bars["AAA"].filled and "BBB" not in g.last_closes


def test_seeding_sets_only_unknown_symbols_and_real_prices():
    g = GridFiller(["AAA", "BBB", "CCC"], {"AAA": 1.0, "ZZZ": 4.0})
    g.seed({"AAA": 2.0, "BBB": 0.0, "CCC": math.nan})
    assert dict(g.last_closes) == {"AAA": 1.0}
    g.seed({"BBB": 3.0})
    assert dict(g.last_closes) == {"AAA": 1.0, "BBB": 3.0}
    with pytest.raises(TypeError):
        g.last_closes["AAA"] = 9.0  # type: ignore[index]


def test_misplaced_bars_and_bad_symbol_lists_are_refused_with_a_clear_message():
    g = GridFiller(["AAA"])
    with pytest.raises(ValueError, match=r"outside \['AAA'\]"):
        g.fill(T0, {"ZZZ": flat("ZZZ", T0, 1.0)}, "fifo")
    with pytest.raises(ValueError, match="the bar of AAA starts at"):
        g.fill(T0, {"AAA": flat("AAA", T0 + MINUTE_MS, 1.0)}, "fifo")
    with pytest.raises(ValueError, match="duplicate"):
        GridFiller(["AAA", "AAA"])
    with pytest.raises(ValueError, match="non-empty"):
        GridFiller([])


# ---------------------------------------------------------------------- one symbol's list


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
    real = [flat("TQQQ", t, c) for t, p, c in zip(grid, present, closes, strict=False) if p]
    out = fill_grid("TQQQ", real, grid)
    first = next((i for i, p in enumerate(present) if p), None)
    expected = [] if first is None else grid[first:]
    assert [b.t for b in out] == expected
    for prev, cur in zip(out, out[1:], strict=False):
        if cur.filled:
            assert cur.close == prev.close and cur.volume == 0


# ---------------------------------------------------------------------- both forms agree

_CAL = nyse()
_DAY1, _DAY2 = _CAL.session(date(2025, 11, 28)), _CAL.session(date(2025, 12, 1))  # half day, then full
# the end of a half day and the start of the next session: fills carry across the night
GRID = np.array(
    [*range(_DAY1.close_ms - 20 * MINUTE_MS, _DAY1.close_ms, MINUTE_MS),
     *range(_DAY2.open_ms, _DAY2.open_ms + 20 * MINUTE_MS, MINUTE_MS)],
    dtype=np.int64,
)  # fmt: skip
SYMBOLS = ("AAA", "BBB", "CCC")

# per symbol and grid minute: no bar, a real bar, or someone else's fill (at a random close)
_cell = st.tuples(st.sampled_from(["none", "real", "filled"]), st.floats(0.5, 500.0), st.floats(0, 1e6))


@settings(max_examples=150, deadline=None)
@given(
    cells=st.lists(st.lists(_cell, min_size=len(GRID), max_size=len(GRID)), min_size=3, max_size=3),
    off_grid=st.lists(st.tuples(st.integers(0, 2), st.floats(0.5, 500.0)), max_size=4),
)
def test_the_incremental_and_the_array_forms_agree_bar_for_bar(cells, off_grid):
    bars: dict[str, list[Bar]] = {s: [] for s in SYMBOLS}
    for i, sym in enumerate(SYMBOLS):
        for n, (kind, c, v) in enumerate(cells[i]):
            t = int(GRID[n])
            if kind == "real":
                bars[sym].append(Bar(sym, t, c * 1.01, c * 1.02, c * 0.98, c, v))
            elif kind == "filled":
                bars[sym].append(filled_bar(sym, t, c))
    for i, c in off_grid:  # the night between the sessions is not on the grid
        bars[SYMBOLS[i]].append(Bar(SYMBOLS[i], _DAY1.close_ms + 5 * MINUTE_MS, c, c, c, c, 1.0))
    values, filled = fill_arrays(GRID, SYMBOLS, bars)

    by_t: dict[int, dict[str, Bar]] = {}
    for sym, bs in bars.items():
        for b in bs:
            by_t.setdefault(b.t, {})[sym] = b
    g = GridFiller(SYMBOLS)
    for n, t in enumerate(GRID.tolist()):
        m = g.fill(t, by_t.get(t, {}), "history")
        for i, sym in enumerate(SYMBOLS):
            b = m.bars.get(sym)
            if b is None:
                assert np.isnan(values[:, i, n]).all() and not filled[i, n]
            else:
                assert values[:, i, n].tolist() == [b.open, b.high, b.low, b.close, b.volume]
                assert bool(filled[i, n]) == b.filled
    last = {s: float(values[3, i, -1]) for i, s in enumerate(SYMBOLS) if not np.isnan(values[3, i, -1])}
    assert dict(g.last_closes) == last

"""engine.market_grid: the session-grid rule on history and today's bars, and its errors."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from common.bars import MINUTE_MS, Bar
from common.calendar import Session, ny_datetime, nyse, to_ms
from common.csvfiles import history_path, read_history, today_path, write_history, write_today
from common.errors import OperationalError
from common.minute import Minute
from common.session_grid import fill_grid
from engine.market_grid import HistoryError, build_grid, load_sessions

D1, D2, D3 = date(2025, 10, 14), date(2025, 10, 15), date(2025, 10, 16)
HALF = date(2025, 11, 28)


def at(day: date, hhmm: str) -> int:
    return to_ms(ny_datetime(day, hhmm))


def bar(
    symbol: str, t: int, c: float, *, o: float | None = None, v: float = 100.0, filled: bool = False
) -> Bar:
    o = c if o is None else o
    return Bar(symbol, t, o, max(o, c) + 0.01, min(o, c) - 0.01, c, v, filled=filled)


def sessions(*days: date) -> list[Session]:
    return [nyse().session(d) for d in days]


# ---------------------------------------------------------------------- the rule


def test_the_grid_equals_fill_grid_on_a_thin_synthetic_market(thin_market):
    grid = load_sessions(thin_market.symbols, thin_market.sessions, thin_market.directory)
    minutes = [t for s in thin_market.sessions for t in s.minutes()]
    assert grid.t_ms.tolist() == minutes
    assert grid.filled.mean() > 0.3  # the market is thin: the rule is exercised a lot
    for i, sym in enumerate(grid.symbols):
        want = fill_grid(sym, read_history(history_path(thin_market.directory, sym)), minutes)
        got = [m.bars[sym] for m in grid if sym in m.bars]
        assert got == want, sym
        first = minutes.index(want[0].t)
        assert np.isnan(grid.close[i, :first]).all() and not grid.filled[i, :first].any()


def test_a_missing_minute_is_filled_flat_from_the_previous_close_with_no_volume():
    (s,) = sessions(D1)
    t0 = s.open_ms
    grid = build_grid(
        ["AAA"], [s], {"AAA": [bar("AAA", t0, 10.0, o=9.5), bar("AAA", t0 + 3 * MINUTE_MS, 11.0)]}
    )
    assert grid.filled[0, :5].tolist() == [False, True, True, False, True]
    for n in (1, 2):
        assert [grid.open[0, n], grid.high[0, n], grid.low[0, n], grid.close[0, n]] == [10.0] * 4
        assert grid.volume[0, n] == 0.0
    b = grid.bars_at(1).bars["AAA"]
    assert b.filled and b.volume == 0 and b.close == 10.0 and b.t == t0 + MINUTE_MS
    assert grid.close[0, -1] == 11.0 and grid.filled[0, -1]


def test_minutes_before_a_symbols_first_bar_have_no_bar_and_no_price():
    (s,) = sessions(D1)
    t0 = s.open_ms
    grid = build_grid(
        ["AAA", "BBB"],
        [s],
        {"AAA": [bar("AAA", t0, 10.0)], "BBB": [bar("BBB", t0 + 5 * MINUTE_MS, 20.0)]},
    )
    assert np.isnan(grid.open[1, :5]).all() and np.isnan(grid.volume[1, :5]).all()
    assert not grid.present[1, :5].any() and grid.present[1, 5:].all()
    assert "BBB" not in grid.bars_at(4).bars and grid.bars_at(5).bars["BBB"].close == 20.0
    assert grid.last_closes(4) == {"AAA": 10.0}


def test_the_fill_carries_across_sessions_and_nothing_before_the_first_session_is_used():
    s1, s2 = sessions(D1, D2)
    grid = build_grid(
        ["AAA"],
        [s1, s2],
        {
            "AAA": [
                bar("AAA", s1.open_ms - 86_400_000, 99.0),  # the day before: not in the grid
                bar("AAA", s1.close_ms - MINUTE_MS, 10.0),
                bar("AAA", s2.open_ms + 2 * MINUTE_MS, 12.0),
            ]
        },
    )
    assert np.isnan(grid.close[0, :389]).all()
    k = grid.session_range(1).start
    assert grid.close[0, k] == 10.0 and grid.filled[0, k] and grid.close[0, k + 2] == 12.0
    assert grid.session_of[k - 1] == 0 and grid.session_of[k] == 1
    assert grid.minute_index[k] == 0 and grid.minute_index[k - 1] == 389


def test_a_half_day_has_210_minutes_ending_at_12_59():
    s1, s2 = sessions(date(2025, 11, 26), HALF)
    grid = build_grid(["AAA"], [s1, s2], {"AAA": [bar("AAA", s1.open_ms, 10.0)]})
    r = grid.session_range(1)
    assert len(r) == 210 and grid.n_minutes == 390 + 210
    assert grid.t_ms[r.stop - 1] == at(HALF, "12:59")
    assert grid.bars_at(r.stop - 1).bars["AAA"].filled


def test_bars_marked_filled_or_off_the_grid_are_not_real_bars():
    (s,) = sessions(D1)
    t0 = s.open_ms
    grid = build_grid(
        ["AAA"],
        [s],
        {
            "AAA": [
                bar("AAA", t0, 10.0),
                bar("AAA", t0 + MINUTE_MS, 55.0, filled=True),  # a bridge fill from another close
                bar("AAA", t0 + 2 * MINUTE_MS, 11.0),
                bar("AAA", s.close_ms, 77.0),  # 16:00 is not a grid minute
            ]
        },
    )
    assert grid.close[0, 1] == 10.0 and grid.filled[0, 1]
    assert grid.close[0, 2] == 11.0 and not grid.filled[0, 2]
    assert 77.0 not in grid.close


def test_minute_batches_look_like_the_live_feed_and_lookups_work():
    (s,) = sessions(D1)
    t0 = s.open_ms
    grid = build_grid(
        ["AAA", "BBB"],
        [s],
        {"AAA": [bar("AAA", t0, 10.0)], "BBB": [bar("BBB", t0 + MINUTE_MS, 5.0)]},
    )
    m = grid.bars_at(1)
    assert isinstance(m, Minute) and m.source == "history"
    t, bars = m.t, m.bars  # the live feed's type: (t_ms, {symbol: Bar})
    assert t == t0 + MINUTE_MS and set(bars) == {"AAA", "BBB"}
    assert m.closes == {"AAA": 10.0, "BBB": 5.0} and m.real_prices == {"BBB": 5.0}
    assert grid.index_of(t0 + MINUTE_MS) == 1 and grid.find(t0 - MINUTE_MS) is None
    with pytest.raises(KeyError, match="not a minute of this grid"):
        grid.index_of(t0 - MINUTE_MS)
    assert [x.t for x in grid.minutes(2, 4)] == [t0 + 2 * MINUTE_MS, t0 + 3 * MINUTE_MS]
    assert grid.session_index(D1) == 0
    with pytest.raises(ValueError, match="read-only"):
        grid.close[0, 0] = 1.0


def test_bad_arguments_are_refused_with_a_clear_message():
    s1, s2 = sessions(D1, D2)
    with pytest.raises(ValueError, match="in order"):
        build_grid(["AAA"], [s2, s1], {})
    with pytest.raises(ValueError, match="repeat"):
        build_grid(["AAA", "AAA"], [s1], {})
    with pytest.raises(ValueError, match="empty"):
        build_grid(["AAA"], [], {})
    with pytest.raises(ValueError, match="not a minute start"):
        build_grid(["AAA"], [s1], {}, until_ms=s1.open_ms + 1)
    with pytest.raises(ValueError, match="not before the close"):
        build_grid(["AAA"], [s1], {}, until_ms=s1.close_ms)
    with pytest.raises(ValueError, match="before the last session"):
        build_grid(["AAA"], [s1, s2], {}, until_ms=s1.open_ms)


# ---------------------------------------------------------------------- files


def _history(
    directory: Path, symbol: str, days: list[Session], price: float = 10.0, every: int = 1
) -> list[Bar]:
    bars = [
        bar(symbol, t, price + 0.01 * (i % 7))
        for s in days
        for i, t in enumerate(s.minutes())
        if i % every == 0
    ]
    write_history(history_path(directory, symbol), bars)
    return bars


def test_history_and_todays_bars_make_one_grid_that_stops_at_the_latest_bar(tmp_path):
    hist, today_dir = tmp_path / "equities", tmp_path / "todays_bars"
    days = sessions(D1, D2, D3)
    _history(hist, "AAA", days[:2])
    _history(hist, "BBB", days[:2], price=20.0, every=3)
    # the history download already holds today's first minutes; the today file wins
    write_history(history_path(hist, "AAA"), [bar("AAA", at(D3, "09:30"), 1.0)])
    write_today(
        today_path(today_dir, "AAA"),
        [bar("AAA", at(D3, "09:30"), 30.0), bar("AAA", at(D3, "09:31"), 31.0)],
    )
    write_today(today_path(today_dir, "BBB"), [bar("BBB", at(D3, "09:33"), 33.0)])
    grid = load_sessions(["AAA", "BBB"], days, hist, today_dir)
    r = grid.session_range(2)
    assert len(r) == 4 and grid.t_ms[-1] == at(D3, "09:33")
    assert grid.close[0, r.start] == 30.0 and grid.close[0, r.start + 1] == 31.0
    assert grid.close[0, -1] == 31.0 and grid.filled[0, -1]
    assert grid.close[1, -1] == 33.0 and not grid.filled[1, -1]
    cut = load_sessions(["AAA", "BBB"], days, hist, today_dir, until_ms=at(D3, "09:30"))
    assert cut.t_ms[-1] == at(D3, "09:30") and cut.n_minutes == grid.n_minutes - 3
    assert np.array_equal(cut.close, grid.close[:, : cut.n_minutes], equal_nan=True)


def test_today_before_the_first_bar_contributes_no_minute(tmp_path):
    hist, today_dir = tmp_path / "equities", tmp_path / "todays_bars"
    days = sessions(D1, D2)
    _history(hist, "AAA", days[:1])
    write_today(today_path(today_dir, "AAA"), [])
    grid = load_sessions(["AAA"], days, hist, today_dir)
    assert grid.n_minutes == 390 and len(grid.session_range(1)) == 0
    assert grid.last_closes() == {"AAA": grid.close[0, -1]}


def test_a_missing_history_file_names_the_symbol_and_the_file(tmp_path):
    _history(tmp_path, "AAA", sessions(D1))
    with pytest.raises(HistoryError) as e:
        load_sessions(["AAA", "BBB"], sessions(D1), tmp_path)
    assert "BBB" in str(e.value) and str(history_path(tmp_path, "BBB")) in str(e.value)
    assert isinstance(e.value, OperationalError) and isinstance(e.value, ValueError)


def test_a_session_without_bars_is_missing_history(tmp_path):
    _history(tmp_path, "AAA", sessions(D1, D3))
    with pytest.raises(HistoryError, match=f"AAA.*no bars on {D2}.*download"):
        load_sessions(["AAA"], sessions(D1, D2, D3), tmp_path)


def test_an_unreadable_file_names_the_file_and_line(tmp_path):
    path = history_path(tmp_path, "AAA")
    path.write_text(
        "ts_utc,ts_nyt_epoch,open,high,low,close,volume\n2025-10-14T09:30:00-04:00,x,1,1,1,1,1\n"
    )
    with pytest.raises(HistoryError, match=rf"AAA.*{path.name}:2"):
        load_sessions(["AAA"], sessions(D1), tmp_path)


def test_a_missing_today_file_is_an_error(tmp_path):
    _history(tmp_path / "h", "AAA", sessions(D1))
    with pytest.raises(HistoryError, match="today's bars missing for AAA"):
        load_sessions(["AAA"], sessions(D1, D2), tmp_path / "h", tmp_path / "t")

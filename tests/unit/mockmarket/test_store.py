from __future__ import annotations

from datetime import date

import pytest

from common.bars import Bar
from common.calendar import ny_date
from common.csvfiles import history_path, write_history
from mockmarket.store import MarketStore, StoreError


def test_load_keeps_sessions_up_to_the_replay_date_only(store, facts):
    assert store.replay_date == facts.replay
    assert store.symbols == facts.symbols
    assert store.session_dates() == [date(2025, 10, 15), date(2025, 10, 16)]
    after = facts.ny_ms(date(2025, 10, 17), "09:30")
    assert all(b.t < after for s in store.symbols for b in store.bars(s))


def test_bars_equal_the_csv(store, facts):
    for s in facts.symbols:
        expected = [b for b in facts.csv_bars(s) if ny_date(b.t) <= facts.replay]
        assert store.bars(s) == expected


def test_default_replay_date_is_the_latest_session_in_the_data(market_dir):
    assert MarketStore.load(market_dir).replay_date == date(2025, 10, 17)


def test_bar_at_and_last_bar_before(store, facts):
    t = facts.ny_ms(facts.replay, "10:00")
    bar = store.bar_at("AAA", t)
    assert bar is not None and bar.t == t
    assert store.last_bar_before("AAA", t).t == t - 60_000
    assert store.bar_at("NOPE", t) is None
    assert store.last_bar_before("NOPE", t) is None
    first = store.bars("AAA")[0].t
    assert store.last_bar_before("AAA", first) is None


def test_thin_symbol_gaps_fall_back_to_the_last_close(store):
    thin = store.bars("THIN")
    gaps = [a.t + 60_000 for a, b in zip(thin, thin[1:], strict=False) if b.t - a.t == 120_000]
    assert gaps, "the fixture market must have gaps"
    t = gaps[0]
    assert store.bar_at("THIN", t) is None
    assert store.last_bar_before("THIN", t).t == t - 60_000


def test_bars_at_minute_lists_only_symbols_with_a_bar(store):
    thin = store.bars("THIN")
    gap = next(a.t + 60_000 for a, b in zip(thin, thin[1:], strict=False) if b.t - a.t == 120_000)
    assert [b.symbol for b in store.bars_at_minute(gap)] == ["AAA", "BBB"]
    assert [b.symbol for b in store.bars_at_minute(thin[0].t)] == ["AAA", "BBB", "THIN"]
    assert store.bars_at_minute(gap + 30_000) == []


def test_index_range_is_inclusive(store, facts):
    a = facts.ny_ms(facts.replay, "10:00")
    b = facts.ny_ms(facts.replay, "10:04")
    lo, hi = store.index_range("AAA", a, b)
    assert [x.t for x in store.bars("AAA")[lo:hi]] == list(range(a, b + 1, 60_000))
    assert store.index_range("AAA", b, a) == (0, 0)
    assert store.index_range("NOPE", a, b) == (0, 0)


def test_errors_name_what_is_wrong(tmp_path, market_dir):
    with pytest.raises(StoreError, match="no \\*_RTH_NH.csv"):
        MarketStore.load(tmp_path)
    with pytest.raises(StoreError, match="not an NYSE session"):
        MarketStore.load(market_dir, date(2025, 10, 18))
    with pytest.raises(StoreError, match="no bars on the replay date 2025-10-14"):
        MarketStore.load(market_dir, date(2025, 10, 14))
    with pytest.raises(StoreError, match="ZZZ"):
        MarketStore.load(market_dir, symbols=["ZZZ"])


def test_a_bad_csv_row_names_file_and_line(tmp_path):
    path = history_path(tmp_path, "BAD")
    write_history(path, [Bar("BAD", 1760621400000, 1.0, 1.0, 1.0, 1.0, 10.0)])
    path.write_text(path.read_text() + "2025-10-16T09:31:00-04:00,1760621460,x,1,1,1,1\n")
    with pytest.raises(ValueError, match=r"BAD_RTH_NH.csv:3"):
        MarketStore.load(tmp_path)

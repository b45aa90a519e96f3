from __future__ import annotations

import logging
import random
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.batcher import Added, MinuteBatcher
from common.bars import Bar
from common.calendar import nyse

SYMS = ("AAA", "BBB", "CCC")
OPEN = nyse().session(date(2025, 10, 16)).open_ms
M = 60_000


def m(i: int) -> int:
    return OPEN + i * M


def bar(sym: str, i: int, close: float = 10.0) -> Bar:
    return Bar(sym, m(i), close, close, close, close, 100.0, close, 2)


@pytest.fixture
def b():
    return MinuteBatcher(SYMS, deadline_s=3.0, last_closes={"AAA": 1.0, "BBB": 2.0, "CCC": 3.0})


def test_complete_minute_is_written_at_once(b):
    b.add(bar("AAA", 0), 0.0)
    b.add(bar("BBB", 0), 0.0)
    assert b.ready(0.0) == []
    b.add(bar("CCC", 0), 0.1)
    (batch,) = b.ready(0.1)
    assert batch.t == m(0) and batch.source == "complete"
    assert list(batch.symbols) == list(SYMS)
    assert batch.filled_symbols == ()
    assert b.last_written == m(0)


def test_first_minute_is_complete_thanks_to_seeded_closes(b):
    b.add(bar("AAA", 0, 11.0), 0.0)
    (batch,) = b.ready(3.0)
    assert batch.source == "deadline"
    assert batch.filled_symbols == ("BBB", "CCC")
    filled = {x.symbol: x for x in batch.bars.values() if x.filled}
    assert filled["BBB"].close == filled["BBB"].open == 2.0 and filled["BBB"].volume == 0
    assert filled["CCC"].close == 3.0


def test_deadline_counts_from_the_minutes_first_bar(b):
    b.add(bar("AAA", 0), 10.0)
    assert b.next_deadline() == 13.0
    assert b.ready(12.99) == []
    assert [x.source for x in b.ready(13.0)] == ["deadline"]


def test_a_later_minute_closes_the_earlier_one(b):
    b.add(bar("AAA", 0, 11.0), 0.0)
    b.add(bar("AAA", 1, 12.0), 1.0)
    out = b.ready(1.0)
    assert [(x.t, x.source) for x in out] == [(m(0), "later")]
    assert b.pending_minutes == [m(1)]


def test_filled_bars_use_the_last_written_close(b):
    b.add_many([(bar("AAA", 0), False), (bar("BBB", 0, 20.0), False), (bar("CCC", 0), False)], 0.0)
    b.ready(0.0)
    b.add(bar("AAA", 1), 1.0)
    (batch,) = b.ready(4.0)
    assert {x.symbol: x.close for x in batch.bars.values() if x.filled} == {"BBB": 20.0, "CCC": 10.0}


def test_out_of_order_bars_within_and_across_minutes(b):
    b.add(bar("BBB", 1), 0.0)  # minute 1 arrives first
    b.add(bar("AAA", 0), 0.0)
    out = b.ready(0.0)
    assert [x.t for x in out] == [m(0)]  # minute 0 goes first, closed by the later one
    for s in ("AAA", "CCC"):
        b.add(bar(s, 1), 0.1)
    assert [(x.t, x.source) for x in b.ready(0.1)] == [(m(1), "complete")]


def test_duplicates_are_ignored_and_late_bars_dropped(b, caplog):
    assert b.add(bar("AAA", 0), 0.0) is Added.ACCEPTED
    assert b.add(bar("AAA", 0), 0.0) is Added.DUPLICATE
    assert b.add(bar("AAA", 0, 99.0), 0.0) is Added.REPLACED
    b.ready(5.0)
    with caplog.at_level(logging.WARNING):
        assert b.add(bar("BBB", 0), 6.0) is Added.LATE
    assert "late bar BBB" in caplog.text
    assert b.ready(100.0) == []  # never written twice


def test_updated_bars_amend_a_pending_minute_or_are_only_logged(b, caplog):
    b.add(bar("AAA", 0, 10.0), 0.0)
    assert b.add(bar("AAA", 0, 10.5), 0.0, updated=True) is Added.REPLACED
    (batch,) = b.ready(3.0)
    assert batch.bars["AAA"].close == 10.5
    with caplog.at_level(logging.INFO):
        assert b.add(bar("AAA", 0, 10.7), 4.0, updated=True) is Added.CORRECTION_LOGGED
    assert "updatedBars correction AAA" in caplog.text
    # a correction never opens a minute by itself (a restarted bridge must not rewrite it)
    assert b.add(bar("BBB", 5), 5.0, updated=True) is Added.CORRECTION_LOGGED
    assert b.pending_minutes == []


def test_bars_outside_the_session_grid_and_unknown_symbols_are_ignored(b):
    assert b.add(bar("AAA", -1), 0.0) is Added.OFF_GRID  # 09:29
    assert b.add(bar("AAA", 390), 0.0) is Added.OFF_GRID  # 16:00
    assert b.add(bar("ZZZ", 0), 0.0) is Added.UNKNOWN_SYMBOL
    assert b.pending_minutes == []


def test_half_day_grid_ends_at_13_00():
    half = nyse().session(date(2025, 11, 28))
    assert half.is_half_day
    bt = MinuteBatcher(["AAA"], last_closes={"AAA": 1.0})
    last = half.close_ms - M
    assert bt.add(Bar("AAA", last, 1, 1, 1, 1, 1), 0.0) is Added.ACCEPTED
    assert bt.add(Bar("AAA", half.close_ms, 1, 1, 1, 1, 1), 0.0) is Added.OFF_GRID


def test_quiet_minutes_on_one_connection_are_written_filled(b):
    for s in SYMS:
        b.add(bar(s, 0), 0.0)
    b.ready(0.0)
    b.add(bar("AAA", 3), 3.0)  # minutes 1 and 2 had no trade at all
    out = b.ready(6.0)
    assert [(x.t, x.source) for x in out] == [(m(1), "quiet"), (m(2), "quiet"), (m(3), "deadline")]
    assert all(x.filled_symbols == SYMS for x in out[:2])


def test_minutes_missed_while_disconnected_are_left_to_the_engine(b, caplog):
    for s in SYMS:
        b.add(bar(s, 0), 0.0)
    b.ready(0.0)
    b.connection_lost()  # reconnect: minutes 1..4 were not seen
    b.add(bar("AAA", 5), 5.0)
    with caplog.at_level(logging.WARNING):
        out = b.ready(8.0)
    assert [x.t for x in out] == [m(5)]
    assert "4 minute(s)" in caplog.text and "backfills" in caplog.text
    b.add(bar("AAA", 7), 9.0)  # same connection now: minute 6 is quiet
    assert [(x.t, x.source) for x in b.ready(12.0)] == [(m(6), "quiet"), (m(7), "deadline")]


def test_no_filling_across_sessions():
    bt = MinuteBatcher(["AAA"], last_closes={"AAA": 1.0})
    day1 = nyse().session(date(2025, 10, 16))
    day2 = nyse().session(date(2025, 10, 17))
    bt.add(Bar("AAA", day1.close_ms - M, 1, 1, 1, 1, 1), 0.0)
    bt.add(Bar("AAA", day2.open_ms, 2, 2, 2, 2, 1), 1.0)
    out = bt.ready(10.0)
    assert [x.t for x in out] == [day1.close_ms - M, day2.open_ms]


def test_a_symbol_without_any_price_is_left_out_with_a_warning(caplog):
    bt = MinuteBatcher(["AAA", "BBB"], last_closes={"AAA": 1.0})
    bt.add(Bar("AAA", m(0), 1, 1, 1, 1, 1), 0.0)
    with caplog.at_level(logging.WARNING):
        (batch,) = bt.ready(3.0)
    assert [x.symbol for x in batch.bars.values()] == ["AAA"]
    assert "BBB has no bar and no known price" in caplog.text


def test_bad_construction_is_refused():
    with pytest.raises(ValueError, match="duplicate"):
        MinuteBatcher(["A", "A"])
    with pytest.raises(ValueError, match="at least one"):
        MinuteBatcher([])
    with pytest.raises(ValueError, match="deadline_s"):
        MinuteBatcher(["A"], deadline_s=0)


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), minutes=st.integers(2, 12), dup_rate=st.floats(0, 0.3),
       miss_rate=st.floats(0, 0.5))
def test_any_arrival_order_gives_each_minute_once_in_order_and_complete(seed, minutes, dup_rate, miss_rate):
    rng = random.Random(seed)
    bt = MinuteBatcher(SYMS, deadline_s=3.0, last_closes={s: 1.0 for s in SYMS})
    # the feed: each minute's bars together, shuffled, some missing, some duplicated,
    # occasionally a bar of the next minute sneaking in first within a frame
    frames: list[list[Bar]] = []
    for i in range(minutes):
        frame = [bar(s, i, 1 + rng.random()) for s in SYMS if rng.random() >= miss_rate]
        frame += [x for x in frame if rng.random() < dup_rate]
        rng.shuffle(frame)
        frames.append(frame)
    out = []
    now = 0.0
    for frame in frames:
        now += rng.choice([0.5, 1.0, 4.0])
        for x in frame:
            bt.add(x, now)
        out += bt.ready(now)
        now += rng.random() * 4
        out += bt.ready(now)
    out += bt.ready(now + 100)
    ts = [x.t for x in out]
    assert ts == sorted(set(ts))
    assert ts == list(range(ts[0], ts[-1] + M, M)) if ts else True
    for batch in out:
        assert [x.symbol for x in batch.bars.values()] == list(SYMS)
        assert list(batch.bars) == list(SYMS)  # each bar under its own symbol


def test_deadline_shrinks_with_a_fast_feed_but_never_grows(b):
    assert b.effective_deadline() == 3.0
    b.feed_gap_s = 1.0  # a 60x replay
    assert b.effective_deadline() == 0.25
    b.feed_gap_s = 0.01
    assert b.effective_deadline() == 0.05
    b.feed_gap_s = 60.0  # real time
    assert b.effective_deadline() == 3.0
    b.feed_gap_s = 1.0
    b.add(bar("AAA", 0), 10.0)
    assert b.ready(10.2) == []
    assert [x.source for x in b.ready(10.25)] == ["deadline"]

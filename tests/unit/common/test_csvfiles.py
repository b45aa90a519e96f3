"""common.csvfiles: both bar file formats, merging writers and errors naming file and line."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.bars import Bar, BarError
from common.calendar import iso_ny, ny_datetime, nyse, to_ms
from common.csvfiles import (
    HISTORY_HEADER,
    TODAY_HEADER,
    CsvFormatError,
    history_path,
    history_symbols,
    read_history,
    read_today,
    regular_hours,
    symbol_of,
    today_path,
    write_history,
    write_today,
)

DAY = date(2025, 10, 16)
HALF = date(2025, 11, 28)


def ms(d: date, hhmm: str) -> int:
    return to_ms(ny_datetime(d, hhmm))


def bar(t: int, price: float = 10.0, volume: float = 100.0, sym: str = "TQQQ") -> Bar:
    return Bar(sym, t, price, price + 0.25, price - 0.25, price + 0.01, volume)


def history_line(t: int, o="10", h="11", lo="9", c="10.5", v="100") -> str:
    return f"{iso_ny(t)},{t // 1000},{o},{h},{lo},{c},{v}"


def write_text(path: Path, header: list[str] | str, *lines: str) -> Path:
    head = header if isinstance(header, str) else ",".join(header)
    path.write_text("\n".join([head, *lines]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def hist(tmp_path: Path) -> Path:
    return history_path(tmp_path, "TQQQ")


@pytest.fixture
def today(tmp_path: Path) -> Path:
    return today_path(tmp_path, "TQQQ")


# ---------------------------------------------------------------- round trips
def test_history_round_trip_keeps_every_value(hist):
    bars = [
        bar(ms(DAY, "09:30"), 10.0, 1500),
        bar(ms(DAY, "09:31"), 10.37, 0.5),
        bar(ms(DAY, "15:59"), 123.456789, 7),
    ]
    assert write_history(hist, bars) == 3
    back = read_history(hist)
    assert back == [Bar(b.symbol, b.t, b.open, b.high, b.low, b.close, b.volume) for b in bars]
    lines = hist.read_text().splitlines()
    assert lines[0] == ",".join(HISTORY_HEADER)
    assert (
        lines[1] == f"2025-10-16T09:30:00-04:00,{ms(DAY, '09:30') // 1000},10,10.25,9.75,10.01,1500"
    )


def test_today_round_trip_keeps_every_value(today):
    bars = [bar(ms(DAY, "09:30"), 10.0), bar(ms(DAY, "10:00"), 10.01 + 1e-9)]
    assert write_today(today, bars) == 2
    assert read_today(today) == bars
    lines = today.read_text().splitlines()
    assert lines[0] == ",".join(TODAY_HEADER)
    assert lines[1].startswith(f"{ms(DAY, '09:30')},10,")


def test_history_in_winter_uses_the_est_offset(hist):
    t = ms(date(2025, 12, 1), "09:30")
    write_history(hist, [bar(t)])
    assert hist.read_text().splitlines()[1].startswith("2025-12-01T09:30:00-05:00,")
    assert read_history(hist)[0].t == t


def test_paths_and_symbols(tmp_path):
    assert history_path(tmp_path, "SPY").name == "SPY_RTH_NH.csv"
    assert today_path(tmp_path, "SPY").name == "SPY_today.csv"
    assert symbol_of("x/SPXL_RTH_NH.csv") == "SPXL" and symbol_of("SPXL_today.csv") == "SPXL"
    with pytest.raises(CsvFormatError, match="neither"):
        symbol_of("SPY.csv")
    write_history(history_path(tmp_path, "SPY"), [bar(ms(DAY, "09:30"), sym="SPY")])
    write_history(history_path(tmp_path, "AAA"), [bar(ms(DAY, "09:30"), sym="AAA")])
    assert history_symbols(tmp_path) == ["AAA", "SPY"]
    assert history_symbols(tmp_path / "missing") == []
    assert read_history(history_path(tmp_path, "SPY"))[0].symbol == "SPY"


# ---------------------------------------------------------------- merge, filter, dedupe, sort
def test_merge_never_truncates_and_new_rows_win(hist):
    old = [bar(ms(DAY, f"10:{m:02d}"), 10.0) for m in range(10)]
    write_history(hist, old)
    new = [bar(ms(DAY, "10:05"), 20.0), bar(ms(DAY, "10:20"), 30.0)]
    assert write_history(hist, new) == 11
    back = {b.t: b.open for b in read_history(hist)}
    assert len(back) == 11
    assert back[ms(DAY, "10:05")] == 20.0 and back[ms(DAY, "10:04")] == 10.0
    assert back[ms(DAY, "10:20")] == 30.0
    assert write_history(hist, []) == 11  # an empty download keeps everything


def test_today_merge_never_truncates(today):
    write_today(today, [bar(ms(DAY, "09:30")), bar(ms(DAY, "09:31"))])
    write_today(today, [bar(ms(DAY, "09:32"))])
    assert [b.t for b in read_today(today)] == [
        ms(DAY, "09:30"),
        ms(DAY, "09:31"),
        ms(DAY, "09:32"),
    ]


def test_writers_keep_regular_hours_only_half_days_included(hist):
    bars = [
        bar(ms(DAY, "09:29")),
        bar(ms(DAY, "09:30")),
        bar(ms(DAY, "15:59")),
        bar(ms(DAY, "16:00")),
        bar(ms(HALF, "12:59")),
        bar(ms(HALF, "13:00")),
        bar(ms(HALF, "15:00")),
        bar(ms(date(2025, 11, 27), "10:00")),  # Thanksgiving
        bar(ms(date(2025, 10, 18), "10:00")),  # Saturday
    ]
    assert write_history(hist, bars) == 3
    assert [b.t for b in read_history(hist)] == [
        ms(DAY, "09:30"),
        ms(DAY, "15:59"),
        ms(HALF, "12:59"),
    ]


def test_regular_hours_filter(hist):
    kept = regular_hours(
        [bar(ms(HALF, "09:30")), bar(ms(HALF, "13:00")), bar(ms(DAY, "04:00"))], nyse()
    )
    assert [b.t for b in kept] == [ms(HALF, "09:30")]


def test_writers_sort_and_dedupe_the_last_of_a_repeated_minute_wins(today):
    a, b, c = ms(DAY, "09:30"), ms(DAY, "09:31"), ms(DAY, "09:32")
    write_today(today, [bar(c, 3.0), bar(a, 1.0), bar(b, 2.0), bar(a, 1.5)])
    assert [(x.t, x.open) for x in read_today(today)] == [(a, 1.5), (b, 2.0), (c, 3.0)]


def test_readers_sort_and_dedupe_files_written_by_others(hist):
    a, b = ms(DAY, "09:30"), ms(DAY, "09:31")
    write_text(
        hist, HISTORY_HEADER, history_line(b, o="2"), history_line(a, o="1"), history_line(b, o="3")
    )
    assert [(x.t, x.open) for x in read_history(hist)] == [(a, 1.0), (b, 3.0)]


def test_readers_skip_blank_lines_and_accept_an_empty_file(hist, today):
    write_text(hist, HISTORY_HEADER, "", history_line(ms(DAY, "09:30")), " , , ")
    assert len(read_history(hist)) == 1
    today.write_text("")
    assert read_today(today) == []
    write_text(today, TODAY_HEADER)
    assert read_today(today) == []


def test_a_writer_refuses_an_invalid_new_bar_and_keeps_the_file(hist):
    write_history(hist, [bar(ms(DAY, "09:30"))])
    before = hist.read_bytes()
    with pytest.raises(BarError, match="high"):
        write_history(hist, [Bar("TQQQ", ms(DAY, "09:31"), 10, 9, 11, 10, 5)])
    assert hist.read_bytes() == before


def test_a_writer_refuses_to_merge_into_a_corrupt_file(hist):
    write_text(hist, HISTORY_HEADER, history_line(ms(DAY, "09:30")), "garbage")
    before = hist.read_bytes()
    with pytest.raises(CsvFormatError, match=":3:"):
        write_history(hist, [bar(ms(DAY, "09:31"))])
    assert hist.read_bytes() == before


def test_the_write_is_atomic_no_temp_file_left(hist):
    write_history(hist, [bar(ms(DAY, "09:30"))])
    assert os.listdir(hist.parent) == [hist.name]


# ---------------------------------------------------------------- errors name file and line
@pytest.mark.parametrize(
    ("lines", "line_no", "words"),
    [
        ([history_line(1_760_621_400_000, o="abc")], 2, "open='abc' is not a number"),
        ([history_line(1_760_621_400_000, c="nan")], 2, "close='nan' is not finite"),
        ([history_line(1_760_621_400_000, v="inf")], 2, "volume='inf' is not finite"),
        ([history_line(1_760_621_400_000, lo="-1")], 2, "low=-1.0"),
        ([history_line(1_760_621_400_000, h="8", lo="9")], 2, "high 8.0 < low 9.0"),
        ([history_line(1_760_621_400_000, v="-5")], 2, "volume=-5.0"),
        (["2025-10-16T09:30:00-04:00,1760621400,1,1,1,1"], 2, "6 fields, expected 7"),
        (
            [history_line(1_760_621_400_000), "2025-10-16T09:31:00-04:00,1760621400,1,1,1,1,1"],
            3,
            "disagree",
        ),
        (["2025-10-16T09:30:00,1760621400,1,1,1,1,1"], 2, "disagree"),
        (["not-a-time,1760621400,1,1,1,1,1"], 2, "ts_utc='not-a-time'"),
        (["2025-10-16T09:30:00-04:00,17606214e2,1,1,1,1,1"], 2, "ts_nyt_epoch='17606214e2'"),
        (["2025-10-16T09:30:30-04:00,1760621430,1,1,1,1,1"], 2, "not aligned"),
    ],
)
def test_history_errors_name_file_and_line(hist, lines, line_no, words):
    write_text(hist, HISTORY_HEADER, *lines)
    with pytest.raises(CsvFormatError) as ei:
        read_history(hist)
    msg = str(ei.value)
    assert f"{hist}:{line_no}:" in msg
    assert words in msg


@pytest.mark.parametrize(
    ("lines", "line_no", "words"),
    [
        (["1760621400000,1,2,0.5,1"], 2, "5 fields, expected 6"),
        (["1760621400000,1,2,0.5,1,1", "2025-10-16,1,2,0.5,1,1"], 3, "timestamp='2025-10-16'"),
        (["1760621400000,1,2,0.5,x,1"], 2, "close='x'"),
        (["1760621400000,1,2,0.5,NaN,1"], 2, "close='NaN' is not finite"),
        (["1760621400000,0,2,0.5,1,1"], 2, "open=0.0"),
        (["1760621400000,1,0.5,2,1,1"], 2, "high 0.5 < low 2.0"),
    ],
)
def test_today_errors_name_file_and_line(today, lines, line_no, words):
    write_text(today, TODAY_HEADER, *lines)
    with pytest.raises(CsvFormatError) as ei:
        read_today(today)
    assert f"{today}:{line_no}:" in str(ei.value) and words in str(ei.value)


@pytest.mark.parametrize(
    "header", ["timestamp,open,high,low,close,volume", "ts_utc,open", "a,b,c,d,e,f,g"]
)
def test_a_bad_header_is_named(hist, header):
    write_text(hist, header, "x")
    with pytest.raises(CsvFormatError, match=rf"{hist}:1: header .*expected ts_utc,ts_nyt_epoch"):
        read_history(hist)


def test_a_header_with_a_byte_order_mark_is_accepted(hist):
    hist.write_bytes(
        b"\xef\xbb\xbf"
        + (",".join(HISTORY_HEADER) + "\n" + history_line(ms(DAY, "09:30")) + "\n").encode()
    )
    assert len(read_history(hist)) == 1


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CsvFormatError, match="no such file"):
        read_today(tmp_path / "X_today.csv")


def test_undecodable_bytes_are_named_with_their_line(hist):
    hist.write_bytes((",".join(HISTORY_HEADER) + "\n").encode() + b"\xff\xfe,1\n")
    with pytest.raises(CsvFormatError, match=str(hist)):
        read_history(hist)


# ---------------------------------------------------------------- readers never crash
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
CELL = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "-1",
            "1e400",
            "nan",
            "1760621400",
            "1760621400000",
            "2025-10-16T09:30:00-04:00",
            "9",
            "11",
            "10.5",
            '"',
            "Z",
        ]
    ),
    st.text(max_size=8),
)


def _lines(rows: list[list[str]]) -> str:
    return "\n".join(",".join(r) for r in rows)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.one_of(st.binary(max_size=300), TEXT.map(str.encode)))
def test_readers_never_crash_on_arbitrary_bytes(tmp_path, data):
    for header, reader, name in (
        (HISTORY_HEADER, read_history, "A_RTH_NH.csv"),
        (TODAY_HEADER, read_today, "A_today.csv"),
    ):
        path = tmp_path / name
        for content in (data, (",".join(header) + "\n").encode() + data):
            path.write_bytes(content)
            try:
                bars = reader(path)
            except CsvFormatError as e:
                assert str(path) in str(e)
            else:
                assert all(isinstance(b, Bar) for b in bars)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=st.lists(st.lists(CELL, min_size=5, max_size=8), max_size=5))
def test_readers_never_crash_on_near_miss_rows(tmp_path, rows):
    for header, reader, name in (
        (HISTORY_HEADER, read_history, "A_RTH_NH.csv"),
        (TODAY_HEADER, read_today, "A_today.csv"),
    ):
        path = tmp_path / name
        path.write_text(",".join(header) + "\n" + _lines(rows), encoding="utf-8")
        try:
            bars = reader(path)
        except CsvFormatError as e:
            assert str(path) in str(e)
        else:
            assert [b.t for b in bars] == sorted({b.t for b in bars})


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    minutes=st.lists(st.integers(0, 389), min_size=1, max_size=30),
    prices=st.lists(st.floats(0.01, 5000, allow_nan=False), min_size=30, max_size=30),
)
def test_history_write_read_is_identity_on_valid_bars(tmp_path, minutes, prices):
    path = tmp_path / "P_RTH_NH.csv"
    path.unlink(missing_ok=True)
    open_ms = nyse().session(DAY).open_ms
    bars = {
        open_ms + m * 60_000: Bar("P", open_ms + m * 60_000, p, p * 1.01, p * 0.99, p, 10)
        for m, p in zip(minutes, prices, strict=False)
    }
    write_history(path, bars.values())
    assert read_history(path) == [bars[t] for t in sorted(bars)]


# -- the pandas fast path of read_history and the row-by-row reader agree


_price = st.floats(min_value=0.0001, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 389), _price, _price, st.integers(0, 10**9)), min_size=1, max_size=40),
    shuffle_seed=st.integers(0, 2**16),
)
def test_fast_and_row_readers_give_identical_bars(tmp_path_factory, rows, shuffle_seed):
    import random

    from common import csvfiles

    open_ms = nyse().session(date(2025, 10, 16)).open_ms
    lines = []
    for minute, a, b, v in rows:  # repeated minutes and any order: the last row wins
        t = open_ms + minute * 60_000
        lo, hi = min(a, b), max(a, b)
        lines.append(f"{iso_ny(t)},{t // 1000},{a!r},{hi!r},{lo!r},{b!r},{v}")
    random.Random(shuffle_seed).shuffle(lines)
    path = tmp_path_factory.mktemp("fast") / "SPY_RTH_NH.csv"
    path.write_text(",".join(HISTORY_HEADER) + "\n" + "\n".join(lines) + "\n")
    fast = csvfiles._fast_history(path, "SPY")
    assert fast is not None
    rows_only = list(_slow_history(path))
    assert fast == rows_only


def _slow_history(path):
    from common import csvfiles

    saved = csvfiles._fast_history
    csvfiles._fast_history = lambda *_: None
    try:
        return csvfiles.read_history(path)
    finally:
        csvfiles._fast_history = saved


@pytest.mark.parametrize(
    "row",
    [
        "2025-10-16,1760621400,1,1,1,1,1",  # a date alone: New York midnight to the row reader
        "2025-10-16T09:30:00-04:00,1760621400.0,1,1,1,1,1",
        "2025-10-16T09:30:00-04:00,1760621400,1,1,1,nan,1",
        "2025-10-16T09:30:00-04:00,1760621400,1,0.5,1,1,1",
        "2025-10-16T09:30:00-04:00,1760621400,1,1,1,1",
    ],
)
def test_fast_path_steps_aside_for_anything_not_plainly_well_formed(tmp_path, row):
    from common import csvfiles

    path = tmp_path / "SPY_RTH_NH.csv"
    path.write_text(",".join(HISTORY_HEADER) + "\n" + row + "\n")
    assert csvfiles._fast_history(path, "SPY") is None
    with pytest.raises(CsvFormatError, match=r"SPY_RTH_NH.csv:2"):
        csvfiles.read_history(path)


def test_history_times_reads_only_the_minutes(tmp_path):
    from common.csvfiles import history_times

    path = tmp_path / "AAA_RTH_NH.csv"
    t0 = 1760621400000  # 2025-10-16 09:30 New York
    write_history(path, [Bar("AAA", t0 + k * 60_000, 10, 11, 9, 10, 5) for k in (2, 0, 1)])
    assert history_times(path) == [t0, t0 + 60_000, t0 + 120_000]
    path.write_text("ts_utc,ts_nyt_epoch,open,high,low,close,volume\n"
                    "2025-10-16T09:30:00-04:00,1760621400,1,1,1,1,1\nx,12.5,1,1,1,1,1\n")  # fmt: skip
    with pytest.raises(CsvFormatError, match=r"AAA_RTH_NH\.csv:3: ts_nyt_epoch='12.5' is not whole Unix seconds"):
        history_times(path)
    path.write_text("a,b\n1,2\n")
    with pytest.raises(CsvFormatError, match="cannot read its ts_nyt_epoch column"):
        history_times(path)

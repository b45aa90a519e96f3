"""Bar CSV files (design.md §4): history ``{SYMBOL}_RTH_NH.csv`` and today's
``{SYMBOL}_today.csv`` as a crash, an editor or a half-finished copy might leave them. The
readers give validated bars or :class:`CsvFormatError` naming the file (and the line);
a download never destroys a file it cannot read: the merge refuses and the file is left
byte for byte as it was."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.bars import Bar
from common.calendar import iso_ny, nyse
from common.csvfiles import (
    CsvFormatError,
    history_times,
    read_history,
    read_today,
    write_history,
    write_today,
)
from tests.fuzz.fuzzing import count, fuzz

T0 = nyse().session(__import__("datetime").date(2025, 10, 16)).open_ms


def history_row(i: int) -> list[str]:
    t = T0 + i * 60_000
    p = 10.0 + i / 10
    return [iso_ny(t), str(t // 1000), repr(p), repr(p + 0.5), repr(p - 0.5), repr(p), "1200"]


def today_row(i: int) -> list[str]:
    t = T0 + i * 60_000
    p = 10.0 + i / 10
    return [str(t), repr(p), repr(p + 0.5), repr(p - 0.5), repr(p), "1200"]


cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "nan", "inf", "-1", "0", "1e400", "9" * 40, "-" + "9" * 30, "1.5", " 3 ", '"', "\x00",
                     "2025-10-16T09:30:00", "2025-10-16T09:30:00-04:00", "1760621400", "1760621400000"]),
)  # fmt: skip


@st.composite
def csv_text(draw: st.DrawFn, header: str, row) -> bytes:
    rows = [",".join(row(i)) for i in range(draw(st.integers(0, 4)))]
    for _ in range(draw(st.integers(0, 3))):  # bend some rows
        if not rows:
            break
        k = draw(st.integers(0, len(rows) - 1))
        cols = rows[k].split(",")
        how = draw(st.sampled_from(["cell", "cell", "time", "drop", "extra", "junk"]))
        if how == "time":  # the column the readers trust most
            cols[1 if len(cols) == 7 else 0] = draw(cells)
        elif how == "cell":
            cols[draw(st.integers(0, len(cols) - 1))] = draw(cells)
        elif how == "drop":
            cols.pop(draw(st.integers(0, len(cols) - 1)))
        elif how == "extra":
            cols.append(draw(cells))
        else:
            cols = [draw(st.text(max_size=30))]
        rows[k] = ",".join(cols)
    head = draw(st.sampled_from([header, header, header.upper(), "", "\ufeff" + header, header + ",x"]))
    text = "\n".join([head, *rows]) + draw(st.sampled_from(["\n", "", "\r\n", "\n\n"]))
    raw = text.encode("utf-8", "surrogatepass")
    return draw(st.one_of(st.just(raw), st.just(raw), st.binary(max_size=100),
                          st.just(raw[: draw(st.integers(0, len(raw)))])))  # fmt: skip


HISTORY = csv_text("ts_utc,ts_nyt_epoch,open,high,low,close,volume", history_row)
TODAY = csv_text("timestamp,open,high,low,close,volume", today_row)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("csv")


def check_bars(bars: list[Bar]) -> None:
    ts = [b.t for b in bars]
    assert ts == sorted(set(ts))
    for b in bars:
        b.validate()
        assert b.symbol == "AAA"


NEW = [Bar("AAA", T0 + 100 * 60_000, 20.0, 20.5, 19.5, 20.0, 500.0)]


def merge_keeps_or_refuses(path: Path, write, read) -> None:
    """A download merging into ``path``: the old bars are kept, or the file is left as it was."""
    before = path.read_bytes()
    try:
        old = read(path)
    except CsvFormatError:
        old = None
    try:
        write(path, NEW)
    except CsvFormatError as e:
        assert str(path) in str(e)
        assert old is None, "a file the reader accepts was refused by the merge"
        assert path.read_bytes() == before, "a refused merge changed the file"
        return
    assert old is not None, "the merge accepted a file the reader refuses"
    merged = read(path)
    kept = {b.t: b for b in merged}
    for b in old:
        if b.t != NEW[0].t and b.t in {x.t for x in merged}:
            assert kept[b.t] == b
    assert NEW[0].t in kept


@fuzz
@given(HISTORY)
def test_history_files(folder: Path, content: bytes) -> None:
    count("csv file: common.csvfiles history (read, times, merge)")
    path = folder / "AAA_RTH_NH.csv"
    path.write_bytes(content)
    try:
        bars = read_history(path)
    except CsvFormatError as e:
        assert str(path) in str(e)
    else:
        check_bars(bars)
    try:
        times = history_times(path)
    except CsvFormatError as e:
        assert str(path) in str(e)
    else:
        assert times == sorted(set(times))
    merge_keeps_or_refuses(path, write_history, read_history)


@fuzz
@given(TODAY)
def test_today_files(folder: Path, content: bytes) -> None:
    count("csv file: common.csvfiles today (read, merge)")
    path = folder / "AAA_today.csv"
    path.write_bytes(content)
    try:
        bars = read_today(path)
    except CsvFormatError as e:
        assert str(path) in str(e)
    else:
        check_bars(bars)
    merge_keeps_or_refuses(path, write_today, read_today)


@pytest.mark.parametrize("epoch", ["9" * 40, "-" + "9" * 30, "99999999999999999"])
def test_regression_an_epoch_too_large_for_int64_is_refused_not_wrapped(tmp_path: Path, epoch: str) -> None:
    """Found by the fuzzer: 40 digits raised OverflowError in the fast readers; 17 digits
    wrapped around int64 in history_times (a wrong minute, silently)."""
    path = tmp_path / "AAA_RTH_NH.csv"
    path.write_text(f"ts_utc,ts_nyt_epoch,open,high,low,close,volume\n2025-10-16T09:30:00-04:00,{epoch},1,2,1,1,5\n")
    with pytest.raises(CsvFormatError, match=f"{path}:2"):
        read_history(path)
    with pytest.raises(CsvFormatError, match=f"{path}:2: ts_nyt_epoch="):
        history_times(path)

"""Readers and writers of the two bar CSV formats of design.md §4.

- History ``{SYMBOL}_RTH_NH.csv``: ``ts_utc,ts_nyt_epoch,open,high,low,close,volume``;
  ``ts_utc`` is ISO-8601 of the bar start with its New York offset, ``ts_nyt_epoch``
  Unix seconds (the authority; the two must agree).
- Today ``{SYMBOL}_today.csv``: ``timestamp,open,high,low,close,volume``, Unix ms.

Writers merge with what is on disk (new rows win for the same minute), keep
regular hours only, dedupe and sort, and replace the file atomically: a
download never truncates history. Readers raise :class:`CsvFormatError` naming
file and line.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from common.atomic_write import atomic_file
from common.bars import MINUTE_MS, Bar, BarError
from common.calendar import TradingCalendar, iso_ny, nyse, parse_rfc3339, to_ms

HISTORY_HEADER = ["ts_utc", "ts_nyt_epoch", "open", "high", "low", "close", "volume"]
TODAY_HEADER = ["timestamp", "open", "high", "low", "close", "volume"]
HISTORY_SUFFIX = "_RTH_NH.csv"
TODAY_SUFFIX = "_today.csv"


class CsvFormatError(ValueError):
    """A bar file that cannot be read; the message names the file and line."""


def history_path(directory: str | Path, symbol: str) -> Path:
    return Path(directory) / f"{symbol}{HISTORY_SUFFIX}"


def today_path(directory: str | Path, symbol: str) -> Path:
    return Path(directory) / f"{symbol}{TODAY_SUFFIX}"


def symbol_of(path: str | Path) -> str:
    name = Path(path).name
    for suffix in (HISTORY_SUFFIX, TODAY_SUFFIX):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    raise CsvFormatError(f"{path}: file name is neither SYMBOL{HISTORY_SUFFIX} nor SYMBOL{TODAY_SUFFIX}")


def history_symbols(directory: str | Path) -> list[str]:
    """Symbols that have a history file in ``directory``, sorted."""
    d = Path(directory)
    if not d.is_dir():
        return []
    return sorted(p.name[: -len(HISTORY_SUFFIX)] for p in d.glob(f"*{HISTORY_SUFFIX}"))


def _num(text: str, field: str, where: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise CsvFormatError(f"{where}: {field}={text!r} is not a number") from None
    if not math.isfinite(v):
        raise CsvFormatError(f"{where}: {field}={text!r} is not finite")
    return v


def _rows(path: Path, header: list[str]) -> Iterable[tuple[str, list[str]]]:
    if not path.is_file():
        raise CsvFormatError(f"{path}: no such file")
    # utf-8-sig: a byte-order mark (spreadsheet exports) is not part of the header
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            first = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as e:
            raise CsvFormatError(f"{path}:1: {e}") from None
        if first is None:
            return
        if [c.strip() for c in first] != header:
            raise CsvFormatError(f"{path}:1: header {first!r}, expected {','.join(header)}")
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except (csv.Error, UnicodeDecodeError) as e:
                raise CsvFormatError(f"{path}:{reader.line_num}: {e}") from None
            if not row or all(not c.strip() for c in row):
                continue
            where = f"{path}:{reader.line_num}"
            if len(row) != len(header):
                raise CsvFormatError(f"{where}: {len(row)} fields, expected {len(header)} ({','.join(header)})")
            yield where, row


def _bar(symbol: str, t_ms: int, ohlcv: list[str], where: str) -> Bar:
    vals = [_num(x, f, where) for x, f in zip(ohlcv, ("open", "high", "low", "close", "volume"), strict=True)]
    try:
        return Bar(symbol, t_ms, *vals).validate()
    except BarError as e:
        raise CsvFormatError(f"{where}: {e}") from None


def _finish(bars: list[Bar]) -> list[Bar]:
    """Sort by time; for a repeated minute keep the last row."""
    return sorted({b.t: b for b in bars}.values(), key=lambda b: b.t)


# pandas 3 parses floats exactly (as Python's float) by default and deprecates the option.
_EXACT_FLOATS: dict = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}


_EPOCH_SECONDS = r"-?[0-9]{1,15}"
"""Whole Unix seconds whose milliseconds fit an int64 (longer ones are refused, never wrapped)."""


def _fast_history(path: Path, symbol: str) -> list[Bar] | None:
    """The bars of a well-formed history file through pandas' C parser, or None.

    None means "not plainly well formed": the row-by-row reader then decides, so every
    error still names its file and line. When both accept a file they give identical bars
    (pandas' exact float parsing equals Python's own; every check of the slow path is here too).
    """
    try:
        df = pd.read_csv(
            path,
            dtype={"ts_utc": str, "ts_nyt_epoch": str},
            **_EXACT_FLOATS,
            encoding="utf-8-sig",
            skip_blank_lines=True,
        )
    except (ValueError, OSError):  # UnicodeDecodeError and pandas' ParserError are ValueErrors
        return None
    if list(df.columns) != HISTORY_HEADER:
        return None
    if df.empty:
        return []
    if df.isna().to_numpy().any():  # a missing cell (pandas < 3 lets NaN through .str checks)
        return None
    epoch_text = df["ts_nyt_epoch"]
    iso_text = df["ts_utc"]
    if not (epoch_text.str.fullmatch(_EPOCH_SECONDS).all() and iso_text.str.contains("T", regex=False).all()):
        return None
    try:
        iso_ms = pd.to_datetime(iso_text, format="ISO8601", utc=True).to_numpy("datetime64[ms]").astype(np.int64)
    except (ValueError, TypeError, OverflowError):
        return None
    t_ms = epoch_text.astype(np.int64).to_numpy() * 1000
    cols = [df[c].to_numpy() for c in ("open", "high", "low", "close", "volume")]
    if any(c.dtype != np.float64 and c.dtype != np.int64 for c in cols):
        return None
    o, h, lo, c, v = (x.astype(np.float64) for x in cols)
    prices = np.stack([o, h, lo, c])
    ok = (
        (iso_ms == t_ms).all()
        and np.isfinite(prices).all()
        and (prices > 0).all()
        and np.isfinite(v).all()
        and (v >= 0).all()
        and (h >= lo).all()
        and (t_ms % MINUTE_MS == 0).all()
    )
    if not ok:
        return None
    bars = [
        Bar(symbol, t, oo, hh, ll, cc, vv)
        for t, oo, hh, ll, cc, vv in zip(
            t_ms.tolist(), o.tolist(), h.tolist(), lo.tolist(), c.tolist(), v.tolist(), strict=True
        )
    ]
    return bars if bool((np.diff(t_ms) > 0).all()) else _finish(bars)


def read_history(path: str | Path, symbol: str | None = None) -> list[Bar]:
    """Bars of a history file, sorted and unique by minute."""
    path = Path(path)
    symbol = symbol or symbol_of(path)
    if path.is_file():
        fast = _fast_history(path, symbol)
        if fast is not None:
            return fast
    out: list[Bar] = []
    for where, row in _rows(path, HISTORY_HEADER):
        epoch_text = row[1].strip()
        try:
            epoch = int(epoch_text)
        except ValueError:
            raise CsvFormatError(f"{where}: ts_nyt_epoch={epoch_text!r} is not whole Unix seconds") from None
        try:
            iso_ms = to_ms(parse_rfc3339(row[0]))
        except ValueError:
            raise CsvFormatError(f"{where}: ts_utc={row[0]!r} is not an ISO-8601 time with offset") from None
        if iso_ms != epoch * 1000:
            raise CsvFormatError(f"{where}: ts_utc {row[0]} and ts_nyt_epoch {epoch} disagree")
        out.append(_bar(symbol, epoch * 1000, row[2:], where))
    return _finish(out)


def history_times(path: str | Path) -> list[int]:
    """Bar starts (Unix ms) of a history file, sorted and unique, from its ``ts_nyt_epoch``
    column alone: a quick look at which minutes a file covers (prices are not read or
    checked; :func:`read_history` does that). CsvFormatError if that column is unreadable."""
    path = Path(path)
    try:
        df = pd.read_csv(path, usecols=["ts_nyt_epoch"], dtype=str, encoding="utf-8-sig",
                         skip_blank_lines=True)  # fmt: skip
    except (ValueError, OSError) as e:  # a ParserError and a UnicodeDecodeError are ValueErrors
        raise CsvFormatError(f"{path}: cannot read its ts_nyt_epoch column: {e}") from None
    col = df["ts_nyt_epoch"].str.strip()
    ok = col.str.fullmatch(_EPOCH_SECONDS).fillna(False)
    if not ok.all():
        line = int(ok.to_numpy().argmin()) + 2
        raise CsvFormatError(f"{path}:{line}: ts_nyt_epoch={df['ts_nyt_epoch'].iloc[line - 2]!r} "
                             "is not whole Unix seconds (at most 15 digits)")  # fmt: skip
    return sorted(set((col.astype(np.int64) * 1000).tolist()))


def read_today(path: str | Path, symbol: str | None = None) -> list[Bar]:
    """Bars of a today file, sorted and unique by minute."""
    path = Path(path)
    symbol = symbol or symbol_of(path)
    out: list[Bar] = []
    for where, row in _rows(path, TODAY_HEADER):
        text = row[0].strip()
        try:
            t_ms = int(text)
        except ValueError:
            raise CsvFormatError(f"{where}: timestamp={text!r} is not whole Unix milliseconds") from None
        out.append(_bar(symbol, t_ms, row[1:], where))
    return _finish(out)


def regular_hours(bars: Iterable[Bar], calendar: TradingCalendar | None = None) -> list[Bar]:
    """Bars whose start lies on a session grid (09:30 to close−1, half days honoured)."""
    cal = calendar or nyse()
    return [b for b in bars if cal.session_of_minute(b.t) is not None]


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _write_atomic(path: Path, header: list[str], rows: Iterable[list[str]]) -> None:
    with atomic_file(path, newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _merged(path: Path, new: Iterable[Bar], reader, calendar: TradingCalendar | None) -> list[Bar]:
    """What is on disk plus ``new`` (validated first: a bad bar must not make the file unreadable)."""
    fresh = [b.validate() for b in new]
    old = reader(path) if path.exists() else []
    return _finish(regular_hours([*old, *fresh], calendar))


def write_history(path: str | Path, bars: Iterable[Bar], calendar: TradingCalendar | None = None) -> int:
    """Merge ``bars`` into a history file (new rows win); returns the row count written."""
    path = Path(path)
    merged = _merged(path, bars, read_history, calendar)
    _write_atomic(
        path,
        HISTORY_HEADER,
        ([iso_ny(b.t), str(b.t // 1000), _fmt(b.open), _fmt(b.high), _fmt(b.low), _fmt(b.close), _fmt(b.volume)] for b in merged),
    )
    return len(merged)


def write_today(path: str | Path, bars: Iterable[Bar], calendar: TradingCalendar | None = None) -> int:
    """Merge ``bars`` into a today file (new rows win); returns the row count written."""
    path = Path(path)
    merged = _merged(path, bars, read_today, calendar)
    _write_atomic(
        path,
        TODAY_HEADER,
        ([str(b.t), _fmt(b.open), _fmt(b.high), _fmt(b.low), _fmt(b.close), _fmt(b.volume)] for b in merged),
    )
    return len(merged)

"""History and today's bars of a symbol set on the session grid (design.md §5), as arrays.

:func:`load_sessions` reads ``{SYMBOL}_RTH_NH.csv`` history (and, for today,
``{SYMBOL}_today.csv``) and :func:`build_grid` puts bars on the grid; both return a
:class:`MinuteGrid`: ``t_ms[N]`` and ``open/high/low/close/volume[S, N]`` (float64),
``filled[S, N]`` (bool), the sessions and, per minute, which session it belongs to.

Every session contributes its minutes open..close−1 (210 on a half day), and the bars
stand on them by the session-grid rule (:mod:`common.session_grid`, its array form
:func:`~common.session_grid.fill_arrays`): a real bar where there is one, else a flat bar
at the previous real close, across sessions too. Minutes *before a symbol's first real
bar in the loaded sessions* have no bar: all five fields are NaN (engine_core's "no bar
this minute") and ``filled`` is False; the symbol is absent from those minutes, so it has
no price and no signal there. Nothing before the first loaded session is used, so the
grid depends only on the bars of the sessions asked for: a backtest and a live warm-up
over the same sessions see the same grid, bit for bit. :meth:`MinuteGrid.bars_at` gives
a minute as the same :class:`~common.minute.Minute` the live feed produces.

Today: with ``today_dir`` the last session is today; its bars are the history file's for
that date merged with ``{SYMBOL}_today.csv`` (the today file wins for a minute), and its
grid stops at ``until_ms`` (the last bar start to include) or, by default, at the latest
bar any symbol has today — the minutes after it have not happened yet.

Missing data is an error naming the symbol and the file (:class:`HistoryError`): a
history or today file that does not exist or cannot be read, or a symbol with no bar in
one of the history sessions (the download is incomplete).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

import numpy as np

from common.bars import MINUTE_MS, Bar, filled_bar
from common.calendar import Session, iso_ny
from common.csvfiles import CsvFormatError, history_path, read_history, read_today, today_path
from common.errors import OperationalError
from common.minute import Minute
from common.session_grid import OHLCV, fill_arrays
from engine_core.timeinfo import MinuteInfo, minute_info

log = logging.getLogger(__name__)


class HistoryError(OperationalError, ValueError):
    """Bars the grid needs are missing or unreadable; the message names the symbol and file."""


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class MinuteGrid:
    """S symbols × N grid minutes of ``sessions`` (arrays are read-only)."""

    symbols: tuple[str, ...]
    sessions: tuple[Session, ...]
    t_ms: np.ndarray
    """(N,) int64 bar starts, strictly increasing."""
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    """(S, N) float64 each; NaN where the symbol has no price yet."""
    filled: np.ndarray
    """(S, N) bool: the bar was filled by the grid rule."""
    session_bounds: np.ndarray
    """(K+1,) int64: the minutes of ``sessions[k]`` are ``[bounds[k], bounds[k+1])``."""
    _index: dict[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        S, N = len(self.symbols), len(self.t_ms)
        for name in (*OHLCV, "filled"):
            a = getattr(self, name)
            if a.shape != (S, N):
                raise ValueError(f"MinuteGrid.{name} has shape {a.shape}, expected {(S, N)}")
        if self.session_bounds.shape != (len(self.sessions) + 1,):
            raise ValueError("MinuteGrid.session_bounds needs one entry per session plus one")
        object.__setattr__(self, "_index", {int(t): n for n, t in enumerate(self.t_ms)})

    # ------------------------------------------------------------------ shape and lookups

    @property
    def n_symbols(self) -> int:
        return len(self.symbols)

    @property
    def n_minutes(self) -> int:
        return len(self.t_ms)

    @cached_property
    def present(self) -> np.ndarray:
        """(S, N) bool: the symbol has a price (real or filled) this minute."""
        return _frozen(~np.isnan(self.close))

    @cached_property
    def real(self) -> np.ndarray:
        """(S, N) bool: the symbol traded this minute (a real, not filled, bar)."""
        return _frozen(self.present & ~self.filled)

    @cached_property
    def session_of(self) -> np.ndarray:
        """(N,) int32: index into ``sessions`` of each minute."""
        counts = np.diff(self.session_bounds)
        return _frozen(np.repeat(np.arange(len(self.sessions), dtype=np.int32), counts))

    @cached_property
    def minute_index(self) -> np.ndarray:
        """(N,) int32: minute of its session (0 = the open minute)."""
        opens = np.array([s.open_ms for s in self.sessions], dtype=np.int64)
        if not len(self.t_ms):
            return _frozen(np.zeros(0, dtype=np.int32))
        return _frozen(((self.t_ms - opens[self.session_of]) // MINUTE_MS).astype(np.int32))

    @cached_property
    def info(self) -> MinuteInfo:
        """engine_core's New York time of every minute (computed once, for the batch path)."""
        return minute_info(self.t_ms)

    def arrays(self) -> tuple[np.ndarray, ...]:
        """(open, high, low, close, volume), each (S, N), as engine_core consumes them."""
        return self.open, self.high, self.low, self.close, self.volume

    def session_range(self, k: int) -> range:
        """Minute indexes of ``sessions[k]``."""
        return range(int(self.session_bounds[k]), int(self.session_bounds[k + 1]))

    def session_index(self, day: date) -> int:
        """Index in ``sessions`` of the session on date ``day``; KeyError if not loaded."""
        for k, s in enumerate(self.sessions):
            if s.date == day:
                return k
        raise KeyError(f"session {day} is not in this grid")

    def find(self, t_ms: int) -> int | None:
        """Minute index of bar start ``t_ms``, or None if it is not on the grid."""
        return self._index.get(int(t_ms))

    def index_of(self, t_ms: int) -> int:
        """Minute index of bar start ``t_ms``; KeyError if it is not on the grid."""
        try:
            return self._index[int(t_ms)]
        except KeyError:
            raise KeyError(f"{iso_ny(int(t_ms))} is not a minute of this grid") from None

    # ------------------------------------------------------------------ minute batches

    def bars_at(self, n: int, source: str = "history") -> Minute:
        """Minute ``n``: a :class:`Bar` per symbol with a price (filled ones marked)."""
        t = int(self.t_ms[n])
        bars: dict[str, Bar] = {}
        for i, sym in enumerate(self.symbols):
            c = float(self.close[i, n])
            if c != c:  # NaN: no price yet
                continue
            if self.filled[i, n]:
                bars[sym] = filled_bar(sym, t, c)
            else:
                bars[sym] = Bar(
                    sym,
                    t,
                    float(self.open[i, n]),
                    float(self.high[i, n]),
                    float(self.low[i, n]),
                    c,
                    float(self.volume[i, n]),
                )
        return Minute(t, bars, source)

    def minutes(self, start: int = 0, stop: int | None = None) -> Iterator[Minute]:
        """Minutes ``start..stop-1`` in order (all by default)."""
        stop = self.n_minutes if stop is None else stop
        for n in range(start, stop):
            yield self.bars_at(n)

    def __iter__(self) -> Iterator[Minute]:
        return self.minutes()

    def last_closes(self, n: int | None = None) -> dict[str, float]:
        """Each symbol's close at minute ``n`` (default: the last), for symbols with a price."""
        if self.n_minutes == 0:
            return {}
        n = self.n_minutes - 1 if n is None else n
        return {
            s: float(self.close[i, n])
            for i, s in enumerate(self.symbols)
            if not np.isnan(self.close[i, n])
        }


# ---------------------------------------------------------------------- building


def _check_inputs(symbols: Sequence[str], sessions: Sequence[Session]) -> None:
    if isinstance(symbols, str) or not symbols:
        raise ValueError(f"symbols={symbols!r} must be a non-empty sequence of symbols")
    dupes = sorted({s for s in symbols if list(symbols).count(s) > 1})
    if dupes:
        raise ValueError(f"symbols repeat {dupes}")
    if not sessions:
        raise ValueError("sessions is empty: give at least one session")
    for a, b in zip(sessions, sessions[1:], strict=False):
        if not a.close_ms <= b.open_ms:
            raise ValueError(f"sessions must be in order without repeats: {a.date} then {b.date}")


def grid_minutes(
    sessions: Sequence[Session], until_ms: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(t_ms, session_bounds) of ``sessions``; the last one stops at ``until_ms`` if given."""
    counts = [s.n_minutes for s in sessions]
    last = sessions[-1]
    if until_ms is not None:
        if until_ms % MINUTE_MS:
            raise ValueError(f"until_ms={until_ms} is not a minute start")
        if until_ms >= last.close_ms:
            raise ValueError(
                f"until_ms {iso_ny(until_ms)} is not before the close of the last session "
                f"{last.date} ({iso_ny(last.close_ms)})"
            )
        if len(sessions) > 1 and until_ms < sessions[-2].close_ms - MINUTE_MS:
            raise ValueError(f"until_ms {iso_ny(until_ms)} is before the last session {last.date}")
        counts[-1] = max(0, (until_ms - last.open_ms) // MINUTE_MS + 1)
    bounds = np.zeros(len(sessions) + 1, dtype=np.int64)
    bounds[1:] = np.cumsum(counts)
    t = np.empty(int(bounds[-1]), dtype=np.int64)
    for k, s in enumerate(sessions):
        lo, hi = int(bounds[k]), int(bounds[k + 1])
        t[lo:hi] = s.open_ms + MINUTE_MS * np.arange(hi - lo, dtype=np.int64)
    return t, bounds


def build_grid(
    symbols: Sequence[str],
    sessions: Sequence[Session],
    bars: Mapping[str, Sequence[Bar]],
    *,
    until_ms: int | None = None,
) -> MinuteGrid:
    """Put each symbol's ``bars`` on the grid of ``sessions`` (the session-grid rule).

    Bars off the grid (other days, outside the session, after ``until_ms``) are ignored;
    a symbol missing from ``bars`` has no bar anywhere (NaN throughout).
    """
    symbols = tuple(symbols)
    sessions = tuple(sessions)
    _check_inputs(symbols, sessions)
    t, bounds = grid_minutes(sessions, until_ms)
    arr, filled = fill_arrays(t, symbols, bars)
    return MinuteGrid(
        symbols=symbols,
        sessions=sessions,
        t_ms=_frozen(t),
        open=_frozen(arr[0]),
        high=_frozen(arr[1]),
        low=_frozen(arr[2]),
        close=_frozen(arr[3]),
        volume=_frozen(arr[4]),
        filled=_frozen(filled),
        session_bounds=_frozen(bounds),
    )


# ---------------------------------------------------------------------- loading


def read_bars(reader, path: Path, symbol: str, what: str) -> list[Bar]:
    """``reader(path, symbol)`` (a :mod:`common.csvfiles` reader); HistoryError naming the
    symbol and file if the file is missing or unreadable."""
    if not path.is_file():
        raise HistoryError(f"{what} missing for {symbol}: {path} does not exist")
    try:
        return reader(path, symbol)
    except CsvFormatError as e:
        raise HistoryError(f"{what} of {symbol} is unreadable: {e}") from None
    except OSError as e:
        raise HistoryError(f"{what} of {symbol} is unreadable: {path}: {e}") from None


def _within(bars: list[Bar], lo: int, hi: int) -> list[Bar]:
    return [b for b in bars if lo <= b.t < hi]


def load_sessions(
    symbols: Sequence[str],
    sessions: Sequence[Session],
    history_dir: str | Path,
    today_dir: str | Path | None = None,
    *,
    until_ms: int | None = None,
) -> MinuteGrid:
    """The grid of ``sessions`` for ``symbols`` from ``history_dir`` (and ``today_dir``).

    Without ``today_dir`` every session comes from ``{SYMBOL}_RTH_NH.csv`` and is whole
    (``until_ms`` may still cut the last one). With it, the last session is today (module
    docstring). Raises :class:`HistoryError` naming the symbol and file when data is missing.
    """
    symbols = tuple(symbols)
    sessions = tuple(sessions)
    _check_inputs(symbols, sessions)
    history_dir = Path(history_dir)
    lo, hi = sessions[0].open_ms, sessions[-1].close_ms
    full = sessions if today_dir is None else sessions[:-1]
    today = None if today_dir is None else sessions[-1]
    today_root = None if today_dir is None else Path(today_dir)
    bars: dict[str, list[Bar]] = {}
    latest_today: int | None = None
    for sym in symbols:
        hpath = history_path(history_dir, sym)
        got = _within(read_bars(read_history, hpath, sym, "history"), lo, hi)
        if today is not None and today_root is not None:
            tpath = today_path(today_root, sym)
            todays = _within(
                read_bars(read_today, tpath, sym, "today's bars"), today.open_ms, today.close_ms
            )
            got = got + todays  # the today file last: it wins for a repeated minute
            on_day = [b.t for b in got if today.contains_minute(b.t) and not b.filled]
            if on_day:
                latest_today = (
                    max(on_day) if latest_today is None else max(latest_today, max(on_day))
                )
        _check_coverage(sym, hpath, got, full)
        bars[sym] = got
    if today is not None and until_ms is None:
        until_ms = latest_today if latest_today is not None else today.open_ms - MINUTE_MS
    grid = build_grid(symbols, sessions, bars, until_ms=until_ms)
    log.info(
        "grid: %d symbols x %d minutes, %d sessions %s..%s%s",
        grid.n_symbols,
        grid.n_minutes,
        len(sessions),
        sessions[0].date,
        sessions[-1].date,
        "" if today is None else f" (today up to {iso_ny(until_ms) if grid.n_minutes else '-'})",
    )
    return grid


def _check_coverage(symbol: str, path: Path, bars: list[Bar], sessions: Sequence[Session]) -> None:
    """Every history session must hold at least one bar of the symbol."""
    if not sessions:
        return
    ts = np.array(sorted(b.t for b in bars), dtype=np.int64)
    missing = []
    for s in sessions:
        i = int(np.searchsorted(ts, s.open_ms))
        if i >= len(ts) or ts[i] >= s.close_ms:
            missing.append(s.date.isoformat())
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise HistoryError(
            f"history missing for {symbol}: {path} has no bars on {shown} "
            f"(needed {sessions[0].date}..{sessions[-1].date}; download the history again)"
        )


__all__ = [
    "HistoryError",
    "MinuteGrid",
    "build_grid",
    "grid_minutes",
    "load_sessions",
    "read_bars",
]

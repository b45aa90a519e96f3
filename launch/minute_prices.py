"""The minute closes a report marks positions at: a mode's bar files on the session grid.

For each session, a symbol's bars come from its history file
(``<data-dir>/equities/{SYMBOL}_RTH_NH.csv``) when that holds the session, else from today's
file (``<data-dir>/tmp/todays_bars/{SYMBOL}_today.csv``); the grid rule
(:func:`common.session_grid.fill_arrays`) fills a minute without a bar from the last close,
the previous session's included. Unlike the engine's warm-up this is tolerant: a symbol
without a file or without bars has no price (NaN) and is named in ``missing``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.bars import Bar
from common.calendar import Session
from common.csvfiles import CsvFormatError, history_path, read_history, read_today, today_path
from common.history_download import EQUITIES, TODAYS_BARS, sessions_with_bars
from common.session_grid import fill_arrays

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class MinutePrices:
    """Closes of ``symbols`` on the minutes of ``sessions`` (after the one before them)."""

    symbols: tuple[str, ...]
    sessions: tuple[Session, ...]
    t_ms: np.ndarray
    """(N,) the sessions' minutes."""
    close: np.ndarray
    """(S, N) the grid's close (NaN before a symbol's first known price)."""
    filled: np.ndarray
    """(S, N) True where the minute had no real bar."""
    previous_close: dict[str, float]
    """Each symbol's last close before the first session (its price at the start)."""
    missing: tuple[str, ...] = ()
    """Symbols with no bar at all on the sessions."""

    def index(self, symbol: str) -> int | None:
        try:
            return self.symbols.index(symbol)
        except ValueError:
            return None

    def close_at(self, symbol: str, t_ms: int) -> float | None:
        """The close of ``symbol``'s bar at minute ``t_ms`` (None: not on the grid, or no price)."""
        i = self.index(symbol)
        n = int(np.searchsorted(self.t_ms, t_ms))
        if i is None or n >= len(self.t_ms) or int(self.t_ms[n]) != t_ms:
            return None
        v = float(self.close[i, n])
        return None if np.isnan(v) else v

    def covered(self, symbol: str) -> np.ndarray:
        """(N,) True where the symbol had a real bar."""
        i = self.index(symbol)
        return np.zeros(len(self.t_ms), dtype=bool) if i is None else ~self.filled[i] & ~np.isnan(self.close[i])


def _read(reader, path: Path, symbol: str) -> list[Bar]:
    if not path.is_file():
        return []
    try:
        return reader(path, symbol)
    except (CsvFormatError, OSError) as e:
        log.warning("cannot read %s: %s", path, e)
        return []


def load_minute_prices(symbols: Sequence[str], sessions: Sequence[Session], previous: Session | None,
                       data_dir: str | Path) -> MinutePrices:  # fmt: skip
    """The grid closes of ``sessions`` (ascending) for ``symbols`` from ``data_dir``'s files;
    ``previous`` is the session before the first (its last closes start the grid)."""
    data_dir = Path(data_dir)
    symbols = tuple(dict.fromkeys(symbols))
    days = [*([previous] if previous is not None else []), *sessions]
    t_all = np.concatenate([np.arange(s.open_ms, s.close_ms, 60_000, dtype=np.int64) for s in days]) \
        if days else np.zeros(0, dtype=np.int64)  # fmt: skip
    lo, hi = (days[0].open_ms, days[-1].close_ms) if days else (0, 0)
    bars: dict[str, list[Bar]] = {}
    for sym in symbols:
        hist = [b for b in _read(read_history, history_path(data_dir / EQUITIES, sym), sym) if lo <= b.t < hi]
        have = sessions_with_bars(sorted(b.t for b in hist), days)
        got = list(hist)
        for s in days:
            if s.date not in have:
                got += [b for b in _read(read_today, today_path(data_dir / TODAYS_BARS, sym), sym)
                        if s.open_ms <= b.t < s.close_ms]  # fmt: skip
        bars[sym] = sorted(got, key=lambda b: b.t)
    values, filled = fill_arrays(t_all, symbols, bars)
    close = values[3]
    skip = 0 if previous is None else (previous.close_ms - previous.open_ms) // 60_000
    prev = {}
    if previous is not None and skip:
        for i, sym in enumerate(symbols):
            v = close[i, skip - 1]
            if not np.isnan(v):
                prev[sym] = float(v)
    kept = slice(skip, None)
    real = ~filled[:, kept] & ~np.isnan(close[:, kept])
    missing = tuple(s for i, s in enumerate(symbols) if not real[i].any())
    return MinutePrices(symbols, tuple(sessions), t_all[kept], close[:, kept], filled[:, kept] | np.isnan(close[:, kept]),
                        prev, missing)  # fmt: skip


__all__ = ["MinutePrices", "load_minute_prices"]

"""The session-grid rule (design.md §5): the one implementation, minute by minute and as arrays.

The rule. A symbol's bars stand on the grid of session minutes (open..close−1, bar starts
in Unix ms). At each grid minute:

- a symbol with a real bar keeps that bar, and its close becomes the symbol's last close;
- a symbol without one — no bar, or a bar already marked ``filled`` (someone else's fill
  counts as no bar) — gets a flat bar at its last close (:func:`common.bars.filled_bar`:
  open = high = low = close, volume 0, ``filled`` True), across sessions too;
- a symbol with no last close yet has no bar at all: nothing is made up before its first
  known price.

Two forms, one rule (a property test shows they agree bar for bar):

- :class:`GridFiller`, incremental: owns each symbol's last close and turns one minute's
  real bars into a complete :class:`~common.minute.Minute`. The bridge's batcher and the
  engine's feed each have one (the engine's is its only owner of last closes), seeded
  from REST latest bars and from the warm-up respectively.
- :func:`fill_arrays`, the whole grid at once: S×N arrays forward-filled from the last
  real close, for :func:`engine.market_grid.build_grid` (history, today's files, backtests).

:func:`fill_grid` is the incremental form over one symbol's bar list.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from types import MappingProxyType

import numpy as np

from common.bars import Bar, filled_bar
from common.minute import Minute

OHLCV = ("open", "high", "low", "close", "volume")
"""The rows of :func:`fill_arrays`'s value array."""


class GridFiller:
    """The grid rule minute by minute for ``symbols``, owning each symbol's last close."""

    def __init__(self, symbols: Sequence[str], last_closes: Mapping[str, float] | None = None) -> None:
        if isinstance(symbols, str) or not symbols:
            raise ValueError(f"symbols={symbols!r} must be a non-empty sequence of symbols")
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"duplicate symbols in {list(symbols)}")
        self.symbols = tuple(symbols)
        self._symset = frozenset(self.symbols)
        self._last: dict[str, float] = {}
        self.last_closes: Mapping[str, float] = MappingProxyType(self._last)
        """Each symbol's last known close (read-only view; symbols with no price are absent)."""
        if last_closes:
            self.seed(last_closes)

    def seed(self, closes: Mapping[str, float]) -> None:
        """Last closes for the symbols that have none yet (others, and non-prices, are ignored)."""
        for s, c in closes.items():
            if s in self._symset and s not in self._last and math.isfinite(c) and c > 0:
                self._last[s] = float(c)

    def fill(self, t: int, real: Mapping[str, Bar], source: str) -> Minute:
        """Minute ``t`` from its real bars by symbol (filled ones count as absent).

        Raises ValueError for a bar of another minute or of a symbol outside ``symbols``:
        the caller put it there by mistake.
        """
        if not self._symset.issuperset(real):
            unknown = sorted(set(real) - self._symset)
            raise ValueError(f"minute {t}: bars for symbols {unknown} outside {list(self.symbols)}")
        last = self._last
        bars: dict[str, Bar] = {}
        for s in self.symbols:
            b = real.get(s)
            if b is not None and not b.filled:
                if b.t != t:
                    raise ValueError(f"minute {t}: the bar of {s} starts at {b.t}")
                bars[s] = b
                last[s] = b.close
            else:
                c = last.get(s)
                if c is not None:
                    bars[s] = filled_bar(s, t, c)
        return Minute(t, bars, source)


def fill_grid(symbol: str, bars: Iterable[Bar], minutes: Sequence[int], last_close: float | None = None) -> list[Bar]:
    """``symbol``'s bars on the grid ``minutes`` (bar starts, ascending), one per minute.

    Bars off the grid are dropped (the last of a repeated minute is kept), a bar filed
    under another symbol name is renamed, and minutes before the first known price
    (``last_close``, or the first real bar) are left out.
    """
    filler = GridFiller((symbol,), None if last_close is None else {symbol: last_close})
    by_t = {b.t: b for b in bars}
    out: list[Bar] = []
    for t in minutes:
        b = by_t.get(t)
        if b is not None and b.symbol != symbol:
            b = replace(b, symbol=symbol)
        got = filler.fill(t, {} if b is None else {symbol: b}, "history").bars.get(symbol)
        if got is not None:
            out.append(got)
    return out


def _real_arrays(bars: Iterable[Bar]) -> tuple[np.ndarray, np.ndarray]:
    """(t[M], ohlcv[5, M]) of the real bars, sorted, the last of a repeated minute kept."""
    real = {b.t: b for b in bars if not b.filled}
    ts = np.array(sorted(real), dtype=np.int64)
    vals = np.array(
        [(real[t].open, real[t].high, real[t].low, real[t].close, real[t].volume) for t in ts.tolist()],
        dtype=np.float64,
    ).reshape(len(ts), 5)
    return ts, vals.T


def fill_arrays(
    t_ms: np.ndarray, symbols: Sequence[str], bars: Mapping[str, Iterable[Bar]]
) -> tuple[np.ndarray, np.ndarray]:
    """The rule over the grid ``t_ms`` (N bar starts, ascending) at once.

    Returns ``(values[5, S, N], filled[S, N])``: ``values`` holds :data:`OHLCV` (float64),
    NaN in all five rows where a symbol has no price yet; ``filled`` marks the flat bars.
    Bars off the grid are ignored; a symbol missing from ``bars`` has no bar anywhere.
    """
    S, N = len(symbols), len(t_ms)
    arr = np.full((5, S, N), np.nan)
    filled = np.zeros((S, N), dtype=bool)
    steps = np.arange(N)
    for i, sym in enumerate(symbols):
        bt, vals = _real_arrays(bars.get(sym, ()))
        if not len(bt) or not N:
            continue
        pos = np.searchsorted(t_ms, bt)
        ok = pos < N
        ok[ok] = t_ms[pos[ok]] == bt[ok]
        real = np.zeros(N, dtype=bool)
        real[pos[ok]] = True
        arr[:, i, pos[ok]] = vals[:, ok]
        last = np.maximum.accumulate(np.where(real, steps, -1))  # index of the last real bar
        fill = (last >= 0) & ~real
        if fill.any():
            arr[0:4, i, fill] = arr[3, i, last[fill]]
            arr[4, i, fill] = 0.0
            filled[i, fill] = True
    return arr, filled


__all__ = ["OHLCV", "GridFiller", "fill_arrays", "fill_grid"]

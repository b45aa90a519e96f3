"""Signal diagnostics: how well the signals forecast the returns that followed them.

Pure numpy over a :class:`~engine.market_grid.MinuteGrid` and the
:class:`~engine.signals.BatchSignals` computed on it, for the backtest report and the
optimizer. Definitions:

- **forward return** at horizon ``h`` of symbol ``i`` at grid minute ``n``:
  ``close[i, n + h] / close[i, n] − 1`` (:func:`forward_returns`). A sample counts only
  when bar ``n`` is a real bar of the symbol (a filled minute repeats the last signal and
  the last price) and ``n + h`` is in the same session (no overnight return). The price at
  ``n + h`` is the grid close there: the close of the symbol's last real bar at or before
  ``n + h`` (a filled minute carries it), so every price used is a traded one.
- **scored sessions only** (:func:`session_mask`): the backtest's sessions, never the
  warm-up ones, and each group (in-sample, held-out) on its own.
- **information coefficient (IC)**: the correlation of a signal with the forward return
  over those samples, Pearson (linear) and Spearman (of ranks, ties at their mean rank),
  pooled over every symbol and per symbol (:func:`ic_table`).
- **t-statistic**: ``t = r × sqrt((n_eff − 2) / (1 − r²))``, its standard error
  ``sqrt((1 − r²) / (n_eff − 2))``, with ``n_eff = n / h``: forward returns at horizon ``h``
  of consecutive minutes overlap by ``h − 1`` minutes, so ``n`` samples carry about ``n / h``
  independent ones. Pooling does not adjust for the symbols' common moves (leveraged ETFs on
  the same index): read a pooled t as an upper bound.
- **signals**: ``prob``, the decision probability the strategies act on, and each horizon's
  forecast (engine_core's per-horizon predicted return, :attr:`BatchSignals.preds`).
- **the horizon the strategy trades** (:func:`traded_horizon`): the mean holding time of
  the backtest's round trips (entry fill to exit fill, whole minutes, at least 1), measured
  on the in-sample sessions (held-out ones when there are none), so held-out figures use a
  horizon chosen without them; with no round trip, the model horizon with the largest
  weight. Every signal is scored against the forward return at that horizon, and each
  horizon's forecast also against the return at its own horizon ``h``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from common.bars import MINUTE_MS
from engine.market_grid import MinuteGrid
from engine.signals import BatchSignals

MIN_SAMPLES = 3
"""Fewer samples than this (after the overlap correction) give no IC."""


# ---------------------------------------------------------------------- statistics


def rank(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x`` (float64), tied values at the mean of their ranks."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n == 0:
        return np.zeros(0)
    order = np.argsort(x)  # ties get their mean rank whatever their order
    xs = x[order]
    new = np.r_[True, xs[1:] != xs[:-1]]
    starts = np.flatnonzero(new)
    counts = np.diff(np.r_[starts, n])
    mean_rank = starts + (counts + 1) / 2.0
    out = np.empty(n)
    out[order] = np.repeat(mean_rank, counts)
    return out


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's correlation of two equal-length samples (NaN when either is constant)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"x and y must be 1-d of the same length, got {x.shape} and {y.shape}")
    if x.size < 2:
        return math.nan
    dx, dy = x - x.mean(), y - y.mean()
    # sums of products, not BLAS dot products: no thread pool for a single pass
    sxx, syy = float(np.sum(dx * dx)), float(np.sum(dy * dy))
    if sxx <= 0.0 or syy <= 0.0:
        return math.nan
    r = float(np.sum(dx * dy)) / math.sqrt(sxx * syy)
    return max(-1.0, min(1.0, r))


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (Pearson's of the ranks, ties at their mean rank)."""
    return pearson(rank(x), rank(y))


def t_stat(r: float, n_eff: float) -> float:
    """``r × sqrt((n_eff − 2) / (1 − r²))`` (NaN without enough samples; ±inf at |r| = 1)."""
    if math.isnan(r) or n_eff < MIN_SAMPLES:
        return math.nan
    if abs(r) >= 1.0:
        return math.copysign(math.inf, r)
    return r * math.sqrt((n_eff - 2.0) / (1.0 - r * r))


def standard_error(r: float, n_eff: float) -> float:
    """``sqrt((1 − r²) / (n_eff − 2))`` (NaN without enough samples)."""
    if math.isnan(r) or n_eff < MIN_SAMPLES:
        return math.nan
    return math.sqrt(max(0.0, 1.0 - r * r) / (n_eff - 2.0))


@dataclass(frozen=True, slots=True)
class Correlation:
    """One IC: Pearson and Spearman with their t-statistics over ``n`` samples."""

    n: int
    overlap: int
    """Minutes each forward return spans (h): ``n_eff = n / overlap``."""
    pearson: float
    spearman: float

    @property
    def n_eff(self) -> float:
        return self.n / self.overlap

    @property
    def pearson_t(self) -> float:
        return t_stat(self.pearson, self.n_eff)

    @property
    def spearman_t(self) -> float:
        return t_stat(self.spearman, self.n_eff)

    @property
    def pearson_se(self) -> float:
        return standard_error(self.pearson, self.n_eff)

    @property
    def spearman_se(self) -> float:
        return standard_error(self.spearman, self.n_eff)


def correlation(x: np.ndarray, y: np.ndarray, overlap: int = 1) -> Correlation:
    """The IC of ``x`` against ``y`` (equal-length samples; NaN figures below MIN_SAMPLES)."""
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 1:
        raise ValueError(f"overlap={overlap!r} must be a whole number >= 1")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size / overlap < MIN_SAMPLES:
        return Correlation(int(x.size), overlap, math.nan, math.nan)
    return Correlation(int(x.size), overlap, pearson(x, y), spearman(x, y))


# ---------------------------------------------------------------------- samples


def session_mask(grid: MinuteGrid, sessions: Sequence[int]) -> np.ndarray:
    """(N,) bool: the minutes of the grid's sessions with indexes ``sessions``."""
    mask = np.zeros(grid.n_minutes, dtype=bool)
    for k in sessions:
        r = grid.session_range(k)
        mask[r.start : r.stop] = True
    return mask


def forward_returns(grid: MinuteGrid, h: int) -> np.ndarray:
    """(S, N) ``close[n + h] / close[n] − 1``; NaN where bar ``n`` is not real or ``n + h``
    is past the end of ``n``'s session."""
    if isinstance(h, bool) or not isinstance(h, int) or h < 1:
        raise ValueError(f"h={h!r} must be a whole number of minutes >= 1")
    S, N = grid.n_symbols, grid.n_minutes
    out = np.full((S, N), np.nan)
    if h >= N:
        return out
    same = np.zeros(N, dtype=bool)
    same[: N - h] = grid.session_of[h:] == grid.session_of[: N - h]
    c = grid.close
    with np.errstate(invalid="ignore", divide="ignore"):
        out[:, : N - h] = c[:, h:] / c[:, : N - h] - 1.0
    out[:, ~same] = np.nan
    out[~grid.real] = np.nan
    return out


@dataclass(frozen=True, slots=True)
class SignalIC:
    """One signal against one forward return, pooled and per symbol."""

    signal: str
    """``prob`` or ``h<k> forecast``."""
    horizon: int
    """Minutes of the forward return."""
    pooled: Correlation
    per_symbol: dict[str, Correlation]


def ic_table(
    symbols: Sequence[str],
    signal: np.ndarray,
    forward: np.ndarray,
    mask: np.ndarray,
    name: str,
    h: int,
) -> SignalIC:
    """The IC of ``signal`` (S, N) against ``forward`` (S, N) over the minutes in ``mask`` (N,)."""
    if signal.shape != forward.shape or forward.shape[1] != mask.shape[0]:
        raise ValueError(
            f"signal {signal.shape}, forward {forward.shape} and mask {mask.shape} do not match"
        )
    ok = mask[None, :] & np.isfinite(forward) & np.isfinite(signal)
    per = {s: correlation(signal[i][ok[i]], forward[i][ok[i]], h) for i, s in enumerate(symbols)}
    return SignalIC(name, h, correlation(signal[ok], forward[ok], h), per)


# ---------------------------------------------------------------------- the report's figures


def traded_horizon(
    holding_ms: Sequence[int], horizons: Sequence[int], weights: Sequence[float]
) -> tuple[int, str]:
    """(minutes, how it was chosen): the mean of ``holding_ms`` rounded to whole minutes
    (at least 1), else the model horizon with the largest weight."""
    if len(holding_ms):
        mean_min = float(np.mean(np.asarray(holding_ms, dtype=np.float64))) / MINUTE_MS
        h = max(1, int(math.floor(mean_min + 0.5)))
        return h, f"mean holding time {mean_min:.1f} min of {len(holding_ms)} round trip(s)"
    if not horizons:
        raise ValueError("no round trips and no model horizons to choose a horizon from")
    k = int(np.argmax(np.asarray(weights, dtype=np.float64)))
    return int(horizons[k]), "no round trip: the model horizon with the largest weight"


@dataclass(frozen=True, slots=True)
class SignalDiagnostics:
    """The ICs of one group of scored sessions (in-sample or held-out)."""

    label: str
    sessions: int
    horizon: int
    """The horizon the strategy trades (minutes)."""
    horizon_source: str
    at_traded: tuple[SignalIC, ...]
    """``prob`` and each horizon's forecast against the forward return at :attr:`horizon`."""
    at_own: tuple[SignalIC, ...]
    """Each horizon's forecast against the forward return at its own horizon."""

    def by_name(self, signal: str, horizon: int) -> SignalIC:
        for ic in (*self.at_traded, *self.at_own):
            if ic.signal == signal and ic.horizon == horizon:
                return ic
        raise KeyError(f"no IC of {signal} at {horizon} min")


def forecast_name(h: int) -> str:
    return f"h{h} forecast"


def signal_diagnostics(
    grid: MinuteGrid,
    signals: BatchSignals,
    sessions: Sequence[int],
    horizon: int,
    *,
    label: str,
    horizon_source: str = "given",
) -> SignalDiagnostics:
    """The ICs of ``signals`` over the grid's sessions ``sessions`` (module docstring)."""
    if signals.symbols != grid.symbols or not np.array_equal(signals.t_ms, grid.t_ms):
        raise ValueError("signals were not computed on this grid (symbols or minutes differ)")
    mask = session_mask(grid, sessions)
    cache: dict[int, np.ndarray] = {}

    def fwd(h: int) -> np.ndarray:
        if h not in cache:
            cache[h] = forward_returns(grid, h)
        return cache[h]

    syms = grid.symbols
    at_traded = [ic_table(syms, signals.prob, fwd(horizon), mask, "prob", horizon)]
    at_own = []
    if signals.preds is not None:
        for j, h in enumerate(signals.horizons):
            pred = signals.preds[j]
            at_traded.append(ic_table(syms, pred, fwd(horizon), mask, forecast_name(h), horizon))
            at_own.append(ic_table(syms, pred, fwd(h), mask, forecast_name(h), h))
    return SignalDiagnostics(
        label, len(sessions), horizon, horizon_source, tuple(at_traded), tuple(at_own)
    )


__all__ = [
    "Correlation",
    "SignalDiagnostics",
    "SignalIC",
    "correlation",
    "forward_returns",
    "ic_table",
    "pearson",
    "rank",
    "session_mask",
    "signal_diagnostics",
    "spearman",
    "standard_error",
    "t_stat",
    "traded_horizon",
]

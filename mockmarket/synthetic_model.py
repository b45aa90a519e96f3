"""The factor model of the synthetic market: six underlying index levels, minute by minute.

Underlyings (levels start at 1.0; ETFs in :mod:`mockmarket.synthetic_etfs` scale them):

- ``SPX`` the market factor (S&P 500-like);
- ``NDX``, ``RUT``, ``FIN``, ``ENERGY``: family factors, each ``beta × market + own shock``
  (Nasdaq-100, Russell 2000, financials, energy; correlation with the market ≈ 0.9, 0.8,
  0.8, 0.55);
- ``VIXF``: short-term VIX futures, ``-3.5 × market + own shock`` (correlation ≈ -0.85,
  daily vol ≈ 4%) with a small negative drift for the futures' roll-down.

A minute's log return of the market is ``sd × z`` where

- ``sd = base × shape(minute) × regime(day) × sqrt(h)``: ``base`` gives a ~1% open-to-close
  day; ``shape`` is U-shaped (about 2.6× the midday level at the open, 1.8× at the
  close, normalised to unit mean square over a full day); ``regime`` is a log-AR(1)
  day-level multiplier (persistence 0.8, sd 0.3) so calm and busy days cluster; ``h`` is a
  GARCH(1,1) variance with unit mean (alpha 0.05, beta 0.93: intraday volatility clustering
  with a half-life of ~35 minutes; the shock feeding it is capped at 5 sd);
- ``z`` is Student-t (``tail_df`` degrees of freedom, 5 by default) scaled to unit variance:
  fat tails.

Each family's own shock follows the same recipe with its own draws and GARCH state.
Between sessions every level gaps by an overnight return built the same way (market
sd = half a day's, families ``beta × market gap + own gap``).

Learnable component: within each session every underlying's return is passed through
``y_t = x_t + (phi / k) × (y_{t-1} + ... + y_{t-k})`` (``phi = signal_strength``,
``k = signal_lags``; lags before the open are zero, so each session starts afresh). This
is weak positive autocorrelation at horizons up to ``k`` minutes; its best linear predictor
correlates with the next return at about ``phi / sqrt(k)`` (0.1 → ~0.06, 0.2 → ~0.12 with
``k = 3``). ``phi = 0`` leaves every draw and every other number unchanged, and returns are
then unpredictable. ``|phi| < 1`` keeps the filter stable; negative values mean reversion.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FULL_DAY_MINUTES = 390


@dataclass(frozen=True, slots=True)
class FactorSpec:
    """One underlying: its loading on the market and the size of its own shock."""

    name: str
    beta: float
    """Loading of its minute (and overnight) return on the market factor's."""
    idio_daily_vol: float
    """Sd of its own open-to-close log return on an average day (0 for the market)."""
    daily_drift: float = 0.0
    """Log drift per full session, spread evenly over the minutes."""


FACTORS: tuple[FactorSpec, ...] = (
    FactorSpec("SPX", 1.0, 0.0),
    FactorSpec("NDX", 1.2, 0.006),
    FactorSpec("RUT", 1.15, 0.008),
    FactorSpec("FIN", 1.1, 0.008),
    FactorSpec("ENERGY", 0.8, 0.012),
    FactorSpec("VIXF", -3.5, 0.020, daily_drift=-0.002),
)
FACTOR_NAMES: tuple[str, ...] = tuple(f.name for f in FACTORS)


@dataclass(frozen=True, slots=True)
class ModelParams:
    """Knobs of the factor model; the defaults give S&P-like magnitudes."""

    market_daily_vol: float = 0.01
    volatility_scale: float = 1.0
    overnight_vol_ratio: float = 0.5
    tail_df: float = 5.0
    garch_alpha: float = 0.05
    garch_beta: float = 0.93
    garch_shock_cap: float = 5.0
    regime_vol: float = 0.3
    regime_persistence: float = 0.8
    signal_strength: float = 0.0
    signal_lags: int = 3

    def __post_init__(self) -> None:
        _check(self.market_daily_vol > 0, "market_daily_vol", self.market_daily_vol, "> 0")
        _check(self.volatility_scale > 0, "volatility_scale", self.volatility_scale, "> 0")
        _check(self.overnight_vol_ratio >= 0, "overnight_vol_ratio", self.overnight_vol_ratio, ">= 0")
        _check(2 < self.tail_df <= 1000, "tail_df", self.tail_df, "in (2, 1000]")
        _check(self.garch_alpha >= 0, "garch_alpha", self.garch_alpha, ">= 0")
        _check(self.garch_beta >= 0, "garch_beta", self.garch_beta, ">= 0")
        _check(self.garch_alpha + self.garch_beta < 1, "garch_alpha + garch_beta",
               self.garch_alpha + self.garch_beta, "< 1")
        _check(self.garch_shock_cap > 0, "garch_shock_cap", self.garch_shock_cap, "> 0")
        _check(self.regime_vol >= 0, "regime_vol", self.regime_vol, ">= 0")
        _check(0 <= self.regime_persistence < 1, "regime_persistence", self.regime_persistence, "in [0, 1)")
        _check(-1 < self.signal_strength < 1, "signal_strength", self.signal_strength, "in (-1, 1)")
        _check(1 <= self.signal_lags <= 60, "signal_lags", self.signal_lags, "in 1..60")


def _check(ok: bool, name: str, value: object, rule: str) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r} must be {rule}")


@dataclass(frozen=True, slots=True)
class FactorPaths:
    """Simulated underlyings. Axes: factor (as ``names``), session, minute; N = longest session.

    Entries past a session's length are NaN (``points``, ``minute_sd``, ``shocks``).
    """

    names: tuple[str, ...]
    lengths: np.ndarray
    """(S,) minutes in each session."""
    prev_close: np.ndarray
    """(F, S) level at the previous session's close (1.0 before the first session)."""
    points: np.ndarray
    """(F, S, N+1) level at the open (column 0, after the overnight gap) and at each minute's end."""
    minute_sd: np.ndarray
    """(F, S, N) conditional sd of each minute's log return (before the signal filter)."""
    shocks: np.ndarray
    """(F, S, N) each minute's return over its sd: the standardized news of that minute."""
    regime: np.ndarray
    """(S,) the day's volatility multiplier (mean square 1)."""

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"unknown underlying {name!r}; known: {', '.join(self.names)}") from None


def _bumps(n: int, open_amp: float, open_tau: float, close_amp: float, close_tau: float) -> np.ndarray:
    i = np.arange(n, dtype=float)
    return 1.0 + open_amp * np.exp(-i / open_tau) + close_amp * np.exp(-(n - 1 - i) / close_tau)


_VOL_BUMPS = (1.6, 20.0, 0.8, 15.0)
_VOL_NORM = float(np.sqrt(np.mean(_bumps(FULL_DAY_MINUTES, *_VOL_BUMPS) ** 2)))
_VOLUME_BUMPS = (2.5, 15.0, 2.0, 12.0)


def vol_shape(n_minutes: int) -> np.ndarray:
    """U-shaped volatility multiplier of each minute of an n-minute session.

    Unit mean square over a full 390-minute day; a half day keeps the same open and close
    bumps (its close bump sits on its own last minutes).
    """
    return _bumps(n_minutes, *_VOL_BUMPS) / _VOL_NORM


def volume_shape(n_minutes: int) -> np.ndarray:
    """U-shaped activity multiplier of each minute (1 at midday, ~3.5 at the open, ~3 at the close)."""
    return _bumps(n_minutes, *_VOLUME_BUMPS)


def _unit_t(rng: np.random.Generator, df: float, size: tuple[int, ...]) -> np.ndarray:
    """Student-t draws scaled to unit variance."""
    return rng.standard_t(df, size) * math.sqrt((df - 2.0) / df)


def _garch_variance(z: np.ndarray, alpha: float, beta: float, cap: float) -> np.ndarray:
    """Unit-mean GARCH(1,1) variance of each row of unit shocks ``z`` (streams × time)."""
    omega = 1.0 - alpha - beta
    shocks2 = np.minimum(z * z, cap * cap).tolist()
    out = np.empty_like(z)
    for row, s2 in enumerate(shocks2):
        h = 1.0
        hs = [0.0] * len(s2)
        for t, e2 in enumerate(s2):
            hs[t] = h
            h = omega + (alpha * e2 + beta) * h
        out[row] = hs
    return out


def _day_regime(rng: np.random.Generator, n: int, vol: float, rho: float) -> np.ndarray:
    """Log-AR(1) day multipliers with stationary sd ``vol`` and mean square 1."""
    eta = rng.standard_normal(n)
    log_m = np.empty(n)
    log_m[0] = vol * eta[0]
    innovation = math.sqrt(1.0 - rho * rho) * vol
    for d in range(1, n):
        log_m[d] = rho * log_m[d - 1] + innovation * eta[d]
    return np.exp(log_m - vol * vol)


def signal_filter(x: np.ndarray, strength: float, lags: int) -> np.ndarray:
    """``y_t = x_t + strength × mean(y_{t-1..t-lags})`` along the last axis, zero lags before it."""
    if strength == 0.0:
        return x.copy()
    a = strength / lags
    y = np.empty_like(x)
    for t in range(x.shape[-1]):
        lo = max(0, t - lags)
        y[..., t] = x[..., t] + a * y[..., lo:t].sum(axis=-1)
    return y


def simulate_factors(rng: np.random.Generator, lengths: Sequence[int], params: ModelParams) -> FactorPaths:
    """Simulate every underlying over sessions of the given minute counts, oldest first."""
    lengths_arr = np.asarray(lengths, dtype=np.int64)
    if lengths_arr.ndim != 1 or len(lengths_arr) == 0 or lengths_arr.min() < 1:
        raise ValueError(f"lengths={list(lengths)!r} must be a non-empty list of positive minute counts")
    n_sessions = len(lengths_arr)
    n = int(lengths_arr.max())
    n_factors = len(FACTORS)
    df = params.tail_df

    # All draws first, in a fixed order, so no knob changes which numbers a later step gets.
    regime = _day_regime(rng, n_sessions, params.regime_vol, params.regime_persistence)
    z = _unit_t(rng, df, (n_factors + 1, n_sessions, n))  # row 0: market; row 1+f: factor f's own
    z_gap = _unit_t(rng, df, (n_factors + 1, n_sessions))

    valid = np.arange(n)[None, :] < lengths_arr[:, None]  # (S, N)
    h = np.ones_like(z)
    h[:, valid] = _garch_variance(z[:, valid], params.garch_alpha, params.garch_beta, params.garch_shock_cap)

    shape = np.zeros((n_sessions, n))
    for s, m in enumerate(lengths_arr.tolist()):
        shape[s, :m] = vol_shape(m)
    day_vol = params.volatility_scale * regime  # (S,)
    scale = shape * day_vol[:, None] / math.sqrt(FULL_DAY_MINUTES)  # (S, N)

    sd_market = params.market_daily_vol * scale * np.sqrt(h[0])
    r_market = sd_market * z[0]
    betas = np.array([f.beta for f in FACTORS])[:, None, None]
    idio = np.array([f.idio_daily_vol for f in FACTORS])[:, None, None]
    sd_own = idio * scale[None] * np.sqrt(h[1:])
    raw = betas * r_market[None] + sd_own * z[1:]  # (F, S, N)
    sd = np.sqrt((betas * sd_market[None]) ** 2 + sd_own**2)
    with np.errstate(invalid="ignore", divide="ignore"):
        shocks = np.where(valid[None], raw / sd, np.nan)

    drift = np.array([f.daily_drift for f in FACTORS])[:, None, None] / FULL_DAY_MINUTES
    returns = signal_filter(np.where(valid[None], raw, 0.0), params.signal_strength, params.signal_lags)
    returns = np.where(valid[None], returns + drift, 0.0)

    gap_sd = params.overnight_vol_ratio * day_vol
    gap_market = params.market_daily_vol * gap_sd * z_gap[0]
    gaps = betas[:, :, 0] * gap_market[None] + idio[:, :, 0] * gap_sd[None] * z_gap[1:]  # (F, S)

    # Session log-path relative to its open; then chain sessions through their closes.
    cum = np.concatenate([np.zeros((n_factors, n_sessions, 1)), np.cumsum(returns, axis=-1)], axis=-1)
    session_close_log = cum[:, np.arange(n_sessions), lengths_arr]  # (F, S)
    day_log = gaps + session_close_log
    prev_close_log = np.concatenate([np.zeros((n_factors, 1)), np.cumsum(day_log, axis=1)[:, :-1]], axis=1)
    prev_close = np.exp(prev_close_log)
    points = np.exp(prev_close_log[:, :, None] + gaps[:, :, None] + cum)
    valid_points = np.concatenate([np.ones((n_sessions, 1), dtype=bool), valid], axis=1)
    points[:, ~valid_points] = np.nan

    return FactorPaths(
        names=FACTOR_NAMES,
        lengths=lengths_arr,
        prev_close=prev_close,
        points=points,
        minute_sd=np.where(valid[None], sd, np.nan),
        shocks=shocks,
        regime=regime,
    )

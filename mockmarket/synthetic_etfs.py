"""Leveraged and inverse ETFs on the synthetic underlyings: daily-reset prices and IEX-like bars.

Price: within a session an ETF of leverage L on underlying U trades at
``C_prev × (1 + L × (U_t / U_prevclose − 1))`` where ``C_prev`` is its own previous
close, so its return from the previous close is exactly L times its underlying's
(the overnight gap included), and ETFs of one family drift apart over days through
the daily reset, as real ones do. The factor is floored at 0.001 so a price stays positive
even after an impossible day.

Mid (efficient) price of minute i: the path's prices at the minute's start and end; its
high and low are drawn from the extremes of a Brownian bridge between them with the
minute's conditional volatility (``(c + sqrt(c² − 2σ² ln u)) / 2`` above the open, and the
mirror below). The learnable component lives here, on the mid.

Observed prices (microstructure, ``microstructure`` > 0, default 1): a bar's open and close
are TRADES, not the mid. The quote around a mid ``m`` is a whole number of cents wide,
``spread = max(1¢, round(microstructure × 2 × h))``, with ``h`` the half-spread the cost
model (:class:`ledger.spread.SpreadModel`, ``CostsConfig``'s defaults) gives the symbol
at its dollar volume per minute that session; bid = ``round(m − spread/2)`` in cents, ask =
bid + spread, so bid ≤ m ≤ ask. Each open and each close lands on the bid or the ask at
random (bid-ask bounce), plus small noise (normal, sd ``0.3 × microstructure × spread / 2``,
in whole cents: odd lots, hidden and midpoint prints). The close of minute i and the open
of minute i+1 quote the same mid, so they differ about half the time, by about the
spread: a cent or two for liquid names (SPY, TQQQ), a few cents for thin ones (ERY, FAS,
SH). High and low are the mid's extremes ± half the spread, and contain open and close.
A bar made of a single trade is flat at that trade. Observed minute returns then carry
the bounce's negative lag-1 autocorrelation (Roll, 1984), which is no edge: it is the
spread a taker pays. ``microstructure=0`` prints at the mid rounded to cents (the
generator before bounce, bar for bar).

Trades: IEX trade count ~ Poisson(λ) with λ = the symbol's midday rate × U-shaped activity
(busier at open and close) × the day's volatility regime^0.5 × (0.6 + 0.4 × |standardized
return| / 0.8), so volume follows volatility. A minute with no trade has
no bar, as on IEX: thin symbols (ERY, FAZ, SH, SVXY, TZA...) miss many minutes, liquid ones
(SPY, TQQQ, SQQQ, SPXL) essentially none. Volume = trades × mean size × lognormal noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from common.bars import MINUTE_MS, Bar
from ledger.costs import CostModel
from ledger.spread import SpreadModel
from mockmarket.synthetic_model import FactorPaths, volume_shape

GROWTH_FLOOR = 1e-3
MIN_PRICE = 0.01
_ABS_SHOCK_MEAN = 0.8  # ≈ E|z| of a unit-variance t(5); turns |shock| into an activity ratio ≈ 1
_QUIET_ACTIVITY = 0.6  # activity of a minute without news, relative to an average one
_SIZE_SIGMA = 0.7  # lognormal sd of shares per trade within a minute
PRINT_NOISE = 0.3  # sd of a print around its quote side, in half-spreads


@dataclass(frozen=True, slots=True)
class EtfSpec:
    """One ETF: what it tracks, how hard, where it starts and how liquid it is on IEX."""

    symbol: str
    underlying: str
    leverage: float
    start_price: float
    """Its close before the first generated session."""
    trades_per_minute: float
    """Mean IEX trades in a midday minute of an average day."""
    trade_size: float
    """Mean shares per trade."""


ETFS: dict[str, EtfSpec] = {
    s.symbol: s
    for s in (
        EtfSpec("SPY", "SPX", 1.0, 500.0, 60.0, 120.0),
        EtfSpec("SPXL", "SPX", 3.0, 150.0, 20.0, 100.0),
        EtfSpec("SSO", "SPX", 2.0, 85.0, 5.0, 100.0),
        EtfSpec("SH", "SPX", -1.0, 45.0, 1.2, 150.0),
        EtfSpec("SDS", "SPX", -2.0, 25.0, 2.5, 200.0),
        EtfSpec("TQQQ", "NDX", 3.0, 60.0, 45.0, 200.0),
        EtfSpec("SQQQ", "NDX", -3.0, 30.0, 30.0, 250.0),
        EtfSpec("TNA", "RUT", 3.0, 40.0, 4.0, 150.0),
        EtfSpec("TZA", "RUT", -3.0, 20.0, 1.5, 200.0),
        EtfSpec("FAS", "FIN", 3.0, 100.0, 2.5, 100.0),
        EtfSpec("FAZ", "FIN", -3.0, 15.0, 1.0, 150.0),
        EtfSpec("ERX", "ENERGY", 2.0, 60.0, 2.0, 100.0),
        EtfSpec("ERY", "ENERGY", -2.0, 25.0, 1.0, 120.0),
        EtfSpec("UVXY", "VIXF", 1.5, 30.0, 12.0, 200.0),
        EtfSpec("SVXY", "VIXF", -0.5, 45.0, 1.2, 120.0),
    )
}


@dataclass(frozen=True, slots=True)
class EtfPath:
    """Unrounded prices of one ETF. Axes: session, point (open, then each minute's end)."""

    prev_close: np.ndarray
    """(S,) its close before each session."""
    points: np.ndarray
    """(S, N+1) price at the open and at each minute's end; NaN past the session."""
    minute_sd: np.ndarray
    """(S, N) conditional sd of each minute's price change, in dollars."""


def etf_path(spec: EtfSpec, paths: FactorPaths) -> EtfPath:
    """Daily-reset prices of ``spec`` on the simulated underlyings."""
    f = paths.index(spec.underlying)
    ratio = paths.points[f] / paths.prev_close[f][:, None]  # (S, N+1)
    growth = np.maximum(1.0 + spec.leverage * (ratio - 1.0), GROWTH_FLOOR)
    n_sessions = len(paths.lengths)
    day_growth = growth[np.arange(n_sessions), paths.lengths]
    closes = spec.start_price * np.cumprod(day_growth)
    prev_close = np.concatenate([[spec.start_price], closes[:-1]])
    points = prev_close[:, None] * growth
    # dP = C_prev × L × dR and dR = R × du, so the price sd is |L| × C_prev × R × sd(u).
    minute_sd = abs(spec.leverage) * prev_close[:, None] * ratio[:, :-1] * paths.minute_sd[f]
    return EtfPath(prev_close=prev_close, points=points, minute_sd=minute_sd)


def _cents(x: np.ndarray) -> np.ndarray:
    return np.maximum(np.round(x, 2), MIN_PRICE)


def _quote_model() -> SpreadModel:
    spread = CostModel.default().spread
    assert spread is not None
    return spread


def quoted_spreads(
    price: np.ndarray, dollar_volume: np.ndarray, microstructure: float
) -> np.ndarray:
    """(S,) each session's quoted spread in whole cents (>= 1) from the cost model's half-spread.

    ``price``: the symbol's price that session (its previous close); ``dollar_volume``: its
    dollar volume per minute that session (the market makers quote for the day they see).
    """
    model = _quote_model()
    out = np.empty(len(price), dtype=np.int64)
    for s, (p, dv) in enumerate(zip(price.tolist(), dollar_volume.tolist(), strict=True)):
        half = model.half_spread(Decimal(repr(max(p, MIN_PRICE))), Decimal(repr(dv)) if dv > 0 else None)
        out[s] = max(1, round(microstructure * 2 * float(half) * 100))
    return out


def _prints(mid: np.ndarray, spread_c: np.ndarray, ask_side: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Trade prices in cents: the bid or ask around ``mid`` plus ``noise`` half-spreads."""
    bid = np.rint(mid * 100.0 - spread_c / 2.0)
    side = np.where(ask_side, bid + spread_c, bid)
    return np.maximum(side + np.rint(noise * spread_c / 2.0), MIN_PRICE * 100)


def etf_bars(
    spec: EtfSpec,
    paths: FactorPaths,
    session_open_ms: np.ndarray,
    rng: np.random.Generator,
    liquidity_scale: float = 1.0,
    microstructure: float = 1.0,
) -> list[Bar]:
    """IEX-like minute bars of ``spec``, sorted, with minutes without a trade left out."""
    path = etf_path(spec, paths)
    lengths = paths.lengths
    n_sessions, n = path.minute_sd.shape
    valid = np.arange(n)[None, :] < lengths[:, None]

    # Draws in a fixed order and shape, whatever the knobs.
    u_high = 1.0 - rng.random((n_sessions, n))  # (0, 1]
    u_low = 1.0 - rng.random((n_sessions, n))
    size_noise = rng.lognormal(-0.5 * _SIZE_SIGMA**2, _SIZE_SIGMA, (n_sessions, n))

    activity = np.zeros((n_sessions, n))
    for s, m in enumerate(lengths.tolist()):
        activity[s, :m] = volume_shape(m)
    shock = np.nan_to_num(np.abs(paths.shocks[paths.index(spec.underlying)]))
    news = _QUIET_ACTIVITY + (1.0 - _QUIET_ACTIVITY) * shock / _ABS_SHOCK_MEAN
    activity *= np.sqrt(paths.regime)[:, None] * news
    lam = np.where(valid, spec.trades_per_minute * liquidity_scale * activity, 0.0)
    trades = rng.poisson(lam)

    open_ = path.points[:, :-1]
    close = path.points[:, 1:]
    var = np.nan_to_num(path.minute_sd) ** 2
    move = np.nan_to_num(close - open_)
    high = open_ + 0.5 * (move + np.sqrt(move * move - 2.0 * var * np.log(u_high)))
    low = open_ + 0.5 * (move - np.sqrt(move * move - 2.0 * var * np.log(u_low)))

    keep = valid & (trades > 0)
    single = (trades == 1)[keep]
    n_trades = trades[keep]
    volume = np.maximum(n_trades, np.rint(n_trades * spec.trade_size * size_noise[keep]))
    if microstructure > 0:
        # Drawn after every other draw, so the mid path, the gaps and the volumes are the
        # same with microstructure on or off.
        ask_open = rng.random((n_sessions, n)) < 0.5
        ask_close = rng.random((n_sessions, n)) < 0.5
        noise_open = PRINT_NOISE * microstructure * rng.standard_normal((n_sessions, n))
        noise_close = PRINT_NOISE * microstructure * rng.standard_normal((n_sessions, n))
        full_volume = np.zeros((n_sessions, n))
        full_volume[keep] = volume * close[keep]
        dollar_volume = full_volume.sum(axis=1) / lengths
        spread_c = np.broadcast_to(
            quoted_spreads(path.prev_close, dollar_volume, microstructure)[:, None], (n_sessions, n)
        )[keep]
        o = _prints(open_[keep], spread_c, ask_open[keep], noise_open[keep]) / 100.0
        c = _prints(close[keep], spread_c, ask_close[keep], noise_close[keep]) / 100.0
        o = np.where(single, c, o)
        h_mid = np.maximum(np.rint(high[keep] * 100.0 + spread_c / 2.0), MIN_PRICE * 100) / 100.0
        l_mid = np.maximum(np.rint(low[keep] * 100.0 - spread_c / 2.0), MIN_PRICE * 100) / 100.0
    else:
        o = _cents(open_[keep])
        c = _cents(close[keep])
        o = np.where(single, c, o)
        h_mid, l_mid = _cents(high[keep]), _cents(low[keep])
    h = np.where(single, c, np.maximum(h_mid, np.maximum(o, c)))
    lo = np.where(single, c, np.minimum(l_mid, np.minimum(o, c)))
    vwap = np.clip(np.round((o + h + lo + c) / 4.0, 4), lo, h)
    minute = np.broadcast_to(np.arange(n, dtype=np.int64)[None, :], (n_sessions, n))
    t = (session_open_ms[:, None] + minute * MINUTE_MS)[keep]

    sym = spec.symbol
    return [
        Bar(sym, tt, oo, hh, ll, cc, vv, ww, nn)
        for tt, oo, hh, ll, cc, vv, ww, nn in zip(
            t.tolist(), o.tolist(), h.tolist(), lo.tolist(), c.tolist(), volume.astype(float).tolist(),
            vwap.tolist(), n_trades.tolist(), strict=True,
        )
    ]

"""Every feature equals an independent computation: the ``ta`` library or a batch
pandas/numpy recompute written here (never the project's reference implementation).

Both the Cython engine and the reference run against it, on ordinary, very small
(2e-4) and very large (3e6) prices, a volatile series with many flat bars, and the
synthetic market - all with overnight gaps, runs of filled flat bars and zero volume.
Tolerance: |got - want| <= 1e-9 (|want| + rms(want)), i.e. 1e-9 relative to the
feature's own magnitude; candle patterns must match exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import ta

from common.calendar import NY
from engine_core import FEATURE_NAMES
from engine_core import READY_BARS as READY

DEG = 1e-12  # documented degenerate-width rule


def _where(cond, value, neutral) -> np.ndarray:
    return np.where(cond, value, neutral)


def independent(o: pd.Series, h: pd.Series, lo: pd.Series, c: pd.Series, v: pd.Series,
                t: np.ndarray) -> dict[str, np.ndarray]:
    """The documented features, recomputed in batch with ta / pandas."""
    f: dict[str, np.ndarray] = {}
    ny = [datetime.fromtimestamp(x / 1000, tz=UTC).astimezone(NY) for x in t]
    mod = np.array([d.hour * 60 + d.minute for d in ny], dtype=float)
    dow = np.array([d.weekday() for d in ny], dtype=float)
    day = np.array([d.date().toordinal() for d in ny])
    a = 2 * np.pi
    for name, x, period in (("tod", mod, 1440.0), ("sess", mod - 570, 390.0),
                            ("hour", mod % 60, 60.0), ("dow", dow, 7.0)):
        f[f"{name}_sin"] = np.sin(a * x / period)
        f[f"{name}_cos"] = np.cos(a * x / period)

    f["log_close"] = np.log(c).to_numpy()
    f["open_rel"] = (o / c - 1).to_numpy()
    f["high_rel"] = (h / c - 1).to_numpy()
    f["low_rel"] = (lo / c - 1).to_numpy()
    f["ret1"] = (c / c.shift(1) - 1).fillna(0.0).to_numpy()
    f["log_volume"] = np.log1p(v).to_numpy()
    for n in (10, 20, 50):
        f[f"sma{n}"] = (c / ta.trend.SMAIndicator(c, n).sma_indicator() - 1).to_numpy()
        f[f"ema{n}"] = (c / ta.trend.EMAIndicator(c, n).ema_indicator() - 1).to_numpy()

    atr14 = ta.volatility.AverageTrueRange(h, lo, c, 14).average_true_range()
    f["atr14"] = (atr14 / c).to_numpy()
    prev = c.shift(1)
    tr = pd.concat([h - lo, (h - prev).abs(), (lo - prev).abs()], axis=1).max(axis=1)
    f["tr"] = (tr / c).to_numpy()
    # Bollinger with an exact two-pass SD per window (pandas' rolling std, which ta uses,
    # leaves a rounding residue of ~1e-9 relative on flat windows after price moves)
    win = np.lib.stride_tricks.sliding_window_view(c.to_numpy(), 20)
    mean = np.r_[np.full(19, np.nan), win.mean(axis=1)]
    sd = np.r_[np.full(19, np.nan), np.sqrt(((win - win.mean(axis=1)[:, None]) ** 2).mean(axis=1))]
    upper, lower = mean + 2 * sd, mean - 2 * sd
    width = upper - lower
    f["bb_pctb"] = _where(width > DEG * c, (c - lower) / width, 0.5)
    f["bb_width"] = width / mean
    kc = ta.volatility.KeltnerChannel(h, lo, c, 20, window_atr=10, original_version=False,
                                      multiplier=2)
    width = (kc.keltner_channel_hband() - kc.keltner_channel_lband()).to_numpy()
    f["kc_pos"] = _where(width > DEG * c, (c - kc.keltner_channel_lband()) / width, 0.5)
    f["kc_width"] = width / kc.keltner_channel_mband().to_numpy()
    dc = ta.volatility.DonchianChannel(h, lo, c, 20)
    width = (dc.donchian_channel_hband() - dc.donchian_channel_lband()).to_numpy()
    f["dc_pos"] = _where(width > DEG * c, (c - dc.donchian_channel_lband()) / width, 0.5)
    f["dc_width"] = width / c.to_numpy()

    diff = c.diff().fillna(0.0)
    for n in (14, 21):
        up = diff.clip(lower=0).ewm(alpha=1 / n, adjust=False).mean()
        dn = (-diff).clip(lower=0).ewm(alpha=1 / n, adjust=False).mean()
        rsi = ta.momentum.RSIIndicator(c, n).rsi()
        # ta says 100 when there were no down moves; with no moves at all the rule is 50
        f[f"rsi{n}"] = _where(up + dn > 0, rsi, 50.0)
    hh, ll = h.rolling(14, min_periods=1).max(), lo.rolling(14, min_periods=1).min()
    degenerate = ~(hh - ll > DEG * c)
    k = pd.Series(_where(degenerate, 50.0, ta.momentum.StochasticOscillator(h, lo, c, 14, 3).stoch()))
    d = k.rolling(3, min_periods=1).mean()
    f["stoch_d"] = d.to_numpy()
    f["stoch_slow"] = d.rolling(3, min_periods=1).mean().to_numpy()
    f["williams_r"] = _where(degenerate, -50.0,
                             ta.momentum.WilliamsRIndicator(h, lo, c, 14).williams_r())
    macd = ta.trend.MACD(c, 26, 12, 9)
    f["macd"] = (macd.macd() / c).to_numpy()
    f["macd_hist"] = (macd.macd_diff() / c).to_numpy()
    for n in (5, 10, 20):
        f[f"roc{n}"] = (ta.momentum.ROCIndicator(c, n).roc() / 100).to_numpy()
    tp = (h + lo + c) / 3.0
    mad = tp.rolling(20).apply(lambda x: np.mean(np.abs(x - np.mean(x))), raw=True)
    f["cci20"] = _where(0.015 * mad > DEG * c, ta.trend.CCIIndicator(h, lo, c, 20).cci(), 0.0)

    signed = (np.sign(c.diff()).fillna(0.0) * v)
    vsum = v.rolling(20).sum()
    f["obv20"] = _where(vsum > 0, signed.rolling(20).sum() / vsum, 0.0)
    session = pd.Series(day)
    cum_v = v.groupby(session).cumsum()
    vwap = (tp * v).groupby(session).cumsum() / cum_v
    f["vwap_rel"] = _where(cum_v > 0, c / vwap - 1, 0.0)
    f["vwap_atr"] = _where((cum_v > 0) & (atr14 > DEG * c), (c - vwap) / atr14, 0.0)

    body, rng = (c - o).abs(), h - lo
    upper, lower = h - np.maximum(o, c), np.minimum(o, c) - lo
    po, pc = o.shift(1), c.shift(1)
    f["doji"] = ((rng > 0) & (body <= 0.1 * rng)).to_numpy(float)
    f["hammer"] = ((body > 0) & (lower >= 2 * body) & (upper <= 0.5 * body)).to_numpy(float)
    f["shooting_star"] = ((body > 0) & (upper >= 2 * body) & (lower <= 0.5 * body)).to_numpy(float)
    f["bull_engulf"] = ((pc < po) & (c > o) & (o <= pc) & (c >= po)).to_numpy(float)
    f["bear_engulf"] = ((pc > po) & (c < o) & (o >= pc) & (c <= po)).to_numpy(float)
    return {k: np.asarray(val, dtype=float) for k, val in f.items()}


def test_the_feature_list_is_what_the_docs_say():
    assert len(FEATURE_NAMES) == len(set(FEATURE_NAMES)) == 47
    assert READY == 51


def test_each_feature_equals_an_independent_computation(features_impl, dataset):
    name, m = dataset
    raw, _, ready = features_impl(m)
    assert not ready[: READY - 1].any() and ready[READY - 1 :].all()
    series = [pd.Series(a[0]) for a in m.arrays]
    want = independent(*series, m.t)
    assert set(want) == set(FEATURE_NAMES)
    rows = slice(READY - 1, None)
    failures = []
    for k, feat in enumerate(FEATURE_NAMES):
        got, exp = raw[rows, k], want[feat][rows]
        assert np.isfinite(exp).all(), f"{feat}: the independent value is not finite"
        if feat in ("doji", "hammer", "shooting_star", "bull_engulf", "bear_engulf"):
            ok = got == exp
        else:
            scale = np.abs(exp) + np.sqrt(np.mean(exp * exp))
            ok = np.abs(got - exp) <= 1e-9 * scale
        if not ok.all():
            j = int(np.flatnonzero(~ok)[0])
            failures.append(f"{feat} at bar {j + READY - 1}: got {got[j]!r}, want {exp[j]!r}")
    assert not failures, f"{name}: " + "; ".join(failures)


def test_candles_and_flat_bars_are_exercised(dataset):
    """The data really contains what the comparisons claim to cover."""
    name, m = dataset
    o, h, lo, c, v = (a[0] for a in m.arrays)
    flat = (o == h) & (h == lo) & (lo == c) & (v == 0)
    assert flat.sum() >= 20, name
    assert ((v == 0) & ~flat).any() or name == "synthetic"
    if name != "synthetic":
        run = np.convolve(flat, np.ones(20), "valid").max()
        assert run == 20  # at least one full window of flat bars
    want = independent(*(pd.Series(a) for a in (o, h, lo, c, v)), m.t)
    for pattern in ("doji", "hammer", "shooting_star", "bull_engulf", "bear_engulf"):
        assert want[pattern][READY:].sum() > 0, f"{name}: no {pattern} to compare"


def test_vwap_restarts_each_new_york_session(features_impl, dataset):
    _, m = dataset
    raw, _, ready = features_impl(m)
    k = FEATURE_NAMES.index("vwap_rel")
    day = np.array([datetime.fromtimestamp(x / 1000, tz=UTC).astimezone(NY).date() for x in m.t])
    first = np.flatnonzero(np.r_[False, day[1:] != day[:-1]] & ready & (m.volume[0] > 0))
    assert first.size
    # at a session's first bar (with volume), VWAP is that bar's typical price
    c, h, lo = m.close[0, first], m.high[0, first], m.low[0, first]
    np.testing.assert_allclose(raw[first, k], c / ((h + lo + c) / 3) - 1, rtol=0, atol=1e-12)


def test_a_run_of_flat_bars_has_exactly_zero_spread(features_impl, small_market):
    """Flat-bar rule: an all-equal window has mean = value and variance exactly 0,
    and degenerate ratios take their documented neutral values."""
    m = small_market.symbol(0)
    n = 200
    arrays = [a[:, :n].copy() for a in m.arrays]
    price = 123.37  # not a power of two: sums of it round
    for a in arrays[:4]:
        a[0, n - 60 :] = price
    arrays[4][0, n - 60 :] = 0.0
    flat = type(m)(*arrays, m.t[:n])
    raw, _, _ = features_impl(flat)
    last = dict(zip(FEATURE_NAMES, raw[-1], strict=True))
    for feat in ("sma10", "sma20", "sma50", "bb_width", "dc_width", "ret1", "roc5", "roc20",
                 "obv20", "tr"):
        assert last[feat] == 0.0, feat
    assert last["bb_pctb"] == last["dc_pos"] == 0.5
    assert last["williams_r"] == -50.0 and last["stoch_d"] == last["stoch_slow"] == 50.0
    assert last["cci20"] == 0.0

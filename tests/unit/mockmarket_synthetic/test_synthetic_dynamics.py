"""The market's statistics: leverage with a daily reset, correlations, shapes, tails, gaps."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from common.bars import Bar
from common.calendar import nyse
from mockmarket.synthetic import SyntheticConfig, generate_market, market_sessions
from mockmarket.synthetic_etfs import ETFS, etf_path
from mockmarket.synthetic_model import ModelParams, simulate_factors

HALF_CENT = 0.005


def _by_session(bars: list[Bar]) -> dict[int, dict[int, float]]:
    cal = nyse()
    out: dict[int, dict[int, float]] = defaultdict(dict)
    for b in bars:
        out[cal.session_of_minute(b.t).open_ms][b.t] = b.close
    return dict(sorted(out.items()))


@pytest.mark.parametrize(("etf", "base", "ratio"), [("SPXL", "SPY", 3.0), ("SDS", "SPY", -2.0), ("SQQQ", "TQQQ", -1.0)])
def test_leverage_from_previous_close_holds_on_rounded_bars(
    mid_market: dict[str, list[Bar]], etf: str, base: str, ratio: float
) -> None:
    """Per session, (P/P_prevclose − 1) = ratio × (Q/Q_prevclose − 1), up to cent rounding
    (on mid prints: bid-ask bounce moves observed prices by up to a few cents)."""
    x, y = _by_session(mid_market[etf]), _by_session(mid_market[base])
    days = list(x)
    checked = 0
    for prev, day in zip(days, days[1:], strict=False):
        if not (x[prev] and y[prev]) or max(x[prev]) != max(y[prev]):
            continue  # need both closes of the previous session's last minute
        px, py = x[prev][max(x[prev])], y[prev][max(y[prev])]
        for t, cx in x[day].items():
            cy = y[day].get(t)
            if cy is None:
                continue
            # A half-cent error on each of the four rounded prices moves the two sides this much.
            tol = HALF_CENT * (1 + cx / px) / px + abs(ratio) * HALF_CENT * (1 + cy / py) / py + 1e-12
            assert abs((cx / px - 1) - ratio * (cy / py - 1)) <= tol, (etf, base, t)
            checked += 1
    assert checked > 5000


def _paths():
    cfg = SyntheticConfig(seed=3, sessions=10)
    days = market_sessions(cfg, today=date(2024, 12, 31))
    rng = np.random.default_rng(3)
    return simulate_factors(rng, [d.n_minutes for d in days], ModelParams())


def test_unrounded_levels_are_exactly_leveraged_with_daily_reset() -> None:
    paths = _paths()
    spy, spxl, sh = (etf_path(ETFS[s], paths) for s in ("SPY", "SPXL", "SH"))
    r_spy = spy.points / spy.prev_close[:, None] - 1
    r_spxl = spxl.points / spxl.prev_close[:, None] - 1
    r_sh = sh.points / sh.prev_close[:, None] - 1
    ok = ~np.isnan(r_spy)
    np.testing.assert_allclose(r_spxl[ok], 3 * r_spy[ok], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(r_sh[ok], -r_spy[ok], rtol=1e-9, atol=1e-12)
    # The reset is daily: over many days SPXL's total return is not 3× SPY's (path dependence).
    total_spy = spy.points[-1, paths.lengths[-1]] / spy.prev_close[0] - 1
    total_spxl = spxl.points[-1, paths.lengths[-1]] / spxl.prev_close[0] - 1
    assert abs(total_spxl - 3 * total_spy) > 1e-4


def _corr(a: list[Bar], b: list[Bar], returns_of) -> float:
    ta = {x.t for x in a}
    common = ta & {x.t for x in b}
    ra = returns_of([x for x in a if x.t in common])
    rb = returns_of([x for x in b if x.t in common])
    k = ~np.isnan(ra) & ~np.isnan(rb)
    return float(np.corrcoef(ra[k], rb[k])[0, 1])


def test_correlations_follow_the_families(mid_market: dict[str, list[Bar]], returns_of) -> None:
    """On mid prints (the bounce of thin names lowers observed minute correlations)."""
    market = mid_market
    c = {pair: _corr(market[pair[0]], market[pair[1]], returns_of) for pair in [
        ("SH", "SPY"), ("SDS", "SPY"), ("UVXY", "SPY"), ("SVXY", "SPY"), ("SQQQ", "TQQQ"),
        ("TQQQ", "SPY"), ("TNA", "SPY"), ("FAS", "SPY"), ("ERX", "SPY"), ("UVXY", "SVXY"),
    ]}
    assert c[("SH", "SPY")] < -0.9
    assert c[("SDS", "SPY")] < -0.9
    assert c[("SQQQ", "TQQQ")] < -0.95
    assert c[("UVXY", "SPY")] < -0.7
    assert c[("UVXY", "SVXY")] < -0.9
    assert c[("SVXY", "SPY")] > 0.7
    # Common market factor: every long family ETF moves with SPY, energy least.
    assert c[("TQQQ", "SPY")] > c[("ERX", "SPY")] > 0.3
    assert min(c[("TNA", "SPY")], c[("FAS", "SPY")]) > 0.6


def test_volume_and_volatility_are_u_shaped(market: dict[str, list[Bar]], returns_of, minute_index_of) -> None:
    bars = [b for b in market["SPY"] if nyse().session_of_minute(b.t).n_minutes == 390]
    i = minute_index_of(bars)
    v = np.array([b.volume for b in bars])
    first, mid, last = i < 30, (i >= 165) & (i < 225), i >= 360
    assert v[first].mean() > 1.5 * v[mid].mean()
    assert v[last].mean() > 1.5 * v[mid].mean()
    r = np.abs(returns_of(bars))
    ri = i[1:]
    assert np.nanmean(r[(ri >= 1) & (ri < 30)]) > 1.5 * np.nanmean(r[(ri >= 165) & (ri < 225)])
    assert np.nanmean(r[ri >= 360]) > 1.1 * np.nanmean(r[(ri >= 165) & (ri < 225)])


def test_minute_and_daily_volatility_magnitudes(market: dict[str, list[Bar]], returns_of) -> None:
    r = returns_of(market["SPY"])
    assert 0.0003 < np.nanstd(r) < 0.0008  # ≈ 0.03–0.06% a minute
    closes = [d[max(d)] for d in _by_session(market["SPY"]).values()]
    daily = np.diff(np.log(closes))
    assert 0.005 < daily.std() < 0.02  # ≈ 1% a day


def test_minute_returns_have_fat_tails(market: dict[str, list[Bar]], returns_of) -> None:
    for sym in ("SPY", "TQQQ", "UVXY"):
        r = returns_of(market[sym])
        r = r[~np.isnan(r)]
        x = r - r.mean()
        kurtosis = np.mean(x**4) / np.mean(x**2) ** 2
        assert kurtosis > 5, (sym, kurtosis)


def test_volatility_clusters(market: dict[str, list[Bar]], returns_of) -> None:
    """|r_t| and |r_t−1| correlate (GARCH), though r_t and r_t−1 do not."""
    r = returns_of(market["SPY"])
    a, b = np.abs(r[1:]), np.abs(r[:-1])
    k = ~np.isnan(a) & ~np.isnan(b)
    assert np.corrcoef(a[k], b[k])[0, 1] > 0.1


def test_thin_symbols_miss_minutes_liquid_ones_do_not(base_cfg: SyntheticConfig, market: dict[str, list[Bar]]) -> None:
    grid = sum(s.n_minutes for s in market_sessions(base_cfg))
    missing = {sym: 1 - len(bars) / grid for sym, bars in market.items()}
    assert missing["SPY"] == 0
    for sym in ("TQQQ", "SQQQ", "SPXL"):
        assert missing[sym] < 0.001, (sym, missing[sym])
    for sym in ("ERY", "FAZ", "SVXY", "SH", "TZA"):
        assert missing[sym] > 0.05, (sym, missing[sym])


def test_liquidity_scale_controls_missing_minutes(base_cfg: SyntheticConfig) -> None:
    thin = generate_market(replace(base_cfg, sessions=5, symbols=("ERY",), liquidity_scale=0.3))["ERY"]
    thick = generate_market(replace(base_cfg, sessions=5, symbols=("ERY",), liquidity_scale=20.0))["ERY"]
    assert len(thin) < 0.6 * len(thick)

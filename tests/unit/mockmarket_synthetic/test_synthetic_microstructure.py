"""Bid-ask bounce and print noise: the next open is not the previous close, by realistic
amounts, while the mid process (and its learnable component) is untouched."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from common.bars import MINUTE_MS, Bar
from mockmarket.synthetic import SyntheticConfig, generate_market, market_paths
from mockmarket.synthetic_etfs import ETFS, etf_path

LIQUID = ("SPY", "TQQQ", "SQQQ", "UVXY")
THIN = ("ERY", "FAZ", "SH", "SVXY", "FAS", "ERX")


def _gaps(bars: list[Bar]) -> np.ndarray:
    """|open − previous close| in cents over consecutive minutes that both have a bar."""
    return np.array(
        [round(abs(b.open - a.close) * 100) for a, b in zip(bars, bars[1:], strict=False) if b.t - a.t == MINUTE_MS]
    )


@pytest.mark.parametrize("symbol", LIQUID)
def test_liquid_names_open_a_cent_or_two_away_about_half_the_time(market, symbol):
    g = _gaps(market[symbol])
    moved = g[g > 0]
    # bounce alone: the open and the close before it sit on the same side half the time
    assert 0.45 < len(moved) / len(g) < 0.65, len(moved) / len(g)
    assert np.mean(moved <= 3) > 0.97 and np.median(moved) <= 2


@pytest.mark.parametrize("symbol", THIN)
def test_thin_names_open_several_cents_away_more_often(market, symbol):
    g = _gaps(market[symbol])
    moved = g[g > 0]
    assert 0.55 < len(moved) / len(g) < 0.9, len(moved) / len(g)
    assert np.median(moved) >= 2 and np.mean(moved) > 2


def test_the_gap_grows_with_thinness(market):
    liquid = np.mean([_gaps(market[s]).mean() for s in LIQUID])
    thin = np.mean([_gaps(market[s]).mean() for s in THIN])
    assert thin > 2.5 * liquid, (liquid, thin)


def test_prints_stay_near_the_mid_and_only_prices_change(market, mid_market):
    for sym in ("SPY", "ERY"):
        on, off = market[sym], mid_market[sym]
        assert [(b.t, b.volume, b.trade_count) for b in on] == [(b.t, b.volume, b.trade_count) for b in off]
        dev = np.array([abs(a.close - b.close) for a, b in zip(on, off, strict=True)]) * 100
        assert np.mean(dev <= 4) > 0.99 and dev.max() <= 10, (sym, dev.max())
        assert np.mean(dev > 0) > 0.4  # most prints are not the mid
        for b in on:
            assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high


def test_with_the_learnable_component_off_mid_returns_stay_unpredictable(
    base_cfg, market, mid_market, autocorr_of
):
    """The mid's lag-1 autocorrelation is ~0; observed returns carry the bounce's negative one
    (Roll), strongest where the spread is wide against the minute's volatility."""
    _, paths = market_paths(base_cfg)
    for sym in ("SPY", "TQQQ", "ERY", "SH", "FAS"):
        mids = etf_path(ETFS[sym], paths).points  # (sessions, minutes + 1)
        r = np.diff(np.log(mids), axis=1)
        a, b = r[:, 1:].ravel(), r[:, :-1].ravel()
        ok = np.isfinite(a) & np.isfinite(b)
        assert abs(np.corrcoef(a[ok], b[ok])[0, 1]) < 0.03, sym
    for sym in market:
        assert autocorr_of(market[sym]) < autocorr_of(mid_market[sym]) + 0.01, sym
    for sym in ("ERY", "SH", "SVXY", "FAZ"):  # spreads of 2-3 cents on minute moves of a few
        assert autocorr_of(market[sym]) < autocorr_of(mid_market[sym]) - 0.04, sym


def test_the_learnable_component_is_on_the_mid_with_its_documented_strength(base_cfg):
    """phi = 0.2 over 3 lags: the mid's lag-1 autocorrelation is clearly positive with the
    microstructure on (the mid does not depend on it)."""
    cfg = replace(base_cfg, signal_strength=0.2, symbols=("SPY", "ERY"))
    _, paths = market_paths(cfg)
    for sym in cfg.symbols:
        r = np.diff(np.log(etf_path(ETFS[sym], paths).points), axis=1)
        a, b = r[:, 1:].ravel(), r[:, :-1].ravel()
        ok = np.isfinite(a) & np.isfinite(b)
        assert np.corrcoef(a[ok], b[ok])[0, 1] > 0.04, sym
    on = generate_market(cfg)
    off = generate_market(replace(cfg, microstructure=0.0))
    assert [b.t for b in on["ERY"]] == [b.t for b in off["ERY"]]


def test_same_seed_same_bars_and_microstructure_is_validated(base_cfg):
    cfg = replace(base_cfg, sessions=3, symbols=("SPY", "FAZ"))
    assert generate_market(cfg) == generate_market(cfg)
    for bad in (-0.1, 5.5, float("nan")):
        with pytest.raises(ValueError, match="microstructure"):
            SyntheticConfig(microstructure=bad)

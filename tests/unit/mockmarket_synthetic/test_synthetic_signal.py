"""The learnable component: off means unpredictable, on means weakly but clearly predictable.

It lives on the mid price: these tests read bars printed at the mid (microstructure off).
test_synthetic_microstructure checks the mid returns of the bars mockmarket serves.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from common.bars import Bar
from common.calendar import nyse
from mockmarket.synthetic import SyntheticConfig, generate_market
from mockmarket.synthetic_model import signal_filter

FAMILY_ETFS = ("SPY", "TQQQ", "TNA", "FAS", "ERX", "UVXY")


def test_off_gives_near_zero_lag1_autocorrelation(mid_market: dict[str, list[Bar]], autocorr_of) -> None:
    acs = [autocorr_of(mid_market[s]) for s in FAMILY_ETFS]
    assert max(abs(a) for a in acs) < 0.04, acs
    assert abs(np.mean(acs)) < 0.025, acs


def test_on_gives_clearly_positive_lag1_autocorrelation(mid_signal_market: dict[str, list[Bar]], autocorr_of) -> None:
    acs = [autocorr_of(mid_signal_market[s]) for s in FAMILY_ETFS]
    assert min(acs) > 0.035, acs
    assert np.mean(acs) > 0.05, acs


def test_signal_changes_prices_but_no_other_draw(
    market: dict[str, list[Bar]], signal_market: dict[str, list[Bar]]
) -> None:
    for sym in ("SPY", "ERY"):
        off, on = market[sym], signal_market[sym]
        assert [b.t for b in off] == [b.t for b in on]  # same missing minutes
        assert [b.volume for b in off] == [b.volume for b in on]
        assert [b.close for b in off] != [b.close for b in on]
    # The first minute has no lags: its close is the same with or without the signal.
    assert market["SPY"][0].close == signal_market["SPY"][0].close


def test_filter_is_identity_at_zero_and_causal() -> None:
    x = np.random.default_rng(0).standard_normal((2, 50))
    assert np.array_equal(signal_filter(x, 0.0, 3), x)
    y = signal_filter(x, 0.3, 3)
    assert np.array_equal(y[:, 0], x[:, 0])
    np.testing.assert_allclose(y[:, 10], x[:, 10] + 0.1 * (y[:, 7] + y[:, 8] + y[:, 9]))
    x2 = x.copy()
    x2[:, 30] += 1.0
    np.testing.assert_array_equal(signal_filter(x2, 0.3, 3)[:, :30], y[:, :30])


def _features(bars: list[Bar]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1- and 5-minute log returns on the grid-filled session closes, and the next return."""
    cal = nyse()
    by_session: dict = {}
    for b in bars:
        by_session.setdefault(cal.session_of_minute(b.t), {})[b.t] = b.close
    xs, ys, day = [], [], []
    last = None
    for k, (s, closes) in enumerate(sorted(by_session.items(), key=lambda kv: kv[0].open_ms)):
        grid = []
        for t in s.minutes():
            last = closes.get(t, last)
            grid.append(last)
        c = np.log(np.array(grid, dtype=float))
        r1 = np.diff(c)
        for i in range(5, len(r1) - 1):
            xs.append((r1[i], c[i + 1] - c[i - 4]))
            ys.append(r1[i + 1])
            day.append(k)
    return np.array(xs), np.array(ys), np.array(day)


def _out_of_sample_corr(bars: list[Bar]) -> float:
    x, y, day = _features(bars)
    a = np.c_[x, np.ones(len(x))]
    train = day < 10
    w = np.linalg.lstsq(a[train], y[train], rcond=None)[0]
    return float(np.corrcoef(a[~train] @ w, y[~train])[0, 1])


def test_a_linear_model_learns_the_signal_only_when_on(mid_cfg: SyntheticConfig) -> None:
    """Fit on 10 sessions, score on the next 10, for six ETFs of different families.

    One estimate has a sd of ~0.025 (fat tails), so the bounds leave room: strength 0.2
    averages ~0.1 out of sample, strength 0 averages ~0.
    """
    cfg = replace(mid_cfg, sessions=20, symbols=FAMILY_ETFS)
    off_market = generate_market(cfg)
    on_market = generate_market(replace(cfg, signal_strength=0.2))
    off = np.array([_out_of_sample_corr(off_market[s]) for s in FAMILY_ETFS])
    on = np.array([_out_of_sample_corr(on_market[s]) for s in FAMILY_ETFS])
    assert abs(off.mean()) < 0.045 and np.abs(off).max() < 0.07, off
    assert on.mean() > 0.065 and on.min() > 0.045, on

"""engine.diagnostics against hand-computed values: correlations, ranks, t-statistics,
forward returns on the session grid, the IC tables and the traded horizon."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

from common.bars import MINUTE_MS, Bar
from common.calendar import nyse
from engine.diagnostics import (
    correlation,
    forward_returns,
    ic_table,
    pearson,
    rank,
    session_mask,
    signal_diagnostics,
    spearman,
    standard_error,
    t_stat,
    traded_horizon,
)
from engine.market_grid import build_grid
from engine.signals import BatchSignals

D1, D2 = date(2025, 10, 14), date(2025, 10, 15)


def test_pearson_and_spearman_by_hand():
    # dx = (-1.5, -.5, .5, 1.5), dy = (-3, -1, 0, 4): Sxy = 11, Sxx = 5, Syy = 26
    assert pearson([1, 2, 3, 4], [2, 4, 5, 9]) == pytest.approx(11 / math.sqrt(130))
    assert spearman([1, 2, 3, 4], [2, 4, 5, 9]) == pytest.approx(1.0)  # monotone
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # ties take their mean rank: x ranks (1, 2.5, 2.5, 4), y ranks (1, 3, 2, 4)
    assert list(rank(np.array([1.0, 2.0, 2.0, 3.0]))) == [1.0, 2.5, 2.5, 4.0]
    assert list(rank(np.array([5.0, -1.0, 5.0, 5.0]))) == [3.0, 1.0, 3.0, 3.0]
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / math.sqrt(4.5 * 5))
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3])) and math.isnan(pearson([1], [2]))
    with pytest.raises(ValueError, match="same length"):
        pearson([1, 2], [1, 2, 3])


def test_t_statistic_and_standard_error_by_hand():
    assert t_stat(0.5, 27) == pytest.approx(0.5 * math.sqrt(25 / 0.75))
    assert standard_error(0.5, 27) == pytest.approx(math.sqrt(0.75 / 25))
    assert (
        t_stat(-1.0, 10) == -math.inf
        and math.isnan(t_stat(0.3, 2))
        and math.isnan(t_stat(math.nan, 50))
    )
    # 30 samples of 3-minute returns count as 10 independent ones
    x = np.arange(30.0)
    y = x + np.tile([0.0, 5.0, -5.0], 10)
    c = correlation(x, y, overlap=3)
    assert (c.n, c.n_eff) == (30, 10.0)
    assert c.pearson == pytest.approx(pearson(x, y))
    assert c.pearson_t == pytest.approx(c.pearson * math.sqrt(8 / (1 - c.pearson**2)))
    assert c.spearman_se == pytest.approx(math.sqrt((1 - c.spearman**2) / 8))
    few = correlation(x[:8], y[:8], overlap=3)  # 2.7 effective samples: no IC
    assert math.isnan(few.pearson) and math.isnan(few.spearman_t)
    with pytest.raises(ValueError, match="overlap"):
        correlation(x, y, overlap=0)


@pytest.fixture(scope="module")
def two_days():
    """A trades every minute of both days; B only every other minute of the first."""
    s1, s2 = nyse().session(D1), nyse().session(D2)
    a = [Bar("A", s.open_ms + m * MINUTE_MS, 10.0, 10.0, 10.0, 10.0 + 0.01 * m, 100)
         for s in (s1, s2) for m in range(s.n_minutes)]  # fmt: skip
    b = [Bar("B", s1.open_ms + m * MINUTE_MS, 20.0, 20.0, 20.0, 20.0 + 0.1 * m, 10)
         for m in range(0, s1.n_minutes, 2)]  # fmt: skip
    return build_grid(["A", "B"], [s1, s2], {"A": a, "B": b})


def test_forward_returns_stay_in_their_session_and_start_on_real_bars(two_days):
    g = two_days
    f = forward_returns(g, 2)
    n1 = 390
    assert f[0, 0] == pytest.approx(10.02 / 10.0 - 1)
    assert f[0, n1 - 3] == pytest.approx((10.0 + 0.01 * 389) / (10.0 + 0.01 * 387) - 1)
    assert np.isnan(f[0, n1 - 2]) and np.isnan(f[0, n1 - 1])  # would cross the night
    assert f[0, n1] == pytest.approx(10.02 / 10.0 - 1)  # the second day on its own
    assert f[1, 0] == pytest.approx(20.2 / 20.0 - 1)
    assert np.isnan(f[1, 1])  # a filled minute is no sample
    # from a real bar to a filled one: the last traded close at or before n + h
    assert forward_returns(g, 1)[1, 0] == pytest.approx(0.0)
    assert np.isnan(f[1, n1:]).all()  # B never trades on day 2
    with pytest.raises(ValueError, match="h=0"):
        forward_returns(g, 0)
    assert list(session_mask(g, [1])) == [False] * n1 + [True] * 390


def test_ic_tables_pool_symbols_and_keep_each_one(two_days):
    g = two_days
    fwd = forward_returns(g, 2)
    mask = session_mask(g, [0])
    noise = np.where(np.arange(g.n_minutes) % 3 == 0, 1.0, -1.0)
    signal = np.vstack([fwd[0] * 2 + 1, noise])  # A: a perfect forecast; B: noise
    ic = ic_table(g.symbols, np.nan_to_num(signal), fwd, mask, "x", 2)
    ok_a = mask & np.isfinite(fwd[0])
    ok_b = mask & np.isfinite(fwd[1])
    assert ic.per_symbol["A"].n == ok_a.sum() == 388 and ic.per_symbol[
        "A"
    ].pearson == pytest.approx(1.0)
    assert ic.per_symbol["B"].n == ok_b.sum() == 194
    assert ic.per_symbol["B"].pearson == pytest.approx(pearson(noise[ok_b], fwd[1][ok_b]))
    assert abs(ic.per_symbol["B"].pearson) < 0.2 and ic.per_symbol["B"].n_eff == 97
    xs = np.r_[np.nan_to_num(signal[0])[ok_a], noise[ok_b]]
    ys = np.r_[fwd[0][ok_a], fwd[1][ok_b]]
    assert ic.pooled.n == 582
    assert ic.pooled.pearson == pytest.approx(pearson(xs, ys))
    assert ic.pooled.spearman == pytest.approx(spearman(xs, ys))


def test_signal_diagnostics_score_prob_and_each_horizons_forecast(two_days):
    g = two_days
    S, N = g.n_symbols, g.n_minutes
    f1, f5 = np.nan_to_num(forward_returns(g, 1)), np.nan_to_num(forward_returns(g, 5))
    prob = 0.5 + f5  # ranks like the 5-minute return
    preds = np.stack([f1, -f5])  # h1 right at 1 minute; h5 exactly wrong at 5
    sig = BatchSignals(g.symbols, g.t_ms, prob, np.ones((S, N)), np.zeros((S, N)),
                       np.zeros((S, N), dtype=np.int64), (1, 5), preds)  # fmt: skip
    d = signal_diagnostics(g, sig, [0, 1], 5, label="in-sample", horizon_source="test")
    assert (d.label, d.sessions, d.horizon) == ("in-sample", 2, 5)
    assert [(x.signal, x.horizon) for x in d.at_traded] == [
        ("prob", 5),
        ("h1 forecast", 5),
        ("h5 forecast", 5),
    ]
    assert [(x.signal, x.horizon) for x in d.at_own] == [("h1 forecast", 1), ("h5 forecast", 5)]
    assert d.by_name("prob", 5).per_symbol["A"].pearson == pytest.approx(1.0)
    assert d.by_name("h1 forecast", 1).per_symbol["A"].spearman == pytest.approx(1.0)
    assert d.by_name("h5 forecast", 5).pooled.pearson == pytest.approx(-1.0)
    assert d.by_name("prob", 5).pooled.overlap == 5
    with pytest.raises(KeyError):
        d.by_name("prob", 1)
    other = build_grid(["A", "B"], [nyse().session(D1)], {})
    with pytest.raises(ValueError, match="not computed on this grid"):
        signal_diagnostics(other, sig, [0], 5, label="x")


def test_the_traded_horizon_is_the_mean_holding_time_else_the_heaviest_model_horizon():
    assert traded_horizon([3 * MINUTE_MS, 4 * MINUTE_MS], (1, 5, 10), (0.3, 0.5, 0.2)) == (
        4,
        "mean holding time 3.5 min of 2 round trip(s)",
    )
    assert traded_horizon([10_000], (1, 5, 10), (0.3, 0.5, 0.2))[0] == 1  # at least a minute
    assert traded_horizon([], (1, 5, 10), (0.3, 0.2, 0.5)) == (
        10,
        "no round trip: the model horizon with the largest weight",
    )

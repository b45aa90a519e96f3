"""The step after the EWRLS (combine.pyx): the calibration learns the size of the skill a
forecast has shown on the trades it stands for (and nothing where it has none), equals its
reference, never pairs across sessions or through a bar without a trade; recombine reuses
a run's per-horizon predictions bit for bit; every calibration knob does what it says."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from engine_core import (
    PREDICTION_FIELDS,
    BatchResult,
    Combiner,
    Ensemble,
    EnsembleParams,
    recombine,
    run_batch,
)
from engine_core.reference import ReferenceCalibration
from engine_core.reference.calibration import calibration_slope
from engine_core.timeinfo import minute_info

from .conftest import session_minutes

# -- the calibration on constructed forecasts with a known skill

T20 = session_minutes(date(2025, 6, 27), 20)  # 20 sessions of 390 minutes


def skill_stream(beta: float, seed: int, t: np.ndarray = T20, noise: float = 2e-4,
                 traded: float = 1.0):
    """One symbol whose forecast f predicts the next bar's open-to-open return: the trade a
    forecast on bar m stands for (fill at O[m+1], exit at O[m+2]) returns beta f[m] + noise."""
    rng = np.random.default_rng(seed)
    n = len(t)
    f = 1e-4 * rng.standard_normal(n)
    r = np.zeros(n)  # O[j+1] = O[j] (1 + r[j])
    r[1:] = beta * f[:-1] + noise * rng.standard_normal(n - 1)
    opens = 50.0 * np.cumprod(np.r_[1.0, 1.0 + r[:-1]])
    volume = np.where(rng.random(n) < traded, 100.0, 0.0)
    return f, opens, volume


def combine_one(params: EnsembleParams, f: np.ndarray, opens: np.ndarray, volume: np.ndarray,
                t: np.ndarray = T20) -> BatchResult:
    """The Combiner over one symbol's stored forecasts (every horizon gets ``f``)."""
    H, n = len(params.horizons), len(t)
    preds = np.broadcast_to(f, (H, 1, n))
    return Combiner(1, params).run(preds, np.full((H, 1, n), 0.5), np.ones((1, n), dtype=bool),
                                   opens[None], opens[None], volume[None], t)


ONE = EnsembleParams(horizons=(1,), horizon_weights=(1.0,), warmup_samples=0,
                     calibration_lambda=1.0, calibration_z=0.0)


def test_the_slope_measures_the_skill_a_forecast_has_shown():
    f, opens, volume = skill_stream(0.5, seed=1)
    res = combine_one(ONE, f, opens, volume)
    assert res.slopes[0, 0, -1] == pytest.approx(0.5, abs=0.08)
    # z standard errors below it with calibration_z, never below 0
    z2 = combine_one(replace(ONE, calibration_z=2.0), f, opens, volume)
    assert 0 < z2.slopes[0, 0, -1] < res.slopes[0, 0, -1] - 0.02
    assert np.array_equal(z2.cal_preds[0, 0], z2.slopes[0, 0] * f)
    # a forecast that points the wrong way has shown no skill: slope 0 once it has a
    # session of pairs (before that a few pairs can point either way)
    g, opens_g, volume_g = skill_stream(-0.5, seed=2)
    assert (combine_one(ONE, g, opens_g, volume_g).slopes[0, 0, 390:] == 0).all()


def test_without_skill_the_slope_stays_at_zero():
    f, opens, volume = skill_stream(0.0, seed=3)
    res = combine_one(replace(ONE, calibration_z=2.0, calibration_lambda=0.999), f, opens, volume)
    late = slice(len(T20) // 4, None)
    assert np.mean(res.slopes[0, 0, late] == 0) > 0.9
    assert (res.rhat[0, late] == 0).mean() > 0.9


def test_the_slope_is_the_documented_regression():
    """The final slope, recomputed with numpy from every pair (lambda 1, z 2)."""
    f, opens, volume = skill_stream(0.3, seed=4)
    p = replace(ONE, calibration_z=2.0)
    res = combine_one(p, f, opens, volume)
    day = minute_info(T20).day
    m = np.arange(len(T20) - 2)
    same = day[m] == day[m + 2]
    x, y = f[m][same], (opens[m + 2] / opens[m + 1] - 1)[same]
    beta = (x @ y) / (x @ x)
    n = len(x)
    se = np.sqrt(np.sum(x**2 * (y - beta * x) ** 2) / (x @ x) ** 2 * n / (n - 1))
    assert res.slopes[0, 0, -1] == pytest.approx(beta - 2 * se, rel=1e-9)


def test_pairs_never_span_sessions_nor_a_bar_without_a_trade():
    """Moves an order could not have earned leave the slope as it is: the overnight gap,
    and the jump from a session-grid filled bar's open (the last close, at the bid or the
    ask) to the next open. Forecasts that 'predict' them exactly change nothing."""
    n = len(T20)
    f, opens, volume = skill_stream(0.3, seed=5, noise=4e-4)
    day = minute_info(T20).day
    r = opens[1:] / opens[:-1] - 1.0  # r[j]: O[j] -> O[j+1]
    volume[1::7] = 0.0  # every 7th bar filled (no trade)
    jumps = np.zeros(n - 1)
    # a trade on bar m = q - 1 (h = 1) fills at the filled bar q's open and exits at q + 1
    q = np.flatnonzero(volume == 0.0)
    q = q[q + 1 < n]
    jumps[q] = 0.01 * np.sign(f[q - 1])
    # a trade on bar m = last - 1 fills at the session's last open, exits the next morning
    last = np.flatnonzero(day[1:] != day[:-1])
    jumps[last] = 0.05 * np.sign(f[last - 1])
    moved = 50.0 * np.cumprod(np.r_[1.0, 1.0 + r + jumps])
    p = replace(ONE, calibration_z=2.0)
    base = combine_one(p, f, opens, volume).slopes
    assert base[0, 0, -1] > 0.1
    np.testing.assert_allclose(combine_one(p, f, moved, volume).slopes, base, rtol=1e-9, atol=0)
    # the same moves on traded bars inside a session are skill
    traded = combine_one(p, f, moved, np.full(n, 100.0)).slopes
    assert traded[0, 0, -1] > base[0, 0, -1] + 1


def test_the_combiner_equals_the_reference():
    """Two horizons, lambda < 1, z > 0, bars without trades: the running sums of combine.pyx
    against explicit weighted sums over every pair."""
    t = T20[: 390 * 4]
    p = EnsembleParams(horizons=(1, 3), horizon_weights=(0.5, 0.5), warmup_samples=0,
                       calibration_lambda=0.995, calibration_z=1.0)
    f, opens, volume = skill_stream(0.4, seed=6, t=t, traded=0.8)
    g = 0.5 * f + 1e-5 * np.random.default_rng(7).standard_normal(len(t))
    preds = np.stack([f, g])[:, None, :]
    res = Combiner(1, p).run(preds, np.full((2, 1, len(t)), 0.5), np.ones((1, len(t)), bool),
                             opens[None], opens[None], volume[None], t)
    ref = ReferenceCalibration(p)
    day = minute_info(t).day
    for j in range(len(t)):
        cal = ref.step(preds[:, 0, j], opens[j], volume[j], int(day[j]))
        np.testing.assert_allclose(res.slopes[:, 0, j], ref.slopes, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(res.cal_preds[:, 0, j], cal, rtol=1e-9, atol=1e-20)
    assert (ref.slopes > 0).all()


def test_calibration_slope_helper_edge_cases():
    assert calibration_slope(np.array([]), np.array([]), 0.9, 1, 2.0) == 0.0
    assert calibration_slope(np.array([1.0]), np.array([2.0]), 0.9, 1, 0.0) == 0.0  # one pair
    assert calibration_slope(np.zeros(5), np.ones(5), 0.9, 1, 0.0) == 0.0  # no forecast


# -- the whole ensemble: per-bar == batch, recombine, knobs, and the synthetic market


@pytest.fixture(scope="module")
def planted(synthetic):
    """The synthetic market with bid-ask bounce, planted signal 0.2, 6 sessions."""
    return synthetic(0.2, sessions=6, seed=3, microstructure=1.0,
                     symbols=("SPY", "SPXL", "TQQQ", "SQQQ", "ERY", "SH"))


CAL = EnsembleParams(ewrls_lambda=0.999, regularization=1.0, warmup_samples=50,
                     horizon_weights=(0.3, 0.5, 0.2), probability_scale=1000.0,
                     calibration_lambda=0.99, calibration_z=1.0)


@pytest.fixture(scope="module")
def planted_run(planted):
    return run_batch(CAL, *planted.arrays, planted.t)


def test_per_bar_equals_batch_with_calibration(planted, planted_run):
    m = planted.minutes(0, 1200)
    ens = Ensemble(6, CAL)
    cal, slopes = [], []
    for j in range(len(m.t)):
        ens.update(int(m.t[j]), *(a[:, j] for a in m.arrays))
        cal.append(ens.calibrated_predictions.copy())
        slopes.append(ens.calibration_slopes)
    batch = run_batch(CAL, *m.arrays, m.t)
    assert np.array_equal(np.stack(cal, axis=-1), batch.cal_preds)
    assert np.array_equal(np.stack(slopes, axis=-1)[:, :, -1], batch.slopes[:, :, -1])
    assert np.array_equal(batch.prob, planted_run.prob[:, :1200])
    assert (batch.slopes > 0).any()


def test_recombine_reproduces_the_run_to_the_last_bit(planted, planted_run):
    m = planted
    again = recombine(CAL, planted_run, m.open, m.close, m.volume, m.t)
    for key in BatchResult.__dataclass_fields__:
        assert np.array_equal(getattr(again, key), getattr(planted_run, key)), key


@pytest.mark.parametrize("change", [
    {"calibration": False}, {"calibration_lambda": 0.999}, {"calibration_z": 0.0},
    {"horizon_weights": (0.0, 1.0, 0.0)}, {"probability_scale": 2000.0},
    {"bb_amplification": 0.1, "bb_period": 10}, {"warmup_samples": 500},
], ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_recombine_under_other_knobs_equals_a_full_run(planted, planted_run, change):
    """The optimizer's path: predictions once, then any step-after-EWRLS knob for cheap."""
    m = planted
    q = replace(CAL, **change)
    assert q.prediction_key() == CAL.prediction_key()
    full = run_batch(q, *m.arrays, m.t)
    cheap = recombine(q, planted_run, m.open, m.close, m.volume, m.t)
    for key in ("prob", "rhat", "conf", "warm", "cal_preds", "slopes"):
        assert np.array_equal(getattr(cheap, key), getattr(full, key)), key
    assert not np.array_equal(full.prob, planted_run.prob)


def test_the_prediction_key_names_what_the_predictions_depend_on():
    assert set(PREDICTION_FIELDS) < set(EnsembleParams.field_names())
    assert replace(CAL, ewrls_lambda=0.99).prediction_key() != CAL.prediction_key()
    assert replace(CAL, calibration_z=3.0).prediction_key() == CAL.prediction_key()


def test_a_combiner_run_in_blocks_equals_one_run_and_checks_its_inputs(planted, planted_run):
    m, r = planted, planted_run
    comb = Combiner(6, CAL)
    assert comb.n_symbols == 6 and comb.n_horizons == 3 and comb.params == CAL
    parts = []
    for a, b in ((0, 700), (700, 1500), (1500, len(m.t))):
        parts.append(comb.run(r.preds[:, :, a:b], r.confs[:, :, a:b], r.ready[:, a:b],
                              m.open[:, a:b], m.close[:, a:b], m.volume[:, a:b], m.t[a:b]))
    assert np.array_equal(np.concatenate([x.prob for x in parts], axis=1), r.prob)
    assert np.array_equal(comb.slopes, r.slopes[:, :, -1])
    with pytest.raises(ValueError, match="not after the last minute"):
        comb.run(r.preds[:, :, :5], r.confs[:, :, :5], r.ready[:, :5], m.open[:, :5],
                 m.close[:, :5], m.volume[:, :5], m.t[:5])
    comb.reset()
    assert (comb.slopes == 0).all()
    with pytest.raises(ValueError, match="preds has shape"):
        recombine(replace(CAL, horizons=(1, 5), horizon_weights=(0.5, 0.5)), r, m.open,
                  m.close, m.volume, m.t)
    with pytest.raises(ValueError, match="volume has shape"):
        Combiner(6, CAL).run(r.preds, r.confs, r.ready, m.open, m.close, m.volume[:, :5], m.t)
    with pytest.raises(ValueError, match="without open, close and volume"):
        Combiner(6, CAL).run(r.preds, r.confs, r.ready, np.full_like(m.open, np.nan), m.close,
                             m.volume, m.t)


def test_calibration_off_is_the_raw_combination(planted, planted_run):
    m = planted
    off = run_batch(replace(CAL, calibration=False), *m.arrays, m.t)
    assert np.array_equal(off.preds, planted_run.preds)  # the EWRLS is the same
    assert np.array_equal(off.cal_preds, off.preds) and (off.slopes[:, off.ready] == 1).all()
    assert not np.array_equal(off.rhat, planted_run.rhat)
    # with calibration the forecasts shrink: the raw EWRLS is over-confident
    warm = planted_run.warm
    assert np.abs(planted_run.rhat[warm]).mean() < 0.5 * np.abs(off.rhat[warm]).mean()


def test_each_calibration_knob_does_what_it_says(planted, planted_run):
    m, base = planted, planted_run
    ready = base.ready
    # calibration_z: more standard errors below the estimate, never a larger slope
    more = run_batch(replace(CAL, calibration_z=2.0), *m.arrays, m.t)
    assert (more.slopes <= base.slopes).all() and (more.slopes < base.slopes).any()
    less = run_batch(replace(CAL, calibration_z=0.0), *m.arrays, m.t)
    assert (less.slopes >= base.slopes).all() and (less.slopes > base.slopes).any()
    # calibration_lambda: a longer memory moves the slopes less from one bar to the next
    longer = run_batch(replace(CAL, calibration_lambda=0.999), *m.arrays, m.t)
    step = lambda r: np.abs(np.diff(r.slopes[:, :, -800:], axis=-1)).mean()  # noqa: E731
    assert step(longer) < step(base)
    assert not np.array_equal(longer.slopes[:, ready], base.slopes[:, ready])


def test_calibration_shrinks_to_zero_without_signal(synthetic):
    """Signal off: after a few sessions almost every slope is 0, so the combined forecast
    is 0 (and the probability 0.5) almost everywhere; signal on: the liquid 3x ETFs' 1-bar
    forecasts keep a positive slope."""
    symbols = ("SPY", "SPXL", "TQQQ", "SQQQ", "UVXY", "SH", "ERY", "FAZ")
    p = replace(CAL, calibration_lambda=0.999, calibration_z=2.0)
    late = slice(390 * 4, None)
    off = synthetic(0.0, sessions=8, seed=5, microstructure=1.0, symbols=symbols)
    res = run_batch(p, *off.arrays, off.t)
    zero = res.slopes[:, :, late][:, res.ready[:, late]] == 0
    assert zero.mean() > 0.9, zero.mean(axis=1)
    assert (res.rhat[:, late][res.warm[:, late]] == 0).mean() > 0.8
    on = synthetic(0.2, sessions=8, seed=5, microstructure=1.0, symbols=symbols)
    res = run_batch(p, *on.arrays, on.t)
    liquid = [symbols.index(s) for s in ("SPXL", "TQQQ", "SQQQ", "UVXY")]
    assert (res.slopes[0][liquid][:, late] > 0).mean() > 0.5
    # the shipped defaults (z 0.5, the 5-bar forecast): the traded horizon's slope stays 0
    # without a signal and turns positive with it
    d = EnsembleParams()
    off_d, on_d = run_batch(d, *off.arrays, off.t), run_batch(d, *on.arrays, on.t)
    assert (off_d.slopes[1][off_d.ready & (np.arange(len(off.t)) >= 390 * 4)] == 0).mean() > 0.85
    assert (off_d.rhat[:, late][off_d.warm[:, late]] == 0).mean() > 0.85
    assert (on_d.slopes[1][liquid][:, late] > 0).mean() > 0.5

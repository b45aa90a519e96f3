"""The ensemble: per-bar == batch to the last bit, == reference, and its documented rules."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from engine_core import BadBarError, Ensemble, EnsembleParams, minute_info, run_batch
from engine_core.reference import ReferenceEnsemble

# the raw combination with the seeds' amplification: these tests pin the ensemble's
# mechanics; the calibration has its own tests (test_calibration.py)
PARAMS = EnsembleParams(warmup_samples=30, calibration=False, bb_amplification=0.10)
FIELDS = ("prob", "rhat", "conf", "preds", "confs", "ready", "warm")


def per_bar(ens: Ensemble, m, start: int = 0, stop: int | None = None) -> dict[str, np.ndarray]:
    """Feed minutes one by one; collect the outputs like a batch would."""
    stop = len(m.t) if stop is None else stop
    out: dict[str, list] = {k: [] for k in FIELDS}
    for j in range(start, stop):
        prob, rhat, conf = ens.update(int(m.t[j]), *(a[:, j] for a in m.arrays))
        for key, value in (("prob", prob), ("rhat", rhat), ("conf", conf),
                           ("preds", ens.horizon_predictions), ("confs", ens.horizon_confidences)):
            out[key].append(value.copy())
    return {k: np.stack(v, axis=-1) for k, v in out.items() if v}


def with_absent_bars(m, every: int = 97):
    """A copy where symbol 1 has no bar (all-NaN) every ``every`` minutes."""
    arrays = [a.copy() for a in m.arrays]
    for a in arrays:
        a[1, 5::every] = np.nan
    return type(m)(*arrays, m.t)


def test_per_bar_equals_batch_to_the_last_bit(small_market):
    m = with_absent_bars(small_market)
    batch = run_batch(PARAMS, *m.arrays, m.t)
    bars = per_bar(Ensemble(3, PARAMS), m)
    for key in ("prob", "rhat", "conf", "preds", "confs"):
        assert np.array_equal(bars[key], getattr(batch, key)), key
    assert batch.warm.sum() > 1000 and (batch.prob != 0.5).sum() > 1000


def test_batch_warm_up_then_per_bar_equals_one_uninterrupted_run(small_market):
    m = small_market
    whole = run_batch(PARAMS, *m.arrays, m.t)
    ens = Ensemble(3, PARAMS)
    first = ens.run(*m.minutes(0, 400).arrays, m.t[:400])
    second = ens.run(*m.minutes(400, 700).arrays, m.t[400:700])
    rest = per_bar(ens, m, 700)
    for key in ("prob", "rhat", "conf"):
        joined = np.concatenate([getattr(first, key), getattr(second, key), rest[key]], axis=1)
        assert np.array_equal(joined, getattr(whole, key)), key
    assert np.abs(ens.theta(2)).max() > 0
    assert ens.last_t == m.t[-1] and ens.count == len(m.t) and ens.initialized
    assert ens.bars_seen.tolist() == [len(m.t)] * 3


def test_batch_equals_the_reference(small_market):
    m = with_absent_bars(small_market.minutes(0, 700))
    core = run_batch(PARAMS, *m.arrays, m.t)
    ref = ReferenceEnsemble(3, PARAMS).run(*m.arrays, m.t)
    for key in ("ready", "warm"):
        assert np.array_equal(getattr(core, key), getattr(ref, key)), key
    for key in ("prob", "conf", "confs"):
        np.testing.assert_allclose(getattr(core, key), getattr(ref, key), rtol=1e-9, atol=1e-12)
    for key in ("rhat", "preds"):
        a, b = getattr(core, key), getattr(ref, key)
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10 * np.abs(b).max())


def test_outputs_follow_the_documented_combination(small_market):
    """r_hat, confidence, probability and Bollinger amplification, recomputed from the
    per-horizon outputs and the closes with numpy."""
    m = small_market
    p = replace(PARAMS, bb_amplification=0.2, bb_proximity=0.35, bb_period=15, bb_std=1.5)
    res = run_batch(p, *m.arrays, m.t)
    w = np.asarray(p.horizon_weights)[:, None, None]
    wc = w * res.confs
    warm = res.warm
    with np.errstate(invalid="ignore", divide="ignore"):
        rhat = (wc * res.preds).sum(0) / wc.sum(0)
    np.testing.assert_allclose(res.rhat[warm], rhat[warm], rtol=1e-12, atol=1e-18)
    np.testing.assert_allclose(res.conf[warm], (wc.sum(0) / w.sum())[warm], rtol=1e-12)
    base = 0.5 + 0.4 * np.tanh(p.probability_scale * res.rhat)
    win = np.lib.stride_tricks.sliding_window_view(m.close, p.bb_period, axis=1)
    pad = np.full((3, p.bb_period - 1), np.nan)
    mean = np.c_[pad, win.mean(axis=2)]
    sd = np.c_[pad, np.sqrt(((win - win.mean(axis=2, keepdims=True)) ** 2).mean(axis=2))]
    lower, upper = mean - p.bb_std * sd, mean + p.bb_std * sd
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = np.clip((m.close - lower) / (upper - lower), 0, 1)
    up = (base > 0.5) & (pos < p.bb_proximity)
    down = (base < 0.5) & (pos > 1 - p.bb_proximity)
    want = base.copy()
    want[up] += p.bb_amplification * (1 - pos[up] / p.bb_proximity)
    want[down] -= p.bb_amplification * (1 - (1 - pos[down]) / p.bb_proximity)
    want = np.clip(want, 0.05, 0.95)
    check = warm & ((upper - lower) > 1e-9 * m.close)
    np.testing.assert_allclose(res.prob[check], want[check], rtol=0, atol=1e-12)
    assert (up & check).sum() > 20 and (down & check).sum() > 20
    assert ((res.prob >= 0.05) & (res.prob <= 0.95)).all()


def test_neutral_until_features_are_ready_and_the_model_is_warm(small_market):
    m = small_market
    res = run_batch(replace(PARAMS, warmup_samples=40), *m.arrays, m.t)
    # features ready at the 51st bar; the 10-bar horizon has 40 pairs 50 bars after that
    assert not res.ready[:, :50].any() and res.ready[:, 50:].all()
    assert not res.warm[:, : 50 + 49].any() and res.warm[:, 50 + 49 :].all()
    cold = ~res.warm
    assert (res.prob[cold] == 0.5).all() and (res.rhat[cold] == 0).all() and (res.conf[cold] == 0).all()
    assert (res.preds[:, res.ready & cold] != 0).any()  # per-horizon values are reported
    assert (res.prob[res.warm] != 0.5).all()


def test_an_absent_bar_leaves_the_symbols_state_untouched(small_market):
    m = small_market
    holes = with_absent_bars(m)
    a = run_batch(PARAMS, *holes.arrays, holes.t)
    present = ~np.isnan(holes.close[1])
    b = run_batch(PARAMS, *(x[1:2, present] for x in m.arrays), m.t[present])
    assert np.array_equal(a.prob[1, present], b.prob[0])
    assert (a.prob[1, ~present] == 0.5).all() and not a.ready[1, ~present].any()
    # the other symbols do not notice
    c = run_batch(PARAMS, *m.arrays, m.t)
    assert np.array_equal(a.prob[[0, 2]], c.prob[[0, 2]])


@pytest.mark.parametrize(("field", "value", "message"), [
    ("close", np.nan, "close=nan"), ("open", math.inf, "open=inf"), ("low", 0.0, "low=0.0"),
    ("high", -3.0, "high=-3.0"), ("volume", -1.0, "volume=-1.0"), ("volume", np.nan, "volume=nan"),
    ("close", 2e10, "close=2"), ("high", 1.0, "high 1.0 < low"),
])
def test_bad_bars_are_rejected_before_any_state_changes(small_market, field, value, message):
    m = small_market
    k = ("open", "high", "low", "close", "volume").index(field)
    ens = Ensemble(3, PARAMS, symbols=("AAA", "BBB", "CCC"))
    ens.run(*m.minutes(0, 300).arrays, m.t[:300])
    before = ens.theta(1)
    bad = [a[:, 300].copy() for a in m.arrays]
    if field == "high":  # keep low valid so the chosen rule is the one reported
        bad[2][1] = min(bad[2][1], 50.0)
    bad[k][1] = value
    with pytest.raises(BadBarError, match=message) as err:
        ens.update(int(m.t[300]), *bad)
    assert "symbol 1 (BBB)" in str(err.value) and str(m.t[300]) in str(err.value)
    assert np.array_equal(ens.theta(1), before) and ens.last_t == m.t[299]
    # the same bad bar inside a batch: named by minute index, nothing consumed
    arrays = [a[:, 300:320].copy() for a in m.arrays]
    arrays[k][1, 7] = value
    if field == "high":
        arrays[2][1, 7] = min(arrays[2][1, 7], 50.0)
    with pytest.raises(BadBarError, match="minute index 7"):
        ens.run(*arrays, m.t[300:320])
    # carrying on gives exactly what a run that never saw the bad bar gives
    rest = ens.run(*m.minutes(300, len(m.t)).arrays, m.t[300:])
    whole = run_batch(PARAMS, *m.arrays, m.t)
    assert np.array_equal(rest.prob, whole.prob[:, 300:])


def test_minutes_must_move_forward_and_shapes_must_match(small_market):
    m = small_market
    ens = Ensemble(3, PARAMS)
    ens.update(int(m.t[10]), *(a[:, 10] for a in m.arrays))
    with pytest.raises(ValueError, match="not after the last minute"):
        ens.update(int(m.t[10]), *(a[:, 11] for a in m.arrays))
    with pytest.raises(ValueError, match="not after the last minute"):
        ens.run(*m.minutes(5, 20).arrays, m.t[5:20])
    with pytest.raises(ValueError, match="strictly increasing"):
        Ensemble(3, PARAMS).run(*m.minutes(0, 3).arrays, m.t[[0, 2, 1]])
    with pytest.raises(ValueError, match="2 bars for 3 symbols"):
        ens.update(int(m.t[12]), *(a[:2, 12] for a in m.arrays))
    with pytest.raises(ValueError, match="shape"):
        ens.update(int(m.t[12]), m.open[:, 12], m.high[:2, 12], m.low[:, 12], m.close[:, 12],
                   m.volume[:, 12])
    with pytest.raises(ValueError, match="n_symbols"):
        Ensemble(0)
    bad_info = minute_info(m.t[:5])._replace(mod=np.full(5, 2000, dtype=np.int32))
    with pytest.raises(ValueError, match="info.mod"):
        Ensemble(3, PARAMS).run(*m.minutes(0, 5).arrays, m.t[:5], info=bad_info)
    info = minute_info(m.t[:50])
    assert np.array_equal(Ensemble(3, PARAMS).run(*m.minutes(0, 50).arrays, m.t[:50], info=info).prob,
                          run_batch(PARAMS, *m.minutes(0, 50).arrays, m.t[:50]).prob)
    with pytest.raises(TypeError, match="EnsembleParams"):
        Ensemble(2, params=0.98)


def test_reset_and_mapping_params(small_market):
    m = small_market.minutes(0, 200)
    ens = Ensemble(3, {"ewrls_lambda": 0.99, "warmup_samples": 30, "buy_threshold": 0.53})
    assert ens.params.ewrls_lambda == 0.99
    a = ens.run(*m.arrays, m.t)
    ens.reset()
    assert ens.last_t is None and not ens.ready.any() and (ens.bars_seen == 0).all()
    assert ens.count == 0 and not ens.initialized
    b = ens.run(*m.arrays, m.t)
    assert np.array_equal(a.prob, b.prob)
    assert ens.ready.all() and ens.warm.all()

"""Online normalization equals an explicit batch computation of the weighted z-scores."""

from __future__ import annotations

import numpy as np
import pytest

from engine_core import FEATURE_NAMES, FEATURE_SCALES, NORM_EPS, FeatureEngine
from engine_core import READY_BARS as READY
from engine_core.reference import ReferenceFeatures
from engine_core.timeinfo import minute_info


def batch_zscores(raw: np.ndarray, norm_window: int, z_clip: float) -> np.ndarray:
    """z_t = (x_t - m_t)/sqrt(v_t + eps^2): m_t, v_t the weighted mean and population variance
    of x_0..x_t with weights a_i prod_{j>i}(1 - a_j), a_t = max(1/(t+1), 2/(norm_window+1))."""
    R = raw.shape[0]
    alpha = np.maximum(1.0 / np.arange(1, R + 1), 2.0 / (norm_window + 1))
    eps = NORM_EPS * np.asarray(FEATURE_SCALES)
    z = np.empty_like(raw)
    x = raw - raw[0]  # centred on the first value, so a constant feature is exactly 0
    for t in range(R):
        keep = np.r_[np.cumprod((1 - alpha[1 : t + 1])[::-1])[::-1], 1.0]
        w = alpha[: t + 1] * keep
        m = w @ x[: t + 1]
        v = w @ (x[: t + 1] - m) ** 2
        z[t] = (x[t] - m) / np.sqrt(v + eps * eps)
    return np.clip(z, -z_clip, z_clip)


@pytest.mark.parametrize("impl", ["cython", "reference"])
def test_zscores_equal_the_batch_weighted_computation(small_market, impl):
    m = small_market.symbol(2)
    arrays = [a[0, :450] for a in m.arrays]
    if impl == "cython":
        raw, z, ready = FeatureEngine(norm_window=60, z_clip=3.0).run(*arrays, *minute_info(m.t[:450]))
    else:
        raw, z, ready = ReferenceFeatures(norm_window=60, z_clip=3.0).run(*arrays, m.t[:450])
    assert np.isnan(z[~ready]).all()
    want = batch_zscores(raw[ready], 60, 3.0)
    np.testing.assert_allclose(z[ready], want, rtol=1e-9, atol=1e-9)
    assert (np.abs(z[ready]) == 3.0).any(), "the clip is exercised"
    # the first ready bar has no spread yet: all z are 0
    assert (z[READY - 1] == 0).all()
    # time-of-week is constant within a day: its z is 0 until a second day is seen
    assert z[READY - 1, FEATURE_NAMES.index("dow_sin")] == 0.0


def test_engine_api_update_matches_run_and_reset_starts_over(small_market):
    m = small_market.symbol(1)
    arrays = [a[0, :120] for a in m.arrays]
    info = minute_info(m.t[:120])
    eng = FeatureEngine()
    raw, z, ready = eng.run(*arrays, *info)
    assert eng.count == 120 and eng.initialized
    eng.reset()
    assert eng.count == 0 and not eng.initialized
    for t in range(120):
        r, zz = eng.update(*(float(a[t]) for a in arrays), int(info.mod[t]), int(info.dow[t]),
                           int(info.day[t]))
        assert np.array_equal(r, raw[t])
        assert (zz is None) == (not ready[t])
        if zz is not None:
            assert np.array_equal(zz, z[t])
    with pytest.raises(ValueError, match="mod"):
        eng.update(1.0, 1.0, 1.0, 1.0, 0.0, 1440, 0, 0)

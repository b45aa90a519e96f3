"""EnsembleParams: config defaults, validation naming the key, and every knob matters."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from common.config import OesConfig
from engine_core import EnsembleParams, run_batch


def test_defaults_are_the_oes_config_defaults():
    p = EnsembleParams()
    o = OesConfig()
    shared = set(EnsembleParams.field_names()) & set(OesConfig.model_fields)
    assert len(shared) == 14  # every oes_config signal knob (norm_window, z_clip, label_clip are not)
    for name in shared:
        assert getattr(p, name) == getattr(o, name), name
    assert (p.ewrls_lambda, p.initial_variance, p.regularization, p.warmup_samples) == (0.9999, 10.0, 10.0, 100)
    assert p.horizons == (1, 5, 10) and p.horizon_weights == (0.0, 1.0, 0.0)
    assert (p.bb_period, p.bb_std, p.bb_proximity, p.bb_amplification) == (20, 2.0, 0.30, 0.0)
    assert p.probability_scale == 2000.0
    assert (p.calibration, p.calibration_lambda, p.calibration_z) == (True, 0.9995, 0.5)
    # the ported system's values stay valid
    EnsembleParams(ewrls_lambda=0.98, regularization=0.1, horizon_weights=(0.3, 0.5, 0.2),
                   probability_scale=50.0, bb_amplification=0.10, calibration=False)


@pytest.mark.parametrize(("key", "value"), [
    ("ewrls_lambda", 0.0), ("ewrls_lambda", 1.01), ("ewrls_lambda", float("nan")),
    ("regularization", -0.1), ("initial_variance", 0.0), ("horizons", []),
    ("horizons", [5, 1, 10]), ("horizons", [1, 1, 5]), ("horizons", [0, 5, 10]),
    ("horizons", "1,5"), ("horizons", [1.5, 5, 10]), ("horizon_weights", [0.5, 0.5]),
    ("horizon_weights", [0.0, 0.0, 0.0]), ("horizon_weights", [-0.1, 0.6, 0.5]),
    ("probability_scale", 0), ("bb_period", 1), ("bb_period", 20.5), ("bb_std", 0.0),
    ("bb_proximity", 0.0), ("bb_proximity", 0.6), ("bb_amplification", -0.01),
    ("bb_amplification", 0.5), ("warmup_samples", -1), ("warmup_samples", True),
    ("norm_window", 0), ("z_clip", 0.0), ("label_clip", -1.0), ("ewrls_lambda", "0.98"),
    ("calibration", 1), ("calibration", "yes"), ("calibration_lambda", 0.0),
    ("calibration_lambda", 1.5), ("calibration_z", -0.5), ("calibration_z", float("inf")),
])
def test_a_bad_value_names_the_key_and_the_value(key, value):
    with pytest.raises(ValueError, match=key) as err:
        EnsembleParams(**{key: value})
    if not isinstance(value, list):
        assert repr(value) in str(err.value)


def test_from_mapping_takes_the_known_keys_and_strict_rejects_the_rest():
    cfg = {"ewrls_lambda": 0.99, "horizons": [1, 5, 10], "buy_threshold": 0.53}
    p = EnsembleParams.from_mapping(cfg)
    assert p.ewrls_lambda == 0.99 and p.horizons == (1, 5, 10)
    with pytest.raises(ValueError, match="buy_threshold"):
        EnsembleParams.from_mapping(cfg, strict=True)
    with pytest.raises(ValueError, match="bb_std"):
        replace(p, bb_std=-1)  # a copy is validated again


BASE = EnsembleParams(warmup_samples=20, calibration=False, bb_amplification=0.10)
CHANGES = [
    {"ewrls_lambda": 0.99}, {"regularization": 0.5}, {"regularization": 0.0},
    {"initial_variance": 1.0}, {"horizons": (1, 3, 10)}, {"horizon_weights": (0.6, 0.2, 0.2)},
    {"probability_scale": 80.0}, {"bb_period": 30}, {"bb_std": 1.5}, {"bb_proximity": 0.45},
    {"bb_amplification": 0.2}, {"warmup_samples": 200}, {"norm_window": 100},
    {"z_clip": 1.0}, {"label_clip": 1e-4},
]


@pytest.fixture(scope="module")
def base_result(small_market):
    return run_batch(BASE, *small_market.arrays, small_market.t)


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_every_knob_changes_the_signal(small_market, base_result, change):
    res = run_batch(replace(BASE, **change), *small_market.arrays, small_market.t)
    assert not np.array_equal(res.prob, base_result.prob)

"""The ensemble's parameters: one frozen, validated object, built from config.

Names follow ``oes_config`` in strategy-reference.md; a bad value fails here, when the
object is built, with the key and the value in the message - never in the per-bar loop.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

MAX_HORIZON = 1000
MAX_BB_PERIOD = 1000

PREDICTION_FIELDS = ("ewrls_lambda", "regularization", "initial_variance", "horizons",
                     "norm_window", "z_clip", "label_clip")
"""The knobs the per-horizon predictions depend on; every other knob only shapes the cheap
step after them (calibration, combination, probability, warm-up), which
:func:`engine_core.recombine` recomputes from stored predictions."""


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}={value!r} must be a number")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name}={value!r} must be finite")
    return v


def _integer(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}={value!r} must be an integer")
    return int(value)


def _boolean(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name}={value!r} must be true or false")
    return value


def _check(name: str, ok: bool, value: Any, rule: str) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r} must be {rule}")


@dataclass(frozen=True, slots=True)
class EnsembleParams:
    """Everything that shapes the signal (see engine_core/__init__.py for the math).

    The defaults are ``oes_config``'s (``common.config.OesConfig`` says why each is what it is).
    """

    ewrls_lambda: float = 0.9999
    """Forgetting factor lambda in (0, 1]."""
    regularization: float = 10.0
    """Ridge per sample rho >= 0 that does not fade under forgetting (floored at 1e-4 when lambda < 1)."""
    initial_variance: float = 10.0
    """delta > 0: the covariance starts as delta * I (prior ridge 1/delta, fading as lambda^t)."""
    horizons: tuple[int, ...] = (1, 5, 10)
    """Prediction horizons in bars, strictly ascending."""
    horizon_weights: tuple[float, ...] = (0.0, 1.0, 0.0)
    """One weight >= 0 per horizon, not all 0."""
    probability_scale: float = 2000.0
    """k in p = 0.5 + 0.4 tanh(k r_hat)."""
    bb_period: int = 20
    """Bollinger window (bars) of the amplification."""
    bb_std: float = 2.0
    """Bollinger half-width in standard deviations."""
    bb_proximity: float = 0.30
    """Amplify when the close is within this fraction of the band from its edge, in (0, 0.5]."""
    bb_amplification: float = 0.0
    """Largest amplification added to (or taken from) p, in [0, 0.45]; 0 (the default) turns
    it off: it is a buy-the-dip rule that fights the forecast (oes_config's docs say why)."""
    warmup_samples: int = 100
    """p stays 0.5 until the longest horizon has learned this many pairs."""
    norm_window: int = 780
    """Feature normalization's exponential window (bars); weight floor 2/(norm_window + 1)."""
    z_clip: float = 5.0
    """Normalized features are clipped to [-z_clip, z_clip]."""
    label_clip: float = 0.2
    """Learning targets (forward returns) are clipped to [-label_clip, label_clip]."""
    calibration: bool = True
    """Scale each horizon's forecast by the skill it has shown (``combine.pyx``) before the
    horizons are combined; False combines the raw EWRLS forecasts (the original behaviour)."""
    calibration_lambda: float = 0.9995
    """Forgetting factor of the calibration regression, in (0, 1] (memory ~1/(1 - lambda) pairs)."""
    calibration_z: float = 0.5
    """The slope used is max(0, slope - calibration_z x its standard error), calibration_z >= 0."""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        lam = _real("ewrls_lambda", self.ewrls_lambda)
        _check("ewrls_lambda", 0.0 < lam <= 1.0, self.ewrls_lambda, "in (0, 1]")
        rho = _real("regularization", self.regularization)
        _check("regularization", rho >= 0.0, self.regularization, ">= 0")
        delta = _real("initial_variance", self.initial_variance)
        _check("initial_variance", delta > 0.0, self.initial_variance, "> 0")
        if isinstance(self.horizons, str | bytes) or not hasattr(self.horizons, "__iter__"):
            raise ValueError(f"horizons={self.horizons!r} must be a list of integers")
        hs = tuple(_integer("horizons", h) for h in self.horizons)
        _check("horizons", len(hs) > 0, self.horizons, "non-empty")
        _check("horizons", all(1 <= h <= MAX_HORIZON for h in hs), self.horizons,
               f"integers in [1, {MAX_HORIZON}]")
        _check("horizons", all(b > a for a, b in zip(hs, hs[1:], strict=False)), self.horizons,
               "strictly ascending")
        if isinstance(self.horizon_weights, str | bytes) or not hasattr(self.horizon_weights, "__iter__"):
            raise ValueError(f"horizon_weights={self.horizon_weights!r} must be a list of numbers")
        ws = tuple(_real("horizon_weights", w) for w in self.horizon_weights)
        _check("horizon_weights", len(ws) == len(hs), self.horizon_weights,
               f"one weight per horizon ({len(hs)})")
        _check("horizon_weights", all(w >= 0.0 for w in ws) and sum(ws) > 0.0,
               self.horizon_weights, ">= 0 and not all 0")
        k = _real("probability_scale", self.probability_scale)
        _check("probability_scale", k > 0.0, self.probability_scale, "> 0")
        bbp = _integer("bb_period", self.bb_period)
        _check("bb_period", 2 <= bbp <= MAX_BB_PERIOD, self.bb_period, f"in [2, {MAX_BB_PERIOD}]")
        bbs = _real("bb_std", self.bb_std)
        _check("bb_std", bbs > 0.0, self.bb_std, "> 0")
        prox = _real("bb_proximity", self.bb_proximity)
        _check("bb_proximity", 0.0 < prox <= 0.5, self.bb_proximity, "in (0, 0.5]")
        amp = _real("bb_amplification", self.bb_amplification)
        _check("bb_amplification", 0.0 <= amp <= 0.45, self.bb_amplification, "in [0, 0.45]")
        warm = _integer("warmup_samples", self.warmup_samples)
        _check("warmup_samples", warm >= 0, self.warmup_samples, ">= 0")
        nw = _integer("norm_window", self.norm_window)
        _check("norm_window", nw >= 1, self.norm_window, ">= 1")
        zc = _real("z_clip", self.z_clip)
        _check("z_clip", zc > 0.0, self.z_clip, "> 0")
        lc = _real("label_clip", self.label_clip)
        _check("label_clip", lc > 0.0, self.label_clip, "> 0")
        cal = _boolean("calibration", self.calibration)
        cal_lam = _real("calibration_lambda", self.calibration_lambda)
        _check("calibration_lambda", 0.0 < cal_lam <= 1.0, self.calibration_lambda, "in (0, 1]")
        cal_z = _real("calibration_z", self.calibration_z)
        _check("calibration_z", cal_z >= 0.0, self.calibration_z, ">= 0")
        for name, value in (("ewrls_lambda", lam), ("regularization", rho),
                            ("initial_variance", delta), ("horizons", hs),
                            ("horizon_weights", ws), ("probability_scale", k),
                            ("bb_period", bbp), ("bb_std", bbs), ("bb_proximity", prox),
                            ("bb_amplification", amp), ("warmup_samples", warm),
                            ("norm_window", nw), ("z_clip", zc), ("label_clip", lc),
                            ("calibration", cal), ("calibration_lambda", cal_lam),
                            ("calibration_z", cal_z)):
            set_(self, name, value)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def prediction_key(self) -> tuple[Any, ...]:
        """The values of :data:`PREDICTION_FIELDS`: two parameter sets with the same key give
        the same per-horizon predictions and confidences (``BatchResult.preds``/``confs``),
        so :func:`engine_core.recombine` can reuse one run's for the other."""
        return tuple(getattr(self, name) for name in PREDICTION_FIELDS)

    @classmethod
    def from_mapping(cls, cfg: Mapping[str, Any], *, strict: bool = False) -> EnsembleParams:
        """Build from a config section (e.g. ``oes_config``), taking the keys named like fields.

        Other keys (buy/sell thresholds...) belong to other consumers and are ignored,
        unless ``strict``, where any key that is not a field is an error naming it.
        """
        names = set(cls.field_names())
        if strict:
            unknown = sorted(set(cfg) - names)
            if unknown:
                raise ValueError(f"unknown ensemble parameter(s): {', '.join(unknown)}")
        return cls(**{k: v for k, v in cfg.items() if k in names})


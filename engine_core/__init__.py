"""engine_core: incremental features and a multi-horizon EWRLS ensemble, in Cython.

Build: ``make install`` (or ``python setup.py build_ext --inplace``) compiles
``engine_core/*.pyx``. Modules: ``rolling`` (O(1) windows), ``features`` (47 features of
one symbol, normalized online), ``ewrls`` (multi-horizon EWRLS with one shared covariance
recursion; the exact objective is in its docstring), ``combine`` (the step after it:
each horizon's forecast calibrated by the skill it has shown, the horizons combined, the
probability), ``ensemble`` (many symbols: features -> EWRLS -> combine), ``decision_loop``
(the optimizer's trials: the strategies' decision-and-fill loop over precomputed signals,
numeric only; ``optimize.compiled_simulator`` adapts it).
``engine_core.reference`` is a pure-Python/numpy reference of the same math, for tests
and benchmarks only.

Live engine (one minute of all symbols per call)::

    from engine_core import Ensemble, EnsembleParams
    params = EnsembleParams.from_mapping(config["oes_config"])
    ens = Ensemble(len(symbols), params, symbols=symbols)
    prob, rhat, conf = ens.update(t_ms, opens, highs, lows, closes, volumes)  # each (S,)

Backtests and the optimizer (symbols x minutes in one call, no Python per bar)::

    from engine_core import run_batch
    res = run_batch(params, opens, highs, lows, closes, volumes, t_ms)  # (S, N) arrays
    res.prob, res.rhat, res.conf, res.preds, res.confs, res.ready, res.warm
    res.cal_preds, res.slopes  # (H, S, N) calibrated per-horizon forecasts and their slopes

The optimizer's cheap path: the EWRLS (``preds``, ``confs``) depends only on
``EnsembleParams.prediction_key()``; any other knob (calibration, horizon weights,
probability scale, Bollinger, warm-up) is applied by ``recombine`` to a stored run, with
the very result a full run with that knob gives::

    from engine_core import recombine
    other = recombine(dataclasses.replace(params, calibration_z=1.0), res,
                      opens, closes, volumes, t_ms)

``Ensemble.run(...)`` is the batch entry on an existing ensemble: warm up in one call,
then continue with ``update``; the results equal one uninterrupted run bit for bit.
The compiled loop releases the GIL: separate Ensembles may run in parallel threads (one
Ensemble is not to be fed from two threads at once). Incremental API everywhere:
``update``/``run``, ``reset()``, ``count``, ``initialized``.

Inputs: bars on the session grid (design.md section 5; a filled flat bar with volume 0
is ordinary input), in a fixed symbol order. An all-NaN bar means "no bar this minute"
(state untouched, neutral output). Anything else that is not a sane bar (NaN, inf, a
price <= 0 or outside [1e-8, 1e10], negative volume, high < low) raises
``BadBarError`` (a ValueError) naming the symbol, the minute and the field before any
state changes. Minutes must be strictly increasing across calls. New York time comes
from ``t_ms`` (zoneinfo, DST-aware): ``minute_info``; the session VWAP restarts when the
New York date changes.

Output per symbol and minute: ``prob`` = P(up) in [0.05, 0.95] (0.5 when not ready or
warming up), ``rhat`` the combined (calibrated) predicted return, ``conf`` the weighted
mean horizon confidence; the per-horizon predictions, confidences, calibrated predictions
and calibration slopes too. Readiness: features after
51 bars; the model is warm once the longest horizon has learned ``warmup_samples``
pairs (until then p = 0.5, rhat = 0, conf = 0).
"""

from __future__ import annotations

try:
    from engine_core.combine import Combiner, recombine
    from engine_core.ensemble import Ensemble, run_batch
    from engine_core.ewrls import MIN_RIDGE, MultiHorizonEWRLS, ridge_weight
    from engine_core.features import FEATURE_NAMES, FEATURE_SCALES, NORM_EPS, READY, FeatureEngine
    from engine_core.features import N as N_FEATURES
except ImportError as exc:  # pragma: no cover - depends on the build
    raise ImportError(
        "engine_core's Cython modules are not compiled: run `make install` "
        "(or `python setup.py build_ext --inplace`)"
    ) from exc

from engine_core.inputs import BadBarError
from engine_core.params import PREDICTION_FIELDS, EnsembleParams
from engine_core.results import BatchResult
from engine_core.timeinfo import MinuteInfo, minute_info

READY_BARS = READY

__all__ = [
    "FEATURE_NAMES",
    "FEATURE_SCALES",
    "MIN_RIDGE",
    "NORM_EPS",
    "N_FEATURES",
    "PREDICTION_FIELDS",
    "READY_BARS",
    "BadBarError",
    "BatchResult",
    "Combiner",
    "Ensemble",
    "EnsembleParams",
    "FeatureEngine",
    "MinuteInfo",
    "MultiHorizonEWRLS",
    "minute_info",
    "recombine",
    "ridge_weight",
    "run_batch",
]

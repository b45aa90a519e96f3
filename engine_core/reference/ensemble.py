"""Reference ensemble: reference features + reference EWRLS + the probability mapping."""

from __future__ import annotations

import math

import numpy as np

from engine_core.inputs import as_price_arrays, check_bars, missing_mask
from engine_core.params import EnsembleParams
from engine_core.reference.calibration import ReferenceCalibration
from engine_core.reference.ewrls import ReferenceEWRLS
from engine_core.reference.features import DEGENERATE, ReferenceFeatures, window_mean, window_sd
from engine_core.results import BatchResult
from engine_core.timeinfo import minute_info


def amplify(p: float, c: float, closes: list[float], bb_std: float, prox: float,
            amp: float) -> float:
    """Bollinger amplification of ``p`` given the band's closes (see ensemble.pyx)."""
    mean, sd = window_mean(closes), window_sd(closes)
    lower, upper = mean - bb_std * sd, mean + bb_std * sd
    if not upper - lower > DEGENERATE * c:
        return p
    pos = min(max((c - lower) / (upper - lower), 0.0), 1.0)
    if p > 0.5 and pos < prox:
        return p + amp * (1 - pos / prox)
    if p < 0.5 and pos > 1 - prox:
        return p - amp * (1 - (1 - pos) / prox)
    return p


class _Symbol:
    def __init__(self, p: EnsembleParams, n_features: int) -> None:
        self.features = ReferenceFeatures(p.norm_window, p.z_clip)
        self.model = ReferenceEWRLS(n_features, p.horizons, p.ewrls_lambda, p.regularization,
                                    p.initial_variance, p.label_clip)
        self.calibration = ReferenceCalibration(p)
        self.closes: list[float] = []


class ReferenceEnsemble:
    """Same ``update``/``run`` contract as engine_core.ensemble.Ensemble, bar by bar in Python."""

    def __init__(self, n_symbols: int, params: EnsembleParams | None = None) -> None:
        self.p = params or EnsembleParams()
        self.n_symbols = n_symbols
        from engine_core.features import N
        self.symbols = [_Symbol(self.p, N) for _ in range(n_symbols)]

    def _one(self, s: _Symbol, o: float, h: float, lo: float, c: float, v: float,
             t_ms: int) -> tuple[float, float, float, np.ndarray, np.ndarray, bool, bool,
                                 np.ndarray, np.ndarray]:
        p = self.p
        H = len(p.horizons)
        raw, z = s.features.update(o, h, lo, c, v, t_ms)
        s.closes = (s.closes + [c])[-p.bb_period:]
        if z is None:
            return 0.5, 0.0, 0.0, np.zeros(H), np.zeros(H), False, False, np.zeros(H), np.zeros(H)
        preds, confs = s.model.step(z, c)
        cal = s.calibration.step(preds, o, v, int(minute_info([t_ms]).day[0]))
        slopes = s.calibration.slopes.copy()
        if s.model.updates()[-1] < p.warmup_samples:
            return 0.5, 0.0, 0.0, preds, confs, True, False, cal, slopes
        w = np.asarray(p.horizon_weights)
        wc = w * confs
        rhat = float(np.sum(wc * cal) / np.sum(wc))
        prob = 0.5 + 0.4 * math.tanh(p.probability_scale * rhat)
        if len(s.closes) == p.bb_period:
            prob = amplify(prob, c, s.closes, p.bb_std, p.bb_proximity, p.bb_amplification)
        prob = min(max(prob, 0.05), 0.95)
        return prob, rhat, float(np.sum(wc) / np.sum(w)), preds, confs, True, True, cal, slopes

    def run(self, open_, high, low, close, volume, t_ms) -> BatchResult:
        o, h, lo, c, v = as_price_arrays(open_, high, low, close, volume, 2)
        check_bars(o, h, lo, c, v, t_ms=t_ms)
        S, N = c.shape
        H = len(self.p.horizons)
        out = BatchResult(np.full((S, N), 0.5), np.zeros((S, N)), np.zeros((S, N)),
                          np.zeros((H, S, N)), np.zeros((H, S, N)),
                          np.zeros((S, N), dtype=bool), np.zeros((S, N), dtype=bool),
                          np.zeros((H, S, N)), np.zeros((H, S, N)))
        absent = missing_mask(o, h, lo, c, v)
        for t in range(N):
            for i in range(S):
                if absent[i, t]:
                    continue
                (out.prob[i, t], out.rhat[i, t], out.conf[i, t], out.preds[:, i, t],
                 out.confs[:, i, t], out.ready[i, t], out.warm[i, t], out.cal_preds[:, i, t],
                 out.slopes[:, i, t]) = self._one(
                    self.symbols[i], float(o[i, t]), float(h[i, t]), float(lo[i, t]),
                    float(c[i, t]), float(v[i, t]), int(t_ms[t]))
        return out

    def update(self, t_ms: int, open_, high, low, close, volume):
        res = self.run(np.asarray(open_, dtype=float)[:, None], np.asarray(high, dtype=float)[:, None],
                       np.asarray(low, dtype=float)[:, None], np.asarray(close, dtype=float)[:, None],
                       np.asarray(volume, dtype=float)[:, None], [t_ms])
        return res.prob[:, 0], res.rhat[:, 0], res.conf[:, 0]

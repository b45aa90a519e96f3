"""Reference calibration: each horizon's slope recomputed from all its pairs, explicitly.

No running sums: every time a pair arrives the weighted regression through the origin,
its White variance and the effective number of pairs are computed afresh from the stored
(forecast, return) pairs with explicit weights lambda^age (see combine.pyx for the math).
Equality with engine_core.combine therefore checks the recursion, not just the arithmetic.
"""

from __future__ import annotations

import math

import numpy as np

from engine_core.params import EnsembleParams


def calibration_slope(f: np.ndarray, y: np.ndarray, lam: float, h: int, z: float) -> float:
    """max(0, beta - z se) of pairs (f, y), oldest first, weights lam^age."""
    n = len(f)
    if n == 0:
        return 0.0
    w = lam ** np.arange(n - 1, -1, -1, dtype=np.float64)
    sff = float(np.sum(w * f * f))
    if not sff > 0:
        return 0.0
    n_eff = float(np.sum(w)) ** 2 / float(np.sum(w * w))
    if not n_eff > 1.0 + 1e-9:
        return 0.0
    beta = float(np.sum(w * f * y)) / sff
    if not beta > 0:
        return 0.0
    e = y - beta * f
    var = float(np.sum(w * w * f * f * e * e)) / sff**2 * n_eff / (n_eff - 1.0) * h
    return max(0.0, beta - z * math.sqrt(var))


class ReferenceCalibration:
    """One symbol's calibration: ``step(preds, open, volume, day)`` per ready bar → calibrated
    preds. A pair enters when both fill bars traded and the decision bar is in the exit's session."""

    def __init__(self, p: EnsembleParams) -> None:
        self.p = p
        H = len(p.horizons)
        self.history: list[tuple[np.ndarray, float, float, int]] = []  # (preds, open, volume, day)
        self.pairs: list[tuple[list[float], list[float]]] = [([], []) for _ in range(H)]
        self.slopes = np.zeros(H) if p.calibration else np.ones(H)

    def step(self, preds: np.ndarray, open_: float, volume: float, day: int) -> np.ndarray:
        p = self.p
        s = len(self.history)
        if p.calibration:
            for hi, h in enumerate(p.horizons):
                m = s - h - 1
                if m < 0 or self.history[m][3] != day:
                    continue
                _, entry, entry_volume, _ = self.history[m + 1]
                if not (volume > 0 and entry_volume > 0):
                    continue
                y = min(max(open_ / entry - 1.0, -p.label_clip), p.label_clip)
                fs, ys = self.pairs[hi]
                fs.append(float(self.history[m][0][hi]))
                ys.append(y)
                self.slopes[hi] = calibration_slope(
                    np.array(fs), np.array(ys), p.calibration_lambda, h, p.calibration_z
                )
        self.history.append((np.array(preds, dtype=np.float64), float(open_), float(volume), int(day)))
        return self.slopes * preds if p.calibration else np.array(preds, dtype=np.float64)

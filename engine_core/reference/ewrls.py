"""Reference EWRLS: one textbook recursive least squares per horizon, each with its own P.

No shared gains and no walked-back quadratic forms: every horizon runs its own
Sherman-Morrison updates (the data pair with forgetting, then the ridge
pseudo-observation) and its confidence is read off its own P. Equality with
engine_core.ewrls therefore checks the sharing argument, not just the arithmetic.
"""

from __future__ import annotations

import math

import numpy as np

from engine_core.ewrls import ridge_weight


class _Horizon:
    def __init__(self, n: int, h: int, delta: float) -> None:
        self.h = h
        self.theta = np.zeros(n)
        self.P = delta * np.eye(n)
        self.updates = 0


class ReferenceEWRLS:
    """Same constructor and ``step``/``run`` as engine_core.ewrls.MultiHorizonEWRLS."""

    def __init__(self, n_features: int, horizons=(1, 5, 10), lam: float = 0.98,
                 regularization: float = 0.1, initial_variance: float = 10.0,
                 label_clip: float = math.inf) -> None:
        self.n = n_features
        self.horizons = tuple(int(h) for h in horizons)
        self.lam = lam
        self.c = ridge_weight(n_features, lam, regularization)
        self.delta = initial_variance
        self.label_clip = label_clip
        self.reset()

    def reset(self) -> None:
        self.models = [_Horizon(self.n, h, self.delta) for h in self.horizons]
        self.history: dict[int, tuple[np.ndarray, float]] = {}  # step -> (x, close), recent
        self.steps = 0

    @property
    def theta(self) -> np.ndarray:
        return np.array([m.theta for m in self.models])

    def P_of(self, hi: int) -> np.ndarray:
        """Horizon ``hi``'s own covariance."""
        return self.models[hi].P.copy()

    def updates(self) -> tuple[int, ...]:
        return tuple(m.updates for m in self.models)

    def _learn(self, m: _Horizon, x: np.ndarray, y: float, j: int) -> None:
        P = m.P
        Px = P @ x
        k = Px / (self.lam + x @ Px)
        m.theta = m.theta + k * (y - m.theta @ x)
        P = (P - np.outer(k, Px)) / self.lam
        if self.c > 0:
            col = P[:, j].copy()
            g = self.c / (1.0 + self.c * P[j, j])
            m.theta = m.theta - g * col * m.theta[j]
            P = P - g * np.outer(col, col)
        m.P = 0.5 * (P + P.T)
        m.updates += 1

    def step(self, x, close: float) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(x, dtype=np.float64)
        s = self.steps
        for m in self.models:
            mm = s - m.h
            if mm >= 0:
                x_old, c_old = self.history[mm]
                y = min(max(close / c_old - 1.0, -self.label_clip), self.label_clip)
                self._learn(m, x_old, y, mm % self.n)
        preds = np.array([m.theta @ x for m in self.models])
        confs = np.array([1.0 / (1.0 + math.sqrt(max(x @ m.P @ x, 0.0))) for m in self.models])
        self.history[s] = (x.copy(), float(close))
        self.history.pop(s - max(self.horizons), None)
        self.steps += 1
        return preds, confs

    def run(self, X, closes) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float64)
        out = [self.step(X[t], float(closes[t])) for t in range(len(X))]
        H = len(self.horizons)
        if not out:
            return np.empty((0, H)), np.empty((0, H))
        return np.array([p for p, _ in out]), np.array([c for _, c in out])

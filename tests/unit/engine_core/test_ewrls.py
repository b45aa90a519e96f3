"""EWRLS equals the closed form of the objective documented in engine_core/ewrls.pyx.

After bar s, horizon h has learned the pairs m = 0..M (M = s - h) and its coefficients
are A^-1 b with A = lam^(M+1)/delta I + sum lam^(M-m) (x_m x_m' + c e_j(m) e_j(m)'),
b = sum lam^(M-m) x_m y_m, y_m = C_{m+h}/C_m - 1, j(m) = m mod n. With lam = 1 and no
regularization that is plain ridge regression with penalty 1/delta.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine_core import MIN_RIDGE, MultiHorizonEWRLS, ridge_weight
from engine_core.reference import ReferenceEWRLS

HORIZONS = (1, 4, 9)
IMPLS = {"cython": MultiHorizonEWRLS, "reference": ReferenceEWRLS}


def data(seed: int, N: int = 260, n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, n)) * rng.uniform(0.3, 3.0, n)
    C = 40 * np.exp(np.cumsum(0.01 * rng.standard_normal(N)))
    return X, C


def closed_form(X, C, h, M, lam, delta, c, label_clip=math.inf):
    """(theta, A) of horizon h after learning the pairs 0..M."""
    n = X.shape[1]
    m = np.arange(M + 1)
    wt = lam ** (M - m)
    y = np.clip(C[m + h] / C[m] - 1, -label_clip, label_clip)
    A = lam ** (M + 1) / delta * np.eye(n) + (X[: M + 1].T * wt) @ X[: M + 1]
    np.add.at(A, (m % n, m % n), c * wt)
    b = (X[: M + 1].T * wt) @ y
    return np.linalg.solve(A, b), A


@pytest.fixture(params=list(IMPLS))
def impl(request):
    return IMPLS[request.param]


@pytest.mark.parametrize(("lam", "rho", "delta"), [
    (1.0, 0.0, 10.0),    # plain ridge, penalty 1/delta
    (1.0, 0.0, 0.05),    # strong prior
    (1.0, 0.02, 2.0),    # ridge with the cyclic per-sample penalty
    (0.97, 0.0, 10.0),   # forgetting (rho floored at MIN_RIDGE)
    (0.9, 0.1, 1.0),
    (0.995, 0.01, 100.0),
])
def test_coefficients_equal_the_closed_form_at_every_checkpoint(impl, lam, rho, delta):
    X, C = data(1)
    model = impl(X.shape[1], HORIZONS, lam, rho, delta)
    c = ridge_weight(X.shape[1], lam, rho)
    assert c == X.shape[1] * (rho if lam == 1.0 else max(rho, MIN_RIDGE))
    done = 0
    for stop in (5, 12, 40, 137, 260):
        model.run(X[done:stop], C[done:stop])
        done = stop
        for hi, h in enumerate(HORIZONS):
            M = stop - 1 - h
            if M < 0:
                assert not model.theta[hi].any()
                continue
            want, _ = closed_form(X, C, h, M, lam, delta, c)
            np.testing.assert_allclose(model.theta[hi], want, rtol=1e-8,
                                       atol=1e-10 * np.abs(want).max())


@pytest.mark.parametrize(("lam", "rho"), [(1.0, 0.0), (0.96, 0.05)])
def test_predictions_and_confidences_use_each_horizons_own_lagged_covariance(impl, lam, rho):
    X, C = data(2, N=120)
    delta = 3.0
    model = impl(X.shape[1], HORIZONS, lam, rho, delta)
    preds, confs = model.run(X, C)
    c = ridge_weight(X.shape[1], lam, rho)
    for t in (0, 1, 3, 4, 8, 9, 10, 33, 119):
        for hi, h in enumerate(HORIZONS):
            x = X[t]
            if t - h < 0:  # nothing learned yet: the prior
                assert preds[t, hi] == 0.0
                assert confs[t, hi] == pytest.approx(1 / (1 + math.sqrt(delta * x @ x)), rel=1e-12)
                continue
            theta, A = closed_form(X, C, h, t - h, lam, delta, c)
            assert preds[t, hi] == pytest.approx(theta @ x, rel=1e-8, abs=1e-12)
            q = x @ np.linalg.solve(A, x)
            assert confs[t, hi] == pytest.approx(1 / (1 + math.sqrt(q)), rel=1e-9)


def test_shared_gains_equal_independent_per_horizon_models():
    """The Cython core shares one covariance recursion; the reference runs one per horizon."""
    X, C = data(3, N=400, n=12)
    for lam, rho, delta in ((0.98, 0.1, 10.0), (1.0, 0.0, 1.0), (0.95, 0.0, 0.5)):
        a = MultiHorizonEWRLS(12, (1, 5, 10), lam, rho, delta)
        b = ReferenceEWRLS(12, (1, 5, 10), lam, rho, delta)
        pa, ca = a.run(X, C)
        pb, cb = b.run(X, C)
        np.testing.assert_allclose(pa, pb, rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(ca, cb, rtol=1e-10)
        np.testing.assert_allclose(a.theta, b.theta, rtol=1e-9, atol=1e-13)
        assert a.updates() == b.updates() == (399, 395, 390)


def test_covariance_is_exactly_symmetric_and_positive_definite():
    X, C = data(4, N=3000, n=20)
    model = MultiHorizonEWRLS(20, (1, 5, 10), 0.97, 0.05, 10.0)
    model.run(X, C)
    P = model.P
    assert np.array_equal(P, P.T)
    assert np.linalg.eigvalsh(P).min() > 0


@pytest.mark.parametrize("impl_name", list(IMPLS))
def test_covariance_stays_bounded_when_directions_go_unexcited(impl_name):
    """Constant features excite one direction; without the ridge P would grow as lam^-t."""
    n, lam, N = 8, 0.95, 3000
    x = np.linspace(-1, 1, n)
    X = np.tile(x, (N, 1))
    C = np.full(N, 10.0)
    model = IMPLS[impl_name](n, (1, 5, 10), lam, 0.0, 10.0)
    model.run(X, C)
    c = ridge_weight(n, lam, 0.0)
    bound = (1 - lam**n) / (c * lam ** (n - 1))
    P = model.P if impl_name == "cython" else model.P_of(0)
    eig = np.linalg.eigvalsh(P)
    assert np.isfinite(P).all() and eig.max() <= bound * (1 + 1e-9)
    assert eig.max() > 0.5 * bound  # the bound is tight: the floor is what holds P
    assert lam ** -N > 1e60  # what it would have reached


def test_each_knob_changes_the_coefficients(impl):
    X, C = data(5)
    base = impl(8, HORIZONS, 0.98, 0.1, 10.0)
    base.run(X, C)
    for kwargs in ({"lam": 0.99}, {"regularization": 0.3}, {"initial_variance": 0.5}):
        args = {"lam": 0.98, "regularization": 0.1, "initial_variance": 10.0, **kwargs}
        other = impl(8, HORIZONS, **args)
        other.run(X, C)
        assert np.abs(other.theta - base.theta).max() > 1e-6 * np.abs(base.theta).max(), kwargs


def test_no_look_ahead_changing_the_future_leaves_the_past_unchanged():
    X, C = data(6, N=200)
    X2, C2 = X.copy(), C.copy()
    X2[150:] = 1.7 * X2[150:][::-1]
    C2[150:] *= 1.5
    a = MultiHorizonEWRLS(8, HORIZONS, 0.98, 0.1, 10.0).run(X, C)
    b = MultiHorizonEWRLS(8, HORIZONS, 0.98, 0.1, 10.0).run(X2, C2)
    for got, want in zip(a, b, strict=True):
        assert np.array_equal(got[:150], want[:150])
        assert not np.array_equal(got[150:], want[150:])


def test_labels_are_clipped(impl):
    X, C = data(7, N=60)
    C = C.copy()
    C[30] *= 3.0  # a +200% print
    clipped = impl(8, (1,), 1.0, 0.0, 10.0, label_clip=0.05)
    clipped.run(X, C)
    want, _ = closed_form(X, C, 1, 58, 1.0, 10.0, 0.0, label_clip=0.05)
    np.testing.assert_allclose(clipped.theta[0], want, rtol=1e-9)


def test_bad_construction_and_input_are_rejected():
    with pytest.raises(ValueError, match="strictly ascending"):
        MultiHorizonEWRLS(4, (5, 1))
    with pytest.raises(ValueError, match="lam"):
        MultiHorizonEWRLS(4, (1,), lam=1.5)
    with pytest.raises(ValueError, match="regularization"):
        MultiHorizonEWRLS(4, (1,), regularization=-1)
    m = MultiHorizonEWRLS(4, (1,))
    with pytest.raises(ValueError, match="finite"):
        m.run(np.full((3, 4), np.nan), np.ones(3))
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        m.run(np.ones((3, 5)), np.ones(3))
    assert m.steps == 0

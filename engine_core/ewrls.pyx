"""Multi-horizon exponentially weighted recursive least squares (EWRLS), one shared
covariance recursion for all horizons.

The problem
-----------
One feature vector x_m per ready bar m = 0, 1, 2, ... and the closes C_m. The horizon-h
model learns the pair (x_m, y_m) with y_m = clip(C_{m+h}/C_m - 1, +-label_clip) at bar
m + h, the first bar at which that return is known: no look-ahead. After bar s it has
consumed the pairs m = 0..M, M = s - h, and its coefficients minimize exactly

    J(theta) = lambda^(M+1)/delta |theta|^2
               + sum_{m=0..M} lambda^(M-m) [ (y_m - theta'x_m)^2 + c theta_{j(m)}^2 ],

    j(m) = m mod n,   c = n rho_eff,   rho_eff = rho if lambda = 1 else max(rho, 1e-4),

that is theta = A^-1 b and P = A^-1 with

    A = lambda^(M+1)/delta I + sum lambda^(M-m) (x_m x_m' + c e_j(m) e_j(m)'),
    b = sum lambda^(M-m) x_m y_m.

The three knobs have distinct effects:

* lambda (``ewrls_lambda``) forgets old pairs (memory about 1/(1 - lambda) bars);
* delta (``initial_variance``) is the prior: P starts as delta I. Its ridge 1/delta
  fades as lambda^t, so it matters early (and forever when lambda = 1);
* rho (``regularization``) is a ridge that does not fade: each step adds one
  pseudo-observation sqrt(c) e_j with target 0, cycling j through the coordinates, so
  on average every sample adds rho |theta|^2 - with normalized (unit-variance) features
  it is the ridge relative to the data's own information. It keeps P bounded when
  directions go unexcited (flat bars, constant features): the largest eigenvalue of P is
  at most about (1 - lambda^n)/(c lambda^(n-1)). With lambda < 1 a floor of 1e-4 applies
  for that reason; with lambda = 1 (P can only shrink) rho = 0 is plain ridge with
  penalty 1/delta.

Each step is two rank-one RLS updates (Sherman-Morrison), the data pair with
forgetting, then the pseudo-observation without:

    u = P x,  den = lambda + x'u,  k = u/den,  theta += k (y - theta'x),
    P' = (P - u u'/den)/lambda,
    w = P' e_j,  g = c/(1 + c w_j),  theta -= g w theta_j,  P'' = P' - g w w'.

No O(n^3) step: P'' is computed in one pass as P/lambda - ub ub' - wg wg' with
ub = u/sqrt(den lambda), wg = w sqrt(g); every product there commutes, so P stays
exactly symmetric in floating point.

Sharing the gains
-----------------
A (so P, k, w, g) depends only on the feature sequence x_0..x_M, not on the labels or the
horizon: all horizons share one recursion (the "base"), which takes one step per bar on
the newest x_s, stores (x, k, g w, den, g, C) in a ring as long as the longest horizon,
and horizon h applies, at bar s, the gains stored at step s - h. One O(n^2) step per bar,
then O(n) per horizon.

Confidence uses each horizon's own (lagged) covariance P_{s-h}, the base after step s - h:
conf_h = 1/(1 + sqrt(x'P_{s-h}x)), x = x_s. Rather than storing h matrices, the quadratic
form is walked back from x'P_{s-1}x (computed for the gain anyway) with

    x'P_{m-1}x = lambda (x'P_m x + g_m (w_m'x)^2) + (u_m'x)^2/den_m,

h - 1 pairs of dot products (all terms are non-negative: numerically benign). Before a
horizon's first update its covariance is the prior: x'P x = delta |x|^2.

Per bar, in order: ``ewrls_learn(close)`` (every horizon learns the pair that this close
completes), then ``ewrls_predict_step(x, close)`` (predictions theta_h'x and confidences,
then the base step with x).

Implementation
--------------
Vectors and P are stored with a width padded to a multiple of 4 (the padding is 0 and
stays 0). The O(n^2) kernels - P x, the rank-two update, the dot products - are small C
functions with explicit 4-double vectors, compiled for the x86-64 baseline and for
x86-64-v3 (AVX2 + FMA) and picked by the loader for the CPU at hand. Every path (per-bar,
batch, this class) runs the same compiled code, so they agree to the last bit on one
machine; two CPU generations may differ in the last bits. Guards against rounding:
x'P x is clamped at 0 and a pseudo-observation is skipped if w_j <= 0.
"""

cimport cython
from libc.math cimport INFINITY, sqrt
from libc.string cimport memset

cdef extern from *:
    """
    /* The kernels of an EWRLS step. On x86-64 Linux each is compiled twice,
       for the baseline and for x86-64-v3 CPUs (AVX2 + FMA), and the loader picks the
       clone the CPU supports (GCC/Clang target_clones). Same inputs, same clone, same
       bits: the per-bar and batch paths always agree; different CPU generations may
       differ in the last bits. Define ENGINE_CORE_NO_CLONES to build the baseline only. */
    #if defined(__x86_64__) && defined(__linux__) && !defined(ENGINE_CORE_NO_CLONES) \
        && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
    #define EC_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
    #elif defined(__x86_64__) && defined(__linux__) && !defined(ENGINE_CORE_NO_CLONES) \
        && defined(__clang__) && __clang_major__ >= 14
    #define EC_CLONES __attribute__((target_clones("avx2", "default")))
    #else
    #define EC_CLONES
    #endif

    /* Four-double vectors (GCC/Clang vector extensions): explicit SIMD with a fixed
       order of operations; the baseline clone lowers them to SSE2 pairs. Every n below
       is a multiple of 4 (the EWRLS storage is padded). */
    typedef double ec_v4 __attribute__((vector_size(32), aligned(8), may_alias));
    #define EC_LD(ptr) (*(const ec_v4 *)(ptr))
    #define EC_ST(ptr, v) (*(ec_v4 *)(ptr) = (v))
    #define EC_SUM(v) (((v)[0] + (v)[1]) + ((v)[2] + (v)[3]))

    /* a'b, two vector accumulators. */
    EC_CLONES static double ec_dot(int n, const double *restrict a, const double *restrict b) {
        ec_v4 s0 = {0.0, 0.0, 0.0, 0.0}, s1 = s0;
        long i = 0;
        for (; i + 8 <= n; i += 8) {
            s0 += EC_LD(a + i) * EC_LD(b + i);
            s1 += EC_LD(a + i + 4) * EC_LD(b + i + 4);
        }
        if (i < n) s0 += EC_LD(a + i) * EC_LD(b + i);
        return EC_SUM(s0 + s1);
    }

    /* y = A x for A (m x n, row-major): four rows at a time (four independent
       accumulators, x loaded once per four rows). */
    EC_CLONES static void ec_gemv(int m, int n, const double *restrict A,
                                  const double *restrict x, double *restrict y) {
        long r = 0;
        for (; r + 4 <= m; r += 4) {
            const double *restrict a = A + r * n;
            ec_v4 s0 = {0.0, 0.0, 0.0, 0.0}, s1 = s0, s2 = s0, s3 = s0;
            for (long i = 0; i < n; i += 4) {
                const ec_v4 xv = EC_LD(x + i);
                s0 += EC_LD(a + i) * xv;
                s1 += EC_LD(a + n + i) * xv;
                s2 += EC_LD(a + 2 * n + i) * xv;
                s3 += EC_LD(a + 3 * n + i) * xv;
            }
            y[r] = EC_SUM(s0);
            y[r + 1] = EC_SUM(s1);
            y[r + 2] = EC_SUM(s2);
            y[r + 3] = EC_SUM(s3);
        }
        for (; r < m; ++r) {
            const double *restrict a = A + r * n;
            ec_v4 s0 = {0.0, 0.0, 0.0, 0.0};
            for (long i = 0; i < n; i += 4) s0 += EC_LD(a + i) * EC_LD(x + i);
            y[r] = EC_SUM(s0);
        }
    }

    /* u = P x for a symmetric P (n x n, row-major), summed row by row (axpy form),
       two rows per pass over u. */
    EC_CLONES static void ec_symv(int n, const double *restrict P, const double *restrict x,
                                  double *restrict u) {
        const ec_v4 zero = {0.0, 0.0, 0.0, 0.0};
        for (long i = 0; i < n; i += 4) EC_ST(u + i, zero);
        for (long j = 0; j + 2 <= n; j += 2) {
            const double x0 = x[j], x1 = x[j + 1];
            const double *restrict r0 = P + j * n;
            const double *restrict r1 = r0 + n;
            for (long i = 0; i < n; i += 4)
                EC_ST(u + i, EC_LD(u + i) + (x0 * EC_LD(r0 + i) + x1 * EC_LD(r1 + i)));
        }
    }

    /* P = P a - p p' - q q' (q may be NULL). Every product commutes, so a symmetric P
       stays exactly symmetric (with or without fused multiply-adds). */
    EC_CLONES static void ec_rank2(int n, double *restrict P, double a,
                                   const double *restrict p, const double *restrict q) {
        for (long i = 0; i < n; ++i) {
            double *restrict row = P + i * n;
            const double pi = p[i];
            if (q) {
                const double qi = q[i];
                for (long l = 0; l < n; l += 4)
                    EC_ST(row + l, EC_LD(row + l) * a - pi * EC_LD(p + l) - qi * EC_LD(q + l));
            } else {
                for (long l = 0; l < n; l += 4)
                    EC_ST(row + l, EC_LD(row + l) * a - pi * EC_LD(p + l));
            }
        }
    }
    """
    double ec_dot(int n, const double* a, const double* b) noexcept nogil
    void ec_gemv(int m, int n, const double* A, const double* x, double* y) noexcept nogil
    void ec_symv(int n, const double* P, const double* x, double* u) noexcept nogil
    void ec_rank2(int n, double* P, double a, const double* p, const double* q) noexcept nogil

import numpy as np

MIN_RIDGE = 1e-4
"""rho floor applied when lambda < 1 (keeps P bounded)."""


def ridge_weight(int n, double lam, double rho) -> float:
    """The pseudo-observation weight c = n * rho_eff used for ``n`` features."""
    if not rho >= 0.0:
        raise ValueError(f"regularization={rho!r} must be >= 0")
    rho_eff = rho if lam >= 1.0 else max(rho, MIN_RIDGE)
    return n * rho_eff


cdef int ewrls_width(int n) noexcept nogil:
    """Stored vector width: n rounded up to a multiple of 4. The padding entries of x, P,
    theta and the gains are 0 and stay 0; they spare the kernels their scalar tails."""
    return (n + 3) & ~3


cdef Py_ssize_t ewrls_block_size(int n, int n_h, int ring) noexcept nogil:
    cdef Py_ssize_t ld = ewrls_width(n)
    return ld * ld + n_h * ld + 3 * ring * ld + 3 * ring + 3 * ld + 2 * ring


cdef void ewrls_bind(Ewrls* m, int n, const int* horizons, int n_h, double lam, double ridge,
                     double delta, double label_clip, double* block) noexcept nogil:
    """Point ``m`` at ``block`` (ewrls_block_size doubles) and reset it."""
    cdef int ring = horizons[n_h - 1]
    cdef int ld = ewrls_width(n)
    m.n = n
    m.ld = ld
    m.n_h = n_h
    m.ring = ring
    m.lam = lam
    m.inv_lam = 1.0 / lam
    m.ridge = ridge
    m.delta = delta
    m.label_clip = label_clip
    m.horizons = horizons
    m.P = block
    block += ld * ld
    m.theta = block
    block += n_h * ld
    m.rx = block
    block += ring * ld
    m.rk = block
    block += ring * ld
    m.rkp = block
    block += ring * ld
    m.rden = block
    block += ring
    m.rg = block
    block += ring
    m.rclose = block
    block += ring
    m.u = block
    block += ld
    m.w = block
    block += ld
    m.ub = block
    block += ld
    m.dots = block
    ewrls_reset(m)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void ewrls_reset(Ewrls* m) noexcept nogil:
    cdef int n = m.n, ld = m.ld, i
    memset(m.P, 0, ewrls_block_size(n, m.n_h, m.ring) * sizeof(double))
    for i in range(n):  # the padding's diagonal stays 0, so the padding never moves
        m.P[i * ld + i] = m.delta
    m.steps = 0
    m.slot = 0
    m.jcyc = 0


cdef long ewrls_updates(const Ewrls* m, int hi) noexcept nogil:
    """Pairs learned so far by horizon ``hi`` (counted after a bar's predict_step)."""
    cdef long k = m.steps - m.horizons[hi]
    return k if k > 0 else 0


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void ewrls_learn(Ewrls* m, double close) noexcept nogil:
    """Every horizon h learns (x_{s-h}, C_s / C_{s-h} - 1) with the gains of step s - h."""
    cdef int n = m.n, ld = m.ld, hi, i, slot, h, jm
    cdef long s = m.steps, mm
    cdef double y, e, t
    cdef double* th
    cdef const double* xo
    cdef const double* k
    cdef const double* kp
    for hi in range(m.n_h):
        h = m.horizons[hi]
        mm = s - h
        if mm < 0:
            break
        slot = m.slot - h  # = mm mod ring (h <= ring)
        if slot < 0:
            slot += m.ring
        y = close / m.rclose[slot] - 1.0
        if y > m.label_clip:
            y = m.label_clip
        elif y < -m.label_clip:
            y = -m.label_clip
        th = m.theta + hi * ld
        xo = m.rx + slot * ld
        k = m.rk + slot * ld
        e = y - ec_dot(ld, th, xo)
        for i in range(ld):
            th[i] += k[i] * e
        if m.rg[slot] > 0.0:
            kp = m.rkp + slot * ld
            jm = m.jcyc - h  # = mm mod n
            while jm < 0:
                jm += n
            t = th[jm]
            for i in range(ld):
                th[i] -= kp[i] * t


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void ewrls_predict_step(Ewrls* m, const double* x, double close, double* preds,
                             double* confs) noexcept nogil:
    """Predict every horizon on ``x`` (with its lagged covariance), then step the base.

    ``x`` has ``ld`` entries, the padding beyond ``n`` zero.
    """
    cdef int n = m.n, ld = m.ld, n_h = m.n_h, ring = m.ring
    cdef int i, j, hi, h, slot, back
    cdef long s = m.steps
    cdef double* P = m.P
    cdef double* u = m.u
    cdef double* w = m.w
    cdef double* ub = m.ub
    cdef double* row
    cdef double q, xx, Q, kd, kpd, den, b, g, sg, c = m.ridge
    cdef double lam = m.lam, inv_lam = m.inv_lam

    ec_symv(ld, P, x, u)
    q = ec_dot(ld, x, u)
    xx = ec_dot(ld, x, x)
    if q < 0.0:
        q = 0.0

    # predictions and confidences; Q walks back from x'P_{s-1}x to x'P_{s-h}x
    ec_gemv(n_h, ld, m.theta, x, preds)
    if s >= 2 and m.horizons[n_h - 1] > 1:
        ec_gemv(ring, ld, m.rk, x, m.dots)           # k_m'x for every slot
        if c > 0.0:
            ec_gemv(ring, ld, m.rkp, x, m.dots + ring)   # (g_m w_m)'x
    Q = q
    back = 0
    for hi in range(n_h):
        h = m.horizons[hi]
        if s - h < 0:
            confs[hi] = 1.0 / (1.0 + sqrt(m.delta * xx))
            continue
        while back < h - 1:
            slot = m.slot - 1 - back  # the slot of step s - 1 - back
            if slot < 0:
                slot += ring
            kd = m.dots[slot]
            if m.rg[slot] > 0.0:
                kpd = m.dots[ring + slot]
                Q = lam * (Q + kpd * kpd / m.rg[slot])
            else:
                Q = lam * Q
            Q += m.rden[slot] * kd * kd
            back += 1
        confs[hi] = 1.0 / (1.0 + sqrt(Q))

    # base step with x: gains into the ring, P updated in place (one pass)
    slot = m.slot
    den = lam + q
    b = 1.0 / sqrt(den * lam)
    row = m.rk + slot * ld
    for i in range(ld):
        row[i] = u[i] / den
        ub[i] = u[i] * b
    row = m.rx + slot * ld
    for i in range(ld):
        row[i] = x[i]
    m.rden[slot] = den
    m.rclose[slot] = close
    j = m.jcyc
    g = 0.0
    if c > 0.0:
        row = P + j * ld  # column j of P' = P/lambda - ub ub' (P is symmetric: row j)
        for i in range(ld):
            w[i] = row[i] * inv_lam - ub[i] * ub[j]
        if w[j] > 0.0:
            g = c / (1.0 + c * w[j])
    m.rg[slot] = g
    row = m.rkp + slot * ld
    if g > 0.0:
        sg = sqrt(g)
        for i in range(ld):
            row[i] = g * w[i]
            w[i] = w[i] * sg
        ec_rank2(ld, P, inv_lam, ub, w)
    else:
        for i in range(ld):
            row[i] = 0.0
        ec_rank2(ld, P, inv_lam, ub, NULL)
    m.steps = s + 1
    m.slot = slot + 1 if slot + 1 < ring else 0
    m.jcyc = j + 1 if j + 1 < n else 0


def _check_horizons(horizons) -> tuple:
    hs = tuple(int(h) for h in horizons)
    if not hs:
        raise ValueError("horizons must not be empty")
    if any(h < 1 for h in hs) or any(b <= a for a, b in zip(hs, hs[1:])):
        raise ValueError(f"horizons={list(horizons)!r} must be positive and strictly ascending")
    return hs


cdef class MultiHorizonEWRLS:
    """EWRLS for several horizons over one feature stream (no features, no ensemble).

    ``step(x, close)`` consumes one bar: every horizon learns the return that ``close``
    completes, predicts on ``x``, then the shared covariance steps with ``x``.
    ``run(X, closes)`` does the same for a whole series without Python per bar.
    """

    def __init__(self, int n_features, horizons=(1, 5, 10), double lam=0.98,
                 double regularization=0.1, double initial_variance=10.0,
                 double label_clip=INFINITY):
        if n_features < 1:
            raise ValueError(f"n_features={n_features!r} must be >= 1")
        if not 0.0 < lam <= 1.0:
            raise ValueError(f"lam={lam!r} must be in (0, 1]")
        if not initial_variance > 0.0:
            raise ValueError(f"initial_variance={initial_variance!r} must be > 0")
        if not label_clip > 0.0:
            raise ValueError(f"label_clip={label_clip!r} must be > 0")
        hs = _check_horizons(horizons)
        c = ridge_weight(n_features, lam, regularization)
        self.n_features = n_features
        self.lam = lam
        self.regularization = regularization
        self.initial_variance = initial_variance
        self._horizons = np.asarray(hs, dtype=np.intc)
        block = np.zeros(ewrls_block_size(n_features, len(hs), hs[-1]))
        self._buffers = block
        cdef int[::1] hv = self._horizons
        cdef double[::1] bv = block
        ewrls_bind(&self.m, n_features, &hv[0], len(hs), lam, c, initial_variance,
                   label_clip, &bv[0])

    def reset(self):
        """Back to theta = 0, P = delta I."""
        ewrls_reset(&self.m)

    @property
    def horizons(self) -> tuple:
        return tuple(int(h) for h in self._horizons)

    @property
    def ridge(self) -> float:
        """The pseudo-observation weight c = n * rho_eff."""
        return self.m.ridge

    @property
    def steps(self) -> int:
        """Feature vectors consumed by the base recursion."""
        return self.m.steps

    @property
    def count(self) -> int:
        """Feature vectors consumed (= steps)."""
        return self.m.steps

    @property
    def initialized(self) -> bool:
        """True once every horizon has learned at least one pair."""
        return self.m.steps > self.m.horizons[self.m.n_h - 1]

    def updates(self) -> tuple:
        """Pairs learned so far, per horizon."""
        cdef int hi
        out = []
        for hi in range(self.m.n_h):
            out.append(ewrls_updates(&self.m, hi))
        return tuple(out)

    @property
    def theta(self):
        """Coefficients, shape (horizons, n) (a copy)."""
        cdef int ld = self.m.ld
        full = np.asarray(<double[:self.m.n_h * ld]> self.m.theta).reshape(self.m.n_h, ld)
        return full[:, :self.m.n].copy()

    @property
    def P(self):
        """The base covariance after ``steps`` steps, shape (n, n) (a copy).

        Horizon h's own covariance lags it by h steps.
        """
        cdef int n = self.m.n, ld = self.m.ld
        return np.asarray(<double[:ld * ld]> self.m.P).reshape(ld, ld)[:n, :n].copy()

    def step(self, x, double close):
        """One bar: returns (predictions[H], confidences[H])."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.m.n,):
            raise ValueError(f"x has shape {x.shape}, expected ({self.m.n},)")
        if not (np.isfinite(x).all() and np.isfinite(close) and close > 0):
            raise ValueError("x must be finite and close finite and > 0")
        padded = np.zeros(self.m.ld)  # the stored width; the padding stays 0
        padded[:self.m.n] = x
        cdef double[::1] xv = padded
        preds = np.empty(self.m.n_h)
        confs = np.empty(self.m.n_h)
        cdef double[::1] pv = preds
        cdef double[::1] cv = confs
        ewrls_learn(&self.m, close)
        ewrls_predict_step(&self.m, &xv[0], close, &pv[0], &cv[0])
        return preds, confs

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def run(self, X, closes):
        """Consume a series: X (N, n), closes (N,) -> (predictions (N, H), confidences (N, H))."""
        X = np.asarray(X, dtype=np.float64)
        closes = np.asarray(closes, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.m.n or closes.shape != (X.shape[0],):
            raise ValueError(f"X must be (N, {self.m.n}) and closes (N,); got "
                             f"{X.shape} and {closes.shape}")
        padded = np.zeros((X.shape[0], self.m.ld))
        padded[:, :self.m.n] = X
        cdef const double[:, ::1] xv = padded
        cdef const double[::1] cv = np.ascontiguousarray(closes)
        cdef Py_ssize_t nrow = xv.shape[0], t
        if not (np.isfinite(X).all() and np.isfinite(closes).all() and (np.asarray(closes) > 0).all()):
            raise ValueError("X must be finite and closes finite and > 0")
        preds = np.empty((nrow, self.m.n_h))
        confs = np.empty((nrow, self.m.n_h))
        cdef double[:, ::1] pv = preds
        cdef double[:, ::1] fv = confs
        with nogil:
            for t in range(nrow):
                ewrls_learn(&self.m, cv[t])
                ewrls_predict_step(&self.m, &xv[t, 0], cv[t], &pv[t, 0], &fv[t, 0])
        return preds, confs

"""The cheap step after the EWRLS: calibration, combination and probability, per symbol.

Per ready bar (a bar on which the EWRLS took a step) of one symbol, given the horizons'
raw forecasts r_h and confidences c_h (``ewrls.pyx``):

1. calibration (``calibration``; off: r'_h = r_h). Each horizon h keeps an exponentially
   weighted regression through the origin of the return a trade on its forecast would have
   made on the forecast itself. The forecast made on bar m is decided at m's close, so a
   market order fills at the next bar's open; the return it stands for is
   y = O[m+1+h] / O[m+1] - 1 (opens of the symbol's own bars, clipped to +-label_clip),
   known at bar m+1+h: no look-ahead. A pair enters only if both fills are real prices and
   the position stays within the day: bars m+1 and m+1+h traded (volume > 0; a bar the
   session grid filled carries the last close, and an order there would rest until the
   next trade) and bar m is in the session of bar m+1+h. With weights lambda_c^age
   (``calibration_lambda``):

       beta = S_fy / S_ff,          S_ff = sum w f^2,  S_fy = sum w f y,
       se^2 = h * n/(n-1) * sum w^2 f^2 (y - beta f)^2 / S_ff^2,
       n = (sum w)^2 / sum w^2      (the effective number of pairs),

   a heteroskedasticity-robust (White) variance with the small-sample factor n/(n-1),
   times h because the h-bar returns of neighbouring bars overlap (their errors are
   correlated over h bars; h is the Hansen-Hodrick bound for persistent forecasts, so
   the error is on the cautious side). The slope used is

       s_h = max(0, beta - z se)    (z = ``calibration_z``),  and  r'_h = s_h r_h.

   So a horizon whose forecasts have not shown, on the trades they stand for, a slope
   significantly above 0 contributes nothing, and one that has is scaled to the size of
   the returns it really predicted (raw EWRLS forecasts are several times too large: many
   noisy coefficients). Before a horizon has two pairs its slope is 0. The regression
   uses traded opens, not the closes the EWRLS learns from: with bid-ask bounce a close
   at the bid predicts the next close (the bounce back), and a filled bar's open is such
   a close; no order earns that.
2. combination: r_hat = sum w_h c_h r'_h / sum w_h c_h, confidence = sum w_h c_h / sum w_h;
3. probability: p = 0.5 + 0.4 tanh(k r_hat), then the Bollinger amplification with the
   band over the last ``bb_period`` closes (every present bar's close, ready or not):
   pos = (C - lower)/(upper - lower) clamped to [0, 1] (0.5 for a zero-width band); if
   p > 0.5 and pos < prox, p += amp (1 - pos/prox); if p < 0.5 and pos > 1 - prox,
   p -= amp (1 - (1 - pos)/prox); finally p is clamped to [0.05, 0.95];
4. warm-up: until the longest horizon has learned ``warmup_samples`` pairs the outputs are
   neutral (p = 0.5, r_hat = 0, confidence 0); the per-horizon values are still reported.

The Ensemble runs this step inside its compiled loop; :class:`Combiner` (and
:func:`recombine`) runs the very same functions over stored per-horizon forecasts, so a
backtest or the optimizer can compute the EWRLS once per (lambda, regularization, ...)
and try any calibration, weights, probability scale or Bollinger setting for the cost of
this step, with results identical to the last bit to a full run with those knobs.
"""

cimport cython
cimport numpy as cnp
from libc.math cimport NAN, isnan, sqrt, tanh
from libc.stdlib cimport calloc, free
from libc.string cimport memset

import numpy as np

from engine_core.rolling cimport roll_init, roll_mean, roll_push, roll_var

from engine_core.params import EnsembleParams
from engine_core.results import BatchResult
from engine_core.timeinfo import checked_minutes

cnp.import_array()

cdef double DEGENERATE = 1e-12
cdef double P_MIN = 0.05
cdef double P_MAX = 0.95

# calibration sums of one horizon (N_ACC in combine.pxd)
cdef enum:
    ACC_SFF = 0     # sum w f^2
    ACC_SFY = 1     # sum w f y
    ACC_SW = 2      # sum w
    ACC_SW2 = 3     # sum w^2
    ACC_QA = 4      # sum w^2 f^2 y^2
    ACC_QB = 5      # sum w^2 f^3 y
    ACC_QC = 6      # sum w^2 f^4


cdef inline double _amplify(double p, double c, const Rolling* band, double bb_std,
                            double prox, double amp) noexcept nogil:
    cdef double mean, sd, lower, upper, width, pos
    if band.n < band.w:
        return p
    mean = roll_mean(band)
    sd = sqrt(roll_var(band))
    lower = mean - bb_std * sd
    upper = mean + bb_std * sd
    width = upper - lower
    if width <= DEGENERATE * c:
        return p
    pos = (c - lower) / width
    if pos < 0.0:
        pos = 0.0
    elif pos > 1.0:
        pos = 1.0
    if p > 0.5 and pos < prox:
        p += amp * (1.0 - pos / prox)
    elif p < 0.5 and pos > 1.0 - prox:
        p -= amp * (1.0 - (1.0 - pos) / prox)
    return p


cdef inline void _calib_learn(double* acc, double f, double y, double lam) noexcept nogil:
    cdef double lam2 = lam * lam, f2 = f * f
    acc[ACC_SFF] = lam * acc[ACC_SFF] + f2
    acc[ACC_SFY] = lam * acc[ACC_SFY] + f * y
    acc[ACC_SW] = lam * acc[ACC_SW] + 1.0
    acc[ACC_SW2] = lam2 * acc[ACC_SW2] + 1.0
    acc[ACC_QA] = lam2 * acc[ACC_QA] + f2 * y * y
    acc[ACC_QB] = lam2 * acc[ACC_QB] + f2 * f * y
    acc[ACC_QC] = lam2 * acc[ACC_QC] + f2 * f2


cdef inline double _calib_slope(const double* acc, int h, double z) noexcept nogil:
    """max(0, beta - z se) of one horizon's sums (0 before two pairs or without a forecast)."""
    cdef double sff = acc[ACC_SFF], sw2 = acc[ACC_SW2], n_eff, beta, e2, var, s
    if not sff > 0.0 or not sw2 > 0.0:
        return 0.0
    n_eff = acc[ACC_SW] * acc[ACC_SW] / sw2
    if not n_eff > 1.0 + 1e-9:
        return 0.0
    beta = acc[ACC_SFY] / sff
    if not beta > 0.0:
        return 0.0
    e2 = acc[ACC_QA] - 2.0 * beta * acc[ACC_QB] + beta * beta * acc[ACC_QC]
    if e2 < 0.0:
        e2 = 0.0
    var = e2 / (sff * sff) * (n_eff / (n_eff - 1.0)) * h
    s = beta - z * sqrt(var)
    return s if s > 0.0 else 0.0


cdef Py_ssize_t head_block_size(const HeadConf* hc) noexcept nogil:
    return hc.bb_period + hc.ring * hc.n_h + 2 * hc.ring + hc.n_h * N_ACC + hc.n_h


cdef void head_bind(Head* hd, const HeadConf* hc, double* block) noexcept nogil:
    """Point ``hd`` at ``block`` (head_block_size doubles) and reset it."""
    hd.band_buf = block
    block += hc.bb_period
    hd.rf = block
    block += hc.ring * hc.n_h
    hd.ropen = block
    block += hc.ring
    hd.rday = block
    block += hc.ring
    hd.acc = block
    block += hc.n_h * N_ACC
    hd.slope = block
    head_reset(hd, hc)


cdef void head_reset(Head* hd, const HeadConf* hc) noexcept nogil:
    cdef int hi
    memset(hd.band_buf, 0, head_block_size(hc) * sizeof(double))
    roll_init(&hd.band, hc.bb_period)
    hd.steps = 0
    for hi in range(hc.n_h):
        hd.slope[hi] = 0.0 if hc.calibrate else 1.0


cdef void head_push_close(Head* hd, double close) noexcept nogil:
    """Every present bar's close enters the Bollinger band (ready or not)."""
    roll_push(&hd.band, hd.band_buf, close)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef bint head_step(Head* hd, const HeadConf* hc, const double* ph, const double* ch,
                    double fill, double close, long day, double* cal, double* out) noexcept nogil:
    """One ready bar: learn the calibration pairs this bar completes, then calibrate,
    combine and map to a probability. ``fill`` is the bar's open if it traded (volume > 0),
    else NaN. ``cal`` (n_h) gets r'_h; ``out`` gets (prob, r_hat, confidence). Returns
    whether the model is warm (else ``out`` is neutral)."""
    cdef int H = hc.n_h, R = hc.ring, hi, h
    cdef long s = hd.steps, m, updates
    cdef int slot = <int> (s % R), sm, sm1
    cdef double y, num = 0.0, den = 0.0, wc, r, p
    cdef double* acc
    if hc.calibrate:
        for hi in range(H):
            h = hc.horizons[hi]
            acc = hd.acc + hi * N_ACC
            m = s - h - 1
            if m >= 0:
                sm = <int> (m % R)
                sm1 = <int> ((m + 1) % R)
                y = fill / hd.ropen[sm1] - 1.0  # NaN unless both bars traded
                if hd.rday[sm] == <double> day and not isnan(y):
                    if y > hc.label_clip:
                        y = hc.label_clip
                    elif y < -hc.label_clip:
                        y = -hc.label_clip
                    _calib_learn(acc, hd.rf[sm * H + hi], y, hc.lam_c)
                    hd.slope[hi] = _calib_slope(acc, h, hc.z)
    for hi in range(H):
        hd.rf[slot * H + hi] = ph[hi]
        cal[hi] = hd.slope[hi] * ph[hi] if hc.calibrate else ph[hi]
    hd.ropen[slot] = fill
    hd.rday[slot] = <double> day
    hd.steps = s + 1
    for hi in range(H):
        wc = hc.weights[hi] * ch[hi]
        num += wc * cal[hi]
        den += wc
    updates = hd.steps - hc.horizons[H - 1]
    if updates < 0:
        updates = 0
    if updates < hc.warmup:
        out[0] = 0.5
        out[1] = 0.0
        out[2] = 0.0
        return False
    r = num / den if den > 0.0 else 0.0
    p = 0.5 + 0.4 * tanh(hc.k_prob * r)
    p = _amplify(p, close, &hd.band, hc.bb_std, hc.bb_prox, hc.bb_amp)
    if p < P_MIN:
        p = P_MIN
    elif p > P_MAX:
        p = P_MAX
    out[0] = p
    out[1] = r
    out[2] = den / hc.weight_sum
    return True


def _as_params(params) -> EnsembleParams:
    if params is None:
        return EnsembleParams()
    if isinstance(params, EnsembleParams):
        return params
    from collections.abc import Mapping
    if isinstance(params, Mapping):
        return EnsembleParams.from_mapping(params)
    raise TypeError(f"params must be EnsembleParams or a mapping, not {type(params).__name__}")


cdef class HeadParams:
    """The constants of the step after the EWRLS, from an EnsembleParams (or a mapping)."""

    def __init__(self, params=None):
        p = _as_params(params)
        self.params = p
        self._horizons = np.asarray(p.horizons, dtype=np.intc)
        self._weights = np.asarray(p.horizon_weights, dtype=np.float64)
        cdef int[::1] hv = self._horizons
        cdef double[::1] wv = self._weights
        self.conf.n_h = len(p.horizons)
        self.conf.ring = p.horizons[-1] + 1
        self.conf.horizons = &hv[0]
        self.conf.weights = &wv[0]
        self.conf.weight_sum = sum(p.horizon_weights)
        self.conf.k_prob = p.probability_scale
        self.conf.bb_period = p.bb_period
        self.conf.bb_std = p.bb_std
        self.conf.bb_prox = p.bb_proximity
        self.conf.bb_amp = p.bb_amplification
        self.conf.warmup = p.warmup_samples
        self.conf.calibrate = p.calibration
        self.conf.lam_c = p.calibration_lambda
        self.conf.z = p.calibration_z
        self.conf.label_clip = p.label_clip


cdef inline void* _ptr(object a):
    return cnp.PyArray_DATA(<cnp.ndarray> a)


cdef class Combiner:
    """The step after the EWRLS for ``n_symbols`` symbols, over stored per-horizon outputs.

    ``Combiner(n_symbols, params=None)``; :meth:`run` consumes blocks of minutes and keeps
    its state, like ``Ensemble.run``. The Ensemble owns one and runs its functions per bar.
    """

    def __cinit__(self, *args, **kwargs):
        self.heads = NULL

    def __init__(self, int n_symbols, params=None):
        if self.heads != NULL:
            raise RuntimeError("a Combiner is initialized once")
        if n_symbols < 1:
            raise ValueError(f"n_symbols={n_symbols!r} must be >= 1")
        self.hp = HeadParams(params)
        self.n_symbols = n_symbols
        self.n_horizons = self.hp.conf.n_h
        self.heads = <Head*> calloc(n_symbols, sizeof(Head))
        if self.heads == NULL:
            raise MemoryError("cannot allocate the combiner's state")
        self._block = np.zeros((n_symbols, head_block_size(&self.hp.conf)))
        self._scratch = np.zeros(3 * self.n_horizons + 3)
        cdef double[:, ::1] blk = self._block
        cdef int i
        for i in range(n_symbols):
            head_bind(&self.heads[i], &self.hp.conf, &blk[i, 0])
        self._last_t = None

    def __dealloc__(self):
        free(self.heads)

    @property
    def params(self):
        """The EnsembleParams in use."""
        return self.hp.params

    def reset(self):
        """Forget everything: back to the state of a new Combiner."""
        cdef int i
        for i in range(self.n_symbols):
            head_reset(&self.heads[i], &self.hp.conf)
        self._last_t = None

    @property
    def slopes(self):
        """(H, S) the calibration slope each horizon uses now (1 when calibration is off)."""
        return np.array([[self.heads[i].slope[hi] for i in range(self.n_symbols)]
                         for hi in range(self.n_horizons)])

    def run(self, preds, confs, ready, open, close, volume, t_ms, info=None) -> BatchResult:
        """Calibrate, combine and map stored per-horizon outputs of S symbols x N minutes.

        ``preds``/``confs`` (H, S, N) and ``ready`` (S, N) are an Ensemble run's
        (``BatchResult.preds``, ``.confs``, ``.ready``) for a parameter set with the same
        :meth:`~engine_core.EnsembleParams.prediction_key`; ``open``/``close``/``volume``
        (S, N) the bars it ran on (NaN where a symbol had no bar); ``t_ms`` (N,) their minutes,
        strictly increasing and after the last minute consumed. Returns a BatchResult with
        the same preds, confs and ready and this combiner's prob, rhat, conf, cal_preds,
        slopes and warm.
        """
        cdef int S = self.n_symbols, H = self.n_horizons
        pr = np.ascontiguousarray(preds, dtype=np.float64)
        cf = np.ascontiguousarray(confs, dtype=np.float64)
        op = np.ascontiguousarray(open, dtype=np.float64)
        cl = np.ascontiguousarray(close, dtype=np.float64)
        vo = np.ascontiguousarray(volume, dtype=np.float64)
        rd = np.ascontiguousarray(ready, dtype=np.bool_)
        if cl.ndim != 2 or cl.shape[0] != S:
            raise ValueError(f"close has shape {cl.shape}, expected ({S}, N)")
        N = cl.shape[1]
        for name, a, shape in (("preds", pr, (H, S, N)), ("confs", cf, (H, S, N)),
                               ("open", op, (S, N)), ("volume", vo, (S, N)),
                               ("ready", rd, (S, N))):
            if a.shape != shape:
                raise ValueError(f"{name} has shape {a.shape}, expected {shape}")
        bad = rd & ~(np.isfinite(cl) & np.isfinite(op) & np.isfinite(vo))
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(f"a ready bar without open, close and volume at symbol {i}, "
                             f"minute index {j}")
        t, info = checked_minutes(t_ms, N, self._last_t, info)
        day = np.ascontiguousarray(info.day, dtype=np.int_)
        res = BatchResult(np.full((S, N), 0.5), np.zeros((S, N)), np.zeros((S, N)), pr, cf,
                          rd, np.zeros((S, N), dtype=np.bool_), np.zeros((H, S, N)),
                          np.zeros((H, S, N)))
        if N == 0:
            return res
        self._run(pr, cf, rd, op, cl, vo, day, res)
        self._last_t = int(t[-1])
        return res

    cdef void _run(self, pr, cf, rd, op, cl, vo, day, res):
        cdef Py_ssize_t S = self.n_symbols, N = cl.shape[1], SN = S * N, i, j, k
        cdef int H = self.n_horizons, hi
        cdef const double* P = <const double*> _ptr(pr)
        cdef const double* C = <const double*> _ptr(cf)
        cdef const double* O = <const double*> _ptr(op)
        cdef const double* CL = <const double*> _ptr(cl)
        cdef const double* V = <const double*> _ptr(vo)
        cdef const unsigned char* RD = <const unsigned char*> _ptr(rd)
        cdef const long* D = <const long*> _ptr(day)
        cdef double* prob = <double*> _ptr(res.prob)
        cdef double* rhat = <double*> _ptr(res.rhat)
        cdef double* conf = <double*> _ptr(res.conf)
        cdef unsigned char* warm = <unsigned char*> _ptr(res.warm)
        cdef double* cal = <double*> _ptr(res.cal_preds)
        cdef double* slopes = <double*> _ptr(res.slopes)
        cdef double* scratch = <double*> _ptr(self._scratch)
        cdef double* ph = scratch
        cdef double* ch = scratch + H
        cdef double* tmp = scratch + 2 * H
        cdef double* out = scratch + 3 * H
        cdef const HeadConf* hc = &self.hp.conf
        cdef Head* hd
        with nogil:
            for i in range(S):
                hd = &self.heads[i]
                for j in range(N):
                    k = i * N + j
                    if isnan(CL[k]):
                        continue
                    head_push_close(hd, CL[k])
                    if not RD[k]:
                        continue
                    for hi in range(H):
                        ph[hi] = P[hi * SN + k]
                        ch[hi] = C[hi * SN + k]
                    if head_step(hd, hc, ph, ch, O[k] if V[k] > 0.0 else NAN, CL[k], D[j],
                                 tmp, out):
                        warm[k] = 1
                        prob[k] = out[0]
                        rhat[k] = out[1]
                        conf[k] = out[2]
                    for hi in range(H):
                        cal[hi * SN + k] = tmp[hi]
                        slopes[hi * SN + k] = hd.slope[hi]


def recombine(params, result, open, close, volume, t_ms, info=None) -> BatchResult:
    """A fresh :class:`Combiner` over a whole Ensemble run: its ``preds``, ``confs`` and
    ``ready`` recombined under ``params`` (same ``prediction_key`` as the run's).

    ``recombine(q, run_batch(p, o, h, l, c, v, t), o, c, v, t)`` equals ``run_batch(q, o, h,
    l, c, v, t)`` to the last bit whenever ``q.prediction_key() == p.prediction_key()``.
    """
    p = _as_params(params)
    preds = np.asarray(result.preds)
    if preds.ndim != 3 or preds.shape[0] != len(p.horizons):
        raise ValueError(f"preds has shape {preds.shape}: {len(p.horizons)} horizons expected")
    comb = Combiner(preds.shape[1], p)
    return comb.run(preds, result.confs, result.ready, open, close, volume, t_ms, info)

"""The signal of many symbols: features -> multi-horizon EWRLS -> probability.

Per symbol and bar, in order:

1. the bar is validated (``engine_core.inputs``: an all-NaN bar is "absent"; anything
   else that is not a sane bar raises before any state changes);
2. the features consume it (``features.pyx``) and the Bollinger window of the
   amplification takes its close; until the features are ready the outputs are neutral;
3. the features are normalized online; every horizon learns the forward return this
   close completes; each horizon predicts r_h = theta_h'x with confidence
   c_h = 1/(1 + sqrt(x'P_h x)); the shared covariance steps (``ewrls.pyx``);
4. the step after the EWRLS (``combine.pyx``): each horizon's forecast is calibrated by
   the skill it has shown on the trades it stands for (``calibration``), the horizons are
   combined into r_hat and a confidence, r_hat is mapped to p = 0.5 + 0.4 tanh(k r_hat)
   with the Bollinger amplification, clamped to [0.05, 0.95]; until the longest horizon
   has learned ``warmup_samples`` pairs the outputs are neutral (p = 0.5, r_hat = 0,
   confidence 0) while the per-horizon values are reported.

Horizons count the symbol's own bars (absent bars do not count), so a label formed near
the close spans the overnight gap into the next session: every horizon then sees the
same feature sequence, which is what lets them share one covariance recursion.

``Ensemble.update`` (one minute of all symbols, for the live engine) and
``Ensemble.run`` / ``run_batch`` (symbols x minutes in one call, no Python per bar) run the
very same compiled loop (``_run_block``), so their results are identical to the last bit,
and a batch warm-up followed by per-bar updates equals one uninterrupted run. Step 4 is
the same code as :func:`engine_core.combine.recombine`, which redoes it alone over a
run's stored per-horizon outputs.
"""

cimport cython
cimport numpy as cnp
from libc.math cimport NAN, isinf, isnan
from libc.stdlib cimport calloc, free

import numpy as np

from engine_core.combine cimport Combiner, Head, HeadConf, head_push_close, head_step
from engine_core.ewrls cimport (
    ewrls_bind, ewrls_block_size, ewrls_learn, ewrls_predict_step, ewrls_reset, ewrls_updates,
    ewrls_width,
)
from engine_core.features cimport (
    N_FEATURES, READY_BARS, feat_normalize, feat_reset, feat_update,
)

from engine_core.combine import _as_params
from engine_core.ewrls import ridge_weight
from engine_core.inputs import (
    FIELDS, MAX_PRICE, MIN_PRICE, BadBarError, as_price_arrays, check_bars,
)
from engine_core.results import BatchResult
from engine_core.timeinfo import checked_minutes, minute_fields

cnp.import_array()

cdef double MIN_PRICE_C = MIN_PRICE
cdef double MAX_PRICE_C = MAX_PRICE


# Block (declared in ensemble.pxd): S symbols x N minutes of inputs and outputs as raw
# pointers. Element (i, t) of an (S, N) array is at i * ss + t * ts; per-horizon arrays
# are (H, S, N) with the horizon stride S * N. A batch is C-contiguous (ss = N, ts = 1);
# a per-bar call has N = 1, ss = 1, ts = 0.

cdef Py_ssize_t _first_bad(const Block* b) noexcept nogil:
    """Flat index (minute-major) of the first bar breaking the rule of inputs.py, else -1."""
    cdef Py_ssize_t i, t, k
    cdef double oo, hh, ll, cc, vv
    for t in range(b.N):
        for i in range(b.S):
            k = i * b.ss + t * b.ts
            oo = b.o[k]
            hh = b.h[k]
            ll = b.l[k]
            cc = b.c[k]
            vv = b.v[k]
            if isnan(oo) and isnan(hh) and isnan(ll) and isnan(cc) and isnan(vv):
                continue
            if not (MIN_PRICE_C <= oo <= MAX_PRICE_C and MIN_PRICE_C <= hh <= MAX_PRICE_C
                    and MIN_PRICE_C <= ll <= MAX_PRICE_C and MIN_PRICE_C <= cc <= MAX_PRICE_C
                    and vv >= 0.0 and not isinf(vv) and hh >= ll):
                return t * b.S + i
    return -1


cdef inline void* _ptr(object a):
    return cnp.PyArray_DATA(<cnp.ndarray> a)


cdef void _bind_inputs(Block* b, list arrays):
    b.o = <const double*> _ptr(arrays[0])
    b.h = <const double*> _ptr(arrays[1])
    b.l = <const double*> _ptr(arrays[2])
    b.c = <const double*> _ptr(arrays[3])
    b.v = <const double*> _ptr(arrays[4])


cdef void _bind_outputs(Block* b, prob, rhat, conf, preds, confs, ready, warm, cpreds, slopes):
    b.prob = <double*> _ptr(prob)
    b.rhat = <double*> _ptr(rhat)
    b.conf = <double*> _ptr(conf)
    b.preds = <double*> _ptr(preds)
    b.confs = <double*> _ptr(confs)
    b.ready = <unsigned char*> _ptr(ready)
    b.warm = <unsigned char*> _ptr(warm)
    b.cpreds = <double*> _ptr(cpreds)
    b.slopes = <double*> _ptr(slopes)


cdef class Ensemble:
    """Signal state of ``n_symbols`` symbols (fixed order), fed one minute at a time
    (``update``) or a block of minutes at once (``run``).

    ``Ensemble(n_symbols, params=None, symbols=None)``: ``params`` is an EnsembleParams
    (or an ``oes_config``-style mapping); ``symbols`` (optional names) only label errors.
    The compiled loop runs without the GIL, so separate Ensembles can run in parallel
    threads; one Ensemble must not be fed from two threads at once.
    """

    def __cinit__(self, *args, **kwargs):
        self.fs = NULL
        self.models = NULL

    def __init__(self, int n_symbols, params=None, symbols=None):
        if self.fs != NULL:
            raise RuntimeError("an Ensemble is initialized once")
        if n_symbols < 1:
            raise ValueError(f"n_symbols={n_symbols!r} must be >= 1")
        p = _as_params(params)
        if symbols is not None:
            symbols = tuple(str(s) for s in symbols)
            if len(symbols) != n_symbols:
                raise ValueError(f"{len(symbols)} symbol names for n_symbols={n_symbols}")
        self.n_symbols = n_symbols
        self.n_horizons = len(p.horizons)
        self.params = p
        self._symbols = symbols
        self.alpha_min = 2.0 / (p.norm_window + 1.0)
        self.z_clip = p.z_clip
        self.warmup = p.warmup_samples
        self._horizons = np.asarray(p.horizons, dtype=np.intc)
        self.comb = Combiner(n_symbols, p)
        self.fs = <FeatureState*> calloc(n_symbols, sizeof(FeatureState))
        self.models = <Ewrls*> calloc(n_symbols, sizeof(Ewrls))
        if self.fs == NULL or self.models == NULL:
            raise MemoryError("cannot allocate the ensemble's state")
        cdef int H = self.n_horizons
        cdef Py_ssize_t block = ewrls_block_size(N_FEATURES, H, p.horizons[-1])
        self._model_block = np.zeros((n_symbols, block))
        # raw features, then z padded to the EWRLS width (padding stays 0), then per
        # horizon: predictions, confidences, calibrated predictions; then (p, r_hat, conf)
        self._scratch = np.zeros(N_FEATURES + ewrls_width(N_FEATURES) + 3 * H + 3)
        self.raw = <double*> cnp.PyArray_DATA(self._scratch)
        self._out = {
            "prob": np.full(n_symbols, 0.5),
            "rhat": np.zeros(n_symbols),
            "conf": np.zeros(n_symbols),
            "preds": np.zeros((H, n_symbols)),
            "confs": np.zeros((H, n_symbols)),
            "ready": np.zeros(n_symbols, dtype=np.bool_),
            "warm": np.zeros(n_symbols, dtype=np.bool_),
            "cal_preds": np.zeros((H, n_symbols)),
            "slopes": np.zeros((H, n_symbols)),
        }
        out = self._out
        self._bar.S = n_symbols
        self._bar.N = 1
        self._bar.ss = 1
        self._bar.ts = 0
        _bind_outputs(&self._bar, out["prob"], out["rhat"], out["conf"], out["preds"],
                      out["confs"], out["ready"], out["warm"], out["cal_preds"], out["slopes"])
        cdef double ridge = ridge_weight(N_FEATURES, p.ewrls_lambda, p.regularization)
        cdef int[::1] hv = self._horizons
        cdef double[:, ::1] mb = self._model_block
        cdef int i
        for i in range(n_symbols):
            ewrls_bind(&self.models[i], N_FEATURES, &hv[0], H, p.ewrls_lambda, ridge,
                       p.initial_variance, p.label_clip, &mb[i, 0])
        self.reset()

    def __dealloc__(self):
        free(self.fs)
        free(self.models)

    def reset(self):
        """Forget everything: back to the state of a new Ensemble."""
        cdef int i
        for i in range(self.n_symbols):
            feat_reset(&self.fs[i])
            ewrls_reset(&self.models[i])
        self.comb.reset()
        self._last_t = None
        self._count = 0
        out = self._out
        out["prob"][:] = 0.5
        for key in ("rhat", "conf", "preds", "confs", "ready", "warm", "cal_preds", "slopes"):
            out[key][...] = 0

    # ------------------------------------------------------------------ state views
    @property
    def symbols(self):
        return self._symbols

    @property
    def count(self) -> int:
        """Minutes consumed (per-bar calls plus batch minutes)."""
        return self._count

    @property
    def initialized(self) -> bool:
        """True once every symbol's model is warm (its probability is live)."""
        return bool(self.warm.all())

    @property
    def last_t(self):
        """Bar start (Unix ms) of the last minute consumed, or None."""
        return self._last_t

    @property
    def bars_seen(self):
        """(S,) bars consumed per symbol."""
        return np.array([self.fs[i].count for i in range(self.n_symbols)], dtype=np.int64)

    @property
    def ready(self):
        """(S,) bool: features ready."""
        return np.array([self.fs[i].count >= READY_BARS for i in range(self.n_symbols)])

    @property
    def warm(self):
        """(S,) bool: the longest horizon has learned warmup_samples pairs."""
        cdef int last = self.n_horizons - 1
        return np.array([ewrls_updates(&self.models[i], last) >= self.warmup
                         for i in range(self.n_symbols)])

    @property
    def horizon_predictions(self):
        """(H, S) each horizon's prediction at the last per-bar update (internal array)."""
        return self._out["preds"]

    @property
    def horizon_confidences(self):
        """(H, S) each horizon's confidence at the last per-bar update (internal array)."""
        return self._out["confs"]

    @property
    def calibrated_predictions(self):
        """(H, S) each horizon's calibrated prediction at the last per-bar update (internal array)."""
        return self._out["cal_preds"]

    @property
    def calibration_slopes(self):
        """(H, S) each horizon's calibration slope in use now (1 when calibration is off)."""
        return self.comb.slopes

    def theta(self, int symbol):
        """(H, F) coefficients of one symbol (a copy)."""
        if not 0 <= symbol < self.n_symbols:
            raise IndexError(f"symbol {symbol} out of range 0..{self.n_symbols - 1}")
        cdef Ewrls* m = &self.models[symbol]
        full = np.asarray(<double[:m.n_h * m.ld]> m.theta).reshape(m.n_h, m.ld)
        return full[:, :m.n].copy()

    # ------------------------------------------------------------------ the loop
    cdef void _run_block(self, const Block* b) noexcept nogil:
        """The one loop behind every entry point: symbol-major, minute by minute."""
        cdef Py_ssize_t S = b.S, N = b.N, SN = b.S * b.N, i, t, k
        cdef int H = self.n_horizons, hi
        cdef double* raw = self.raw
        cdef double* z = raw + N_FEATURES
        cdef double* ph = z + ewrls_width(N_FEATURES)
        cdef double* ch = ph + H
        cdef double* cal = ch + H
        cdef double* out = cal + H
        cdef const HeadConf* hc = &self.comb.hp.conf
        cdef FeatureState* fsi
        cdef Ewrls* mi
        cdef Head* hd
        cdef double cc
        cdef double alpha_min = self.alpha_min, z_clip = self.z_clip
        for i in range(S):
            fsi = &self.fs[i]
            mi = &self.models[i]
            hd = &self.comb.heads[i]
            for t in range(N):
                k = i * b.ss + t * b.ts
                cc = b.c[k]
                b.prob[k] = 0.5
                b.rhat[k] = 0.0
                b.conf[k] = 0.0
                b.ready[k] = 0
                b.warm[k] = 0
                for hi in range(H):
                    b.preds[hi * SN + k] = 0.0
                    b.confs[hi * SN + k] = 0.0
                    b.cpreds[hi * SN + k] = 0.0
                    b.slopes[hi * SN + k] = 0.0
                if isnan(cc):
                    continue  # absent bar: state untouched
                if not feat_update(fsi, b.o[k], b.h[k], b.l[k], cc, b.v[k],
                                   b.mod[t], b.dow[t], b.day[t], raw):
                    head_push_close(hd, cc)
                    continue
                head_push_close(hd, cc)
                feat_normalize(fsi, raw, z, alpha_min, z_clip)
                ewrls_learn(mi, cc)
                ewrls_predict_step(mi, z, cc, ph, ch)
                b.ready[k] = 1
                if head_step(hd, hc, ph, ch, b.o[k] if b.v[k] > 0.0 else NAN, cc, b.day[t],
                             cal, out):
                    b.warm[k] = 1
                    b.prob[k] = out[0]
                    b.rhat[k] = out[1]
                    b.conf[k] = out[2]
                for hi in range(H):
                    b.preds[hi * SN + k] = ph[hi]
                    b.confs[hi * SN + k] = ch[hi]
                    b.cpreds[hi * SN + k] = cal[hi]
                    b.slopes[hi * SN + k] = hd.slope[hi]

    cdef void _check_and_run(self, Block* b, list arrays, object t_ms):
        """Scan for bad bars (in C); raise with check_bars' message, else run the block."""
        cdef Py_ssize_t bad
        with nogil:
            bad = _first_bad(b)
        if bad >= 0:
            check_bars(*arrays, t_ms=t_ms, symbols=self._symbols)
            raise BadBarError(f"bad bar at flat index {bad} (minute-major)")  # pragma: no cover
        with nogil:
            self._run_block(b)

    # ------------------------------------------------------------------ entry points
    def update(self, t_ms, open, high, low, close, volume):
        """Consume one minute of every symbol; return ``(prob, rhat, conf)``, each (S,).

        ``t_ms`` is the minute's bar start (Unix ms); it must be after the last minute
        consumed. Inputs are (S,) in the ensemble's symbol order; a symbol without a
        bar this minute is all-NaN. The returned arrays are the ensemble's own buffers,
        overwritten by the next call: copy them to keep them. Per-horizon values of the
        same minute: ``horizon_predictions`` / ``horizon_confidences``.
        """
        cdef int S = self.n_symbols
        arrays = [cnp.PyArray_FROM_OTF(a, cnp.NPY_DOUBLE, cnp.NPY_ARRAY_IN_ARRAY)
                  for a in (open, high, low, close, volume)]
        for k in range(5):
            if cnp.PyArray_NDIM(arrays[k]) != 1 or cnp.PyArray_DIMS(arrays[k])[0] != S:
                raise ValueError(f"{FIELDS[k]} has shape {arrays[k].shape}: got "
                                 f"{arrays[k].size} bars for {S} symbols, expected ({S},)")
        t = int(t_ms)
        if self._last_t is not None and t <= self._last_t:
            raise ValueError(f"minute t={t} is not after the last minute consumed ({self._last_t})")
        cdef int mod, dow
        cdef long day
        mod, dow, day = minute_fields(t)
        cdef Block b = self._bar  # outputs bound once, at construction
        b.mod = &mod
        b.dow = &dow
        b.day = &day
        _bind_inputs(&b, arrays)
        self._check_and_run(&b, arrays, [t])
        self._last_t = t
        self._count += 1
        out = self._out
        return out["prob"], out["rhat"], out["conf"]

    def run(self, open, high, low, close, volume, t_ms, info=None) -> BatchResult:
        """Consume a block of minutes of every symbol in one call (no Python per bar).

        ``open`` ... ``volume`` are (S, N) in the ensemble's symbol order; ``t_ms`` (N,)
        the minutes' bar starts, strictly increasing and after the last minute consumed;
        ``info`` optionally the precomputed ``minute_info(t_ms)``. Absent bars are all-NaN.
        The state carries on: ``run`` then ``update`` equals one uninterrupted run.
        """
        arrays = [np.ascontiguousarray(a) for a in
                  as_price_arrays(open, high, low, close, volume, 2)]
        S, N = arrays[3].shape
        if S != self.n_symbols:
            raise ValueError(f"got {S} rows of bars for {self.n_symbols} symbols")
        t, info = checked_minutes(t_ms, N, self._last_t, info)
        mod = np.ascontiguousarray(info.mod, dtype=np.intc)
        dow = np.ascontiguousarray(info.dow, dtype=np.intc)
        day = np.ascontiguousarray(info.day, dtype=np.int_)
        if N and not (0 <= mod.min() and mod.max() < 1440 and 0 <= dow.min() and dow.max() < 7):
            raise ValueError("info.mod must be in [0, 1440) and info.dow in [0, 7)")
        H = self.n_horizons
        res = BatchResult(np.empty((S, N)), np.empty((S, N)), np.empty((S, N)),
                          np.empty((H, S, N)), np.empty((H, S, N)),
                          np.empty((S, N), dtype=np.bool_), np.empty((S, N), dtype=np.bool_),
                          np.empty((H, S, N)), np.empty((H, S, N)))
        if N == 0:
            return res
        cdef Block b
        b.S = S
        b.N = N
        b.ss = N
        b.ts = 1
        b.mod = <const int*> _ptr(mod)
        b.dow = <const int*> _ptr(dow)
        b.day = <const long*> _ptr(day)
        _bind_inputs(&b, arrays)
        _bind_outputs(&b, res.prob, res.rhat, res.conf, res.preds, res.confs, res.ready,
                      res.warm, res.cal_preds, res.slopes)
        self._check_and_run(&b, arrays, t)
        self._last_t = int(t[-1])
        self._count += N
        out = self._out
        for key in ("prob", "rhat", "conf", "ready", "warm"):
            out[key][:] = getattr(res, key)[:, -1]
        for key in ("preds", "confs", "cal_preds", "slopes"):
            out[key][:] = getattr(res, key)[:, :, -1]
        return res


def run_batch(params, open, high, low, close, volume, t_ms, symbols=None, info=None) -> BatchResult:
    """A fresh Ensemble over a whole (S, N) block: ``Ensemble(S, params, symbols).run(...)``."""
    c = np.asarray(close)
    if c.ndim != 2:
        raise ValueError(f"close must be (S, N), got shape {c.shape}")
    return Ensemble(c.shape[0], params, symbols).run(open, high, low, close, volume, t_ms, info)

"""Incremental features of one symbol's minute bars, normalized online.

Each bar costs O(1): ring buffers with running sums (``rolling.Rolling``), monotonic
deques for highs and lows (``rolling.Extremum``) and recursive averages. The one
exception is the CCI's mean absolute deviation, a 20-term loop: it has no exact running
form (the loop also takes that window's mean exactly).

Inputs per bar: open, high, low, close, volume, and the bar's New York time as
``mod`` (minute of the day, 0..1439), ``dow`` (day of week, Monday = 0) and ``day``
(New York day number, days since 1970-01-01): see ``engine_core.timeinfo``. The session
VWAP restarts whenever ``day`` changes. Flat filled bars (open = high = low = close,
volume 0) are ordinary input.

Features (raw values; every price-denominated value is made scale-free by the close C):

====  ===============  ==============================================================
 0-7  time             sin/cos of: minute of day (period 1440), minute since 09:30
                       (period 390), minute of the hour (period 60), day of week (period 7)
 8    log_close        ln C
 9-11 open/high/low    O/C - 1, H/C - 1, L/C - 1
12    ret1             C/C[-1] - 1 (0 on the first bar)
13    log_volume       ln(1 + V)
14-19 sma/ema 10,20,50 C/MA - 1 ("price vs MA"); EMA seeded with the first close,
                       alpha = 2/(n+1)
20    atr14            ATR14/C, Wilder's ATR seeded with the mean of the first 14 true
                       ranges (the first bar's true range is H - L)
21    tr               TR/C, the bar's true range
22    bb_pctb          (C - LB)/(UB - LB), UB/LB = SMA20 -/+ 2 population SD of closes
23    bb_width         (UB - LB)/SMA20
24    kc_pos           (C - KL)/(KU - KL), KU/KL = EMA20 -/+ 2 ATR10
25    kc_width         (KU - KL)/EMA20
26    dc_pos           (C - LL20)/(HH20 - LL20), Donchian over 20 highs/lows
27    dc_width         (HH20 - LL20)/C
28-29 rsi14, rsi21     100 U/(U + D), Wilder averages of up/down moves seeded at 0
30    stoch_d          SMA3 of %K14 = 100 (C - LL14)/(HH14 - LL14)
31    stoch_slow       SMA3 of stoch_d
32    williams_r       -100 (HH14 - C)/(HH14 - LL14)  (%K = williams_r + 100, so %K itself
                       is not a separate feature)
33    macd             (EMA12 - EMA26)/C
34    macd_hist        (MACD - signal)/C, signal = EMA9 of MACD seeded at the 26th bar
35-37 roc5/10/20       C/C[-n] - 1
38    cci20            (TP - SMA20(TP))/(0.015 MAD20(TP)), TP = (H + L + C)/3
39    obv20            sum of sign(dC) V over 20 bars / sum of V over 20 bars
40    vwap_rel         C/VWAP - 1, session VWAP = sum(TP V)/sum(V) since the session began
41    vwap_atr         (C - VWAP)/ATR14
42-46 candles (0/1)    doji, hammer, shooting star, bullish and bearish engulfing
====  ===============  ==============================================================

Degenerate rules (documented, applied identically by the reference): a window whose
values are all equal has mean equal to that value and variance 0; a ratio whose
denominator (band or channel width, MAD, ATR) is at most 1e-12 x C takes its neutral
value (position 0.5, %K 50, Williams -50, CCI 0, vwap_atr 0); RSI is 50 when there were
no moves; obv20 and the VWAP features are 0 while the window/session has no volume.

Candles: body = |C - O|, range = H - L, upper = H - max(O, C), lower = min(O, C) - L.
doji: range > 0 and body <= 0.1 range. hammer: body > 0, lower >= 2 body, upper <=
0.5 body. shooting star: body > 0, upper >= 2 body, lower <= 0.5 body. bullish
engulfing: previous bar down (C[-1] < O[-1]), this bar up, O <= C[-1] and C >= O[-1];
bearish engulfing is the mirror.

Readiness: the features are ready from the ``READY_BARS``-th (51st) bar on.

Online normalization (from the first ready bar): exponentially weighted mean and
variance with weight a_t = max(1/t, alpha_min) (a plain running mean/variance until
1/t falls to alpha_min = 2/(norm_window + 1)); z = (x - mean)/sqrt(var + eps^2) with
eps = 1e-7 x the feature's scale (100 for RSI/stochastic/Williams/CCI, else 1), clipped
to [-z_clip, z_clip].
"""

cimport cython
from libc.math cimport M_PI, cos, fabs, fmax, fmin, log, log1p, sin, sqrt

import numpy as np

from engine_core.rolling cimport (
    ext_init, ext_push_max, ext_push_min, ext_value, roll_flat, roll_init, roll_lag, roll_mean,
    roll_push, roll_var,
)

FEATURE_NAMES = (
    "tod_sin", "tod_cos", "sess_sin", "sess_cos", "hour_sin", "hour_cos", "dow_sin", "dow_cos",
    "log_close", "open_rel", "high_rel", "low_rel", "ret1", "log_volume",
    "sma10", "sma20", "sma50", "ema10", "ema20", "ema50",
    "atr14", "tr", "bb_pctb", "bb_width", "kc_pos", "kc_width", "dc_pos", "dc_width",
    "rsi14", "rsi21", "stoch_d", "stoch_slow", "williams_r", "macd", "macd_hist",
    "roc5", "roc10", "roc20", "cci20",
    "obv20", "vwap_rel", "vwap_atr",
    "doji", "hammer", "shooting_star", "bull_engulf", "bear_engulf",
)
"""Names of the feature vector's entries, in order."""

N = N_FEATURES
READY = READY_BARS

# Natural scale of each feature (sets the normalization's variance floor).
FEATURE_SCALES = tuple(
    100.0 if name in ("rsi14", "rsi21", "stoch_d", "stoch_slow", "williams_r", "cci20") else 1.0
    for name in FEATURE_NAMES
)

cdef double DEGENERATE = 1e-12   # a width below DEGENERATE * close counts as zero
NORM_EPS = 1e-7
"""Normalization variance floor: eps = NORM_EPS x the feature's scale."""
cdef double _norm_eps = NORM_EPS
cdef double TWO_PI = 2.0 * M_PI
cdef double _eps2[N_FEATURES]      # squared variance floor of each feature
for _i in range(N_FEATURES):
    _eps2[_i] = (_norm_eps * FEATURE_SCALES[_i]) ** 2
assert len(FEATURE_NAMES) == N_FEATURES

# The time features take a few hundred distinct values: tabulate them once (same libm
# calls as a per-bar evaluation, so the same bits) instead of 8 sin/cos per bar.
cdef double _time_table[1440][6]
cdef double _dow_table[7][2]
cdef int _m
for _m in range(1440):
    _time_table[_m][0] = sin(TWO_PI * _m / 1440.0)
    _time_table[_m][1] = cos(TWO_PI * _m / 1440.0)
    _time_table[_m][2] = sin(TWO_PI * (_m - 570) / 390.0)
    _time_table[_m][3] = cos(TWO_PI * (_m - 570) / 390.0)
    _time_table[_m][4] = sin(TWO_PI * (_m % 60) / 60.0)
    _time_table[_m][5] = cos(TWO_PI * (_m % 60) / 60.0)
for _m in range(7):
    _dow_table[_m][0] = sin(TWO_PI * _m / 7.0)
    _dow_table[_m][1] = cos(TWO_PI * _m / 7.0)


cdef inline double _ema(double prev, double x, double alpha) noexcept nogil:
    return (1.0 - alpha) * prev + alpha * x


cdef inline double _ratio_or(double num, double den, double scale, double neutral) noexcept nogil:
    """num/den, or ``neutral`` when den is degenerate (<= DEGENERATE * scale)."""
    if den > DEGENERATE * scale:
        return num / den
    return neutral


cdef void feat_reset(FeatureState* s) noexcept nogil:
    cdef int k
    s.count = 0
    s.day = -1
    s.prev_open = 0.0
    s.prev_close = 0.0
    roll_init(&s.c10, 10)
    roll_init(&s.c20, 20)
    roll_init(&s.c50, 50)
    roll_init(&s.tp20, 20)
    roll_init(&s.v20, 20)
    roll_init(&s.sv20, 20)
    ext_init(&s.hh14, 14)
    ext_init(&s.ll14, 14)
    ext_init(&s.hh20, 20)
    ext_init(&s.ll20, 20)
    s.ema10 = s.ema20 = s.ema50 = s.ema12 = s.ema26 = s.macd_signal = 0.0
    s.tr_sum14 = s.tr_sum10 = s.atr14 = s.atr10 = 0.0
    s.up14 = s.dn14 = s.up21 = s.dn21 = 0.0
    for k in range(3):
        s.k_last[k] = 0.0
        s.d_last[k] = 0.0
    s.vwap_pv = 0.0
    s.vwap_v = 0.0
    s.norm_n = 0
    for k in range(N_FEATURES):
        s.norm_mean[k] = 0.0
        s.norm_var[k] = 0.0


@cython.boundscheck(False)
@cython.wraparound(False)
cdef bint feat_update(FeatureState* s, double o, double h, double l, double c, double v,
                      int mod, int dow, long day, double* f) noexcept nogil:
    """Consume one bar, write the raw features into ``f``; return True when ready."""
    cdef long i = s.count
    cdef double cp = s.prev_close
    cdef double op = s.prev_open
    cdef double tr, tp, sv, d, up, dn, hh, ll, rng, kval, dval, slow, sma20, sd, width
    cdef double mean_tp, mad, vol_mean, body, upper, lower, vwap, macd
    cdef long cnt, j
    cdef int nk, start

    # --- true range, typical price, signed volume
    if i == 0:
        tr = h - l
        sv = 0.0
    else:
        tr = h - l
        if fabs(h - cp) > tr:
            tr = fabs(h - cp)
        if fabs(l - cp) > tr:
            tr = fabs(l - cp)
        sv = v if c > cp else (-v if c < cp else 0.0)
    tp = (h + l + c) / 3.0

    # --- windows
    roll_push(&s.c10, s.buf_c10, c)
    roll_push(&s.c20, s.buf_c20, c)
    roll_push(&s.c50, s.buf_c50, c)
    roll_push(&s.tp20, s.buf_tp20, tp)
    roll_push(&s.v20, s.buf_v20, v)
    roll_push(&s.sv20, s.buf_sv20, sv)
    ext_push_max(&s.hh14, i, h)
    ext_push_min(&s.ll14, i, l)
    ext_push_max(&s.hh20, i, h)
    ext_push_min(&s.ll20, i, l)

    # --- recursive averages
    if i == 0:
        s.ema10 = s.ema20 = s.ema50 = s.ema12 = s.ema26 = c
        s.up14 = s.dn14 = s.up21 = s.dn21 = 0.0
    else:
        s.ema10 = _ema(s.ema10, c, 2.0 / 11.0)
        s.ema20 = _ema(s.ema20, c, 2.0 / 21.0)
        s.ema50 = _ema(s.ema50, c, 2.0 / 51.0)
        s.ema12 = _ema(s.ema12, c, 2.0 / 13.0)
        s.ema26 = _ema(s.ema26, c, 2.0 / 27.0)
        d = c - cp
        up = d if d > 0.0 else 0.0
        dn = -d if d < 0.0 else 0.0
        s.up14 = _ema(s.up14, up, 1.0 / 14.0)
        s.dn14 = _ema(s.dn14, dn, 1.0 / 14.0)
        s.up21 = _ema(s.up21, up, 1.0 / 21.0)
        s.dn21 = _ema(s.dn21, dn, 1.0 / 21.0)
    macd = s.ema12 - s.ema26
    if i == 25:
        s.macd_signal = macd
    elif i > 25:
        s.macd_signal = _ema(s.macd_signal, macd, 2.0 / 10.0)
    if i < 14:
        s.tr_sum14 += tr
        s.atr14 = s.tr_sum14 / (i + 1)
    else:
        s.atr14 = (s.atr14 * 13.0 + tr) / 14.0
    if i < 10:
        s.tr_sum10 += tr
        s.atr10 = s.tr_sum10 / (i + 1)
    else:
        s.atr10 = (s.atr10 * 9.0 + tr) / 10.0

    # --- session VWAP
    if i == 0 or day != s.day:
        s.vwap_pv = 0.0
        s.vwap_v = 0.0
    s.day = day
    s.vwap_pv += tp * v
    s.vwap_v += v

    # --- time (New York)
    for j in range(6):
        f[j] = _time_table[mod][j]
    f[6] = _dow_table[dow][0]
    f[7] = _dow_table[dow][1]

    # --- price and volume
    f[8] = log(c)
    f[9] = o / c - 1.0
    f[10] = h / c - 1.0
    f[11] = l / c - 1.0
    f[12] = c / cp - 1.0 if i > 0 else 0.0
    f[13] = log1p(v)

    # --- moving averages
    f[14] = c / roll_mean(&s.c10) - 1.0
    sma20 = roll_mean(&s.c20)
    f[15] = c / sma20 - 1.0
    f[16] = c / roll_mean(&s.c50) - 1.0
    f[17] = c / s.ema10 - 1.0
    f[18] = c / s.ema20 - 1.0
    f[19] = c / s.ema50 - 1.0

    # --- volatility and channels
    f[20] = s.atr14 / c
    f[21] = tr / c
    sd = sqrt(roll_var(&s.c20))
    width = (sma20 + 2.0 * sd) - (sma20 - 2.0 * sd)
    f[22] = _ratio_or(c - (sma20 - 2.0 * sd), width, c, 0.5)
    f[23] = width / sma20
    width = (s.ema20 + 2.0 * s.atr10) - (s.ema20 - 2.0 * s.atr10)
    f[24] = _ratio_or(c - (s.ema20 - 2.0 * s.atr10), width, c, 0.5)
    f[25] = width / s.ema20
    hh = ext_value(&s.hh20)
    ll = ext_value(&s.ll20)
    f[26] = _ratio_or(c - ll, hh - ll, c, 0.5)
    f[27] = (hh - ll) / c

    # --- momentum
    f[28] = 100.0 * s.up14 / (s.up14 + s.dn14) if s.up14 + s.dn14 > 0.0 else 50.0
    f[29] = 100.0 * s.up21 / (s.up21 + s.dn21) if s.up21 + s.dn21 > 0.0 else 50.0
    hh = ext_value(&s.hh14)
    ll = ext_value(&s.ll14)
    rng = hh - ll
    if rng > DEGENERATE * c:
        kval = 100.0 * (c - ll) / rng
        f[32] = -100.0 * (hh - c) / rng
    else:
        kval = 50.0
        f[32] = -50.0
    s.k_last[i % 3] = kval
    nk = 3 if i >= 2 else <int>(i + 1)
    dval = 0.0
    for j in range(nk):
        dval += s.k_last[j]
    dval = dval / nk
    s.d_last[i % 3] = dval
    slow = 0.0
    for j in range(nk):
        slow += s.d_last[j]
    slow = slow / nk
    f[30] = dval
    f[31] = slow
    f[33] = macd / c
    f[34] = (macd - s.macd_signal) / c
    f[35] = c / roll_lag(&s.c50, s.buf_c50, 5) - 1.0 if i >= 5 else 0.0
    f[36] = c / roll_lag(&s.c50, s.buf_c50, 10) - 1.0 if i >= 10 else 0.0
    f[37] = c / roll_lag(&s.c50, s.buf_c50, 20) - 1.0 if i >= 20 else 0.0
    # the MAD needs a pass over the window anyway: take the mean exactly in the same pass
    # (oldest first), since the CCI divides two small differences of large numbers
    cnt = s.tp20.n if s.tp20.n < 20 else 20
    start = <int>(s.tp20.n % 20) if s.tp20.n >= 20 else 0
    if roll_flat(&s.tp20):
        mean_tp = tp
    else:
        mean_tp = 0.0
        for j in range(cnt):
            mean_tp += s.buf_tp20[(start + j) % 20]
        mean_tp = mean_tp / cnt
    mad = 0.0
    for j in range(cnt):
        mad += fabs(s.buf_tp20[(start + j) % 20] - mean_tp)
    mad = mad / cnt
    f[38] = _ratio_or(tp - mean_tp, 0.015 * mad, c, 0.0)

    # --- volume
    vol_mean = roll_mean(&s.v20)
    f[39] = roll_mean(&s.sv20) / vol_mean if vol_mean > 0.0 else 0.0
    if s.vwap_v > 0.0:
        vwap = s.vwap_pv / s.vwap_v
        f[40] = c / vwap - 1.0
        f[41] = _ratio_or(c - vwap, s.atr14, c, 0.0)
    else:
        f[40] = 0.0
        f[41] = 0.0

    # --- candles
    body = fabs(c - o)
    rng = h - l
    upper = h - (o if o > c else c)
    lower = (o if o < c else c) - l
    f[42] = 1.0 if rng > 0.0 and body <= 0.1 * rng else 0.0
    f[43] = 1.0 if body > 0.0 and lower >= 2.0 * body and upper <= 0.5 * body else 0.0
    f[44] = 1.0 if body > 0.0 and upper >= 2.0 * body and lower <= 0.5 * body else 0.0
    f[45] = 1.0 if i > 0 and cp < op and c > o and o <= cp and c >= op else 0.0
    f[46] = 1.0 if i > 0 and cp > op and c < o and o >= cp and c <= op else 0.0

    s.prev_open = o
    s.prev_close = c
    s.count = i + 1
    return s.count >= READY_BARS


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void feat_normalize(FeatureState* s, const double* raw, double* z,
                         double alpha_min, double z_clip) noexcept nogil:
    """Update the running mean/variance with ``raw`` and write the clipped z-scores."""
    cdef int k
    cdef double a, b, d, zz
    s.norm_n += 1
    a = 1.0 / s.norm_n
    if a < alpha_min:
        a = alpha_min
    b = 1.0 - a
    # branch-free, so the compiler vectorizes it (sqrt and division dominate)
    for k in range(N_FEATURES):
        d = raw[k] - s.norm_mean[k]
        s.norm_mean[k] += a * d
        s.norm_var[k] = b * (s.norm_var[k] + a * d * d)
        zz = (raw[k] - s.norm_mean[k]) / sqrt(s.norm_var[k] + _eps2[k])
        z[k] = fmin(fmax(zz, -z_clip), z_clip)


cdef class FeatureEngine:
    """The feature engine of one symbol, for tests, diagnostics and notebooks.

    The ensemble runs the same C functions per symbol; this class only exposes them.
    ``update(...)`` takes one bar, ``run(...)`` a whole series; ``reset()``, ``count``
    and ``initialized`` follow the project's incremental API.
    """

    def __init__(self, int norm_window=780, double z_clip=5.0):
        if norm_window < 1:
            raise ValueError(f"norm_window={norm_window!r} must be >= 1")
        if not z_clip > 0:
            raise ValueError(f"z_clip={z_clip!r} must be > 0")
        self.alpha_min = 2.0 / (norm_window + 1.0)
        self.z_clip = z_clip
        feat_reset(&self.st)

    def reset(self):
        """Forget every bar seen."""
        feat_reset(&self.st)

    @property
    def count(self) -> int:
        """Bars seen."""
        return self.st.count

    @property
    def initialized(self) -> bool:
        """True once the features are ready (READY_BARS bars seen)."""
        return self.st.count >= READY_BARS

    def update(self, double o, double h, double l, double c, double v, int mod, int dow,
               long day):
        """Consume one (already validated) bar; return (raw[N], z[N] or None until ready)."""
        if not (0 <= mod < 1440 and 0 <= dow < 7):
            raise ValueError(f"mod={mod!r} must be in [0, 1440) and dow={dow!r} in [0, 7)")
        raw = np.empty(N_FEATURES)
        z = np.empty(N_FEATURES)
        cdef double[::1] rv = raw
        cdef double[::1] zv = z
        if feat_update(&self.st, o, h, l, c, v, mod, dow, day, &rv[0]):
            feat_normalize(&self.st, &rv[0], &zv[0], self.alpha_min, self.z_clip)
            return raw, z
        return raw, None

    @cython.boundscheck(False)
    @cython.wraparound(False)
    def run(self, o, h, l, c, v, mod, dow, day):
        """Consume a series of (already validated) bars.

        ``mod``, ``dow`` and ``day`` as from ``engine_core.timeinfo.minute_info``.
        Returns ``(raw[N, F], z[N, F], ready[N])``; z rows are NaN where not ready.
        """
        cdef const double[::1] ov = np.ascontiguousarray(o, dtype=np.float64)
        cdef const double[::1] hv = np.ascontiguousarray(h, dtype=np.float64)
        cdef const double[::1] lv = np.ascontiguousarray(l, dtype=np.float64)
        cdef const double[::1] cv = np.ascontiguousarray(c, dtype=np.float64)
        cdef const double[::1] vv = np.ascontiguousarray(v, dtype=np.float64)
        cdef const int[::1] mv = np.ascontiguousarray(mod, dtype=np.intc)
        cdef const int[::1] dv = np.ascontiguousarray(dow, dtype=np.intc)
        cdef const long[::1] yv = np.ascontiguousarray(day, dtype=np.int_)
        cdef Py_ssize_t n = cv.shape[0], t
        for name, length in (("open", ov.shape[0]), ("high", hv.shape[0]),
                             ("low", lv.shape[0]), ("volume", vv.shape[0]),
                             ("mod", mv.shape[0]), ("dow", dv.shape[0]), ("day", yv.shape[0])):
            if length != n:
                raise ValueError(f"{name} has {length} entries, close has {n}")
        if n and not (0 <= np.min(mv) and np.max(mv) < 1440 and 0 <= np.min(dv) and np.max(dv) < 7):
            raise ValueError("mod must be in [0, 1440) and dow in [0, 7)")
        raw = np.empty((n, N_FEATURES))
        z = np.full((n, N_FEATURES), np.nan)
        ready = np.zeros(n, dtype=np.bool_)
        cdef double[:, ::1] rv = raw
        cdef double[:, ::1] zv = z
        cdef unsigned char[::1] rd = ready.view(np.uint8)
        with nogil:
            for t in range(n):
                if feat_update(&self.st, ov[t], hv[t], lv[t], cv[t], vv[t], mv[t], dv[t],
                               yv[t], &rv[t, 0]):
                    feat_normalize(&self.st, &rv[t, 0], &zv[t, 0], self.alpha_min, self.z_clip)
                    rd[t] = 1
        return raw, z, ready

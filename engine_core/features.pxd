# Incremental feature engine: one FeatureState per symbol, O(1) work per bar.

from engine_core.rolling cimport Extremum, Rolling

cdef enum:
    N_FEATURES = 47     # length of the feature vector (names: features.FEATURE_NAMES)
    READY_BARS = 51     # features are ready once this many bars were seen (longest window + 1)


cdef struct FeatureState:
    long count                  # bars seen
    long day                    # New York day number of the newest bar (VWAP session key)
    double prev_open
    double prev_close
    Rolling c10
    Rolling c20
    Rolling c50
    Rolling tp20
    Rolling v20
    Rolling sv20
    double buf_c10[10]
    double buf_c20[20]
    double buf_c50[50]
    double buf_tp20[20]
    double buf_v20[20]
    double buf_sv20[20]
    Extremum hh14
    Extremum ll14
    Extremum hh20
    Extremum ll20
    double ema10
    double ema20
    double ema50
    double ema12
    double ema26
    double macd_signal
    double tr_sum14
    double tr_sum10
    double atr14
    double atr10
    double up14
    double dn14
    double up21
    double dn21
    double k_last[3]
    double d_last[3]
    double vwap_pv
    double vwap_v
    long norm_n                 # normalization updates (ready bars seen)
    double norm_mean[N_FEATURES]
    double norm_var[N_FEATURES]


cdef void feat_reset(FeatureState* s) noexcept nogil
cdef bint feat_update(FeatureState* s, double o, double h, double l, double c, double v,
                      int mod, int dow, long day, double* raw) noexcept nogil
cdef void feat_normalize(FeatureState* s, const double* raw, double* z,
                         double alpha_min, double z_clip) noexcept nogil


cdef class FeatureEngine:
    cdef FeatureState st
    cdef readonly double alpha_min
    """Floor of the normalization's exponential weight: 2 / (norm_window + 1)."""
    cdef readonly double z_clip
    """Normalized features are clipped to [-z_clip, z_clip]."""

# The step after the EWRLS: calibration, combination, probability (see combine.pyx).

from engine_core.rolling cimport Rolling

cdef enum:
    N_ACC = 7           # calibration sums per horizon (combine.pyx: ACC_*)


cdef struct HeadConf:
    # Constants shared by every symbol of one parameter set (bound to Python-owned arrays).
    int n_h                 # horizons
    int ring                # ring of recent steps: the longest horizon + 1
    const int* horizons     # n_h strictly ascending horizons (bars)
    const double* weights   # n_h horizon weights
    double weight_sum
    double k_prob           # probability_scale
    int bb_period
    double bb_std
    double bb_prox
    double bb_amp
    long warmup             # warmup_samples
    bint calibrate
    double lam_c            # calibration_lambda
    double z                # calibration_z
    double label_clip


cdef struct Head:
    # One symbol's state after its EWRLS: the Bollinger band of the amplification and the
    # calibration of each horizon. Its arrays live in a caller-owned block.
    long steps              # model steps (ready bars) seen
    Rolling band
    double* band_buf        # bb_period closes
    double* rf              # ring x n_h: raw forecasts of recent steps
    double* ropen           # ring: open of recent steps (NaN: the bar did not trade)
    double* rday            # ring: New York day number of recent steps
    double* acc             # n_h x N_ACC calibration sums
    double* slope           # n_h: the calibration slope in use


cdef Py_ssize_t head_block_size(const HeadConf* hc) noexcept nogil
cdef void head_bind(Head* hd, const HeadConf* hc, double* block) noexcept nogil
cdef void head_reset(Head* hd, const HeadConf* hc) noexcept nogil
cdef void head_push_close(Head* hd, double close) noexcept nogil
cdef bint head_step(Head* hd, const HeadConf* hc, const double* ph, const double* ch,
                    double fill, double close, long day, double* cal, double* out) noexcept nogil


cdef class HeadParams:
    cdef HeadConf conf
    cdef object _horizons
    cdef object _weights
    cdef readonly object params
    """The EnsembleParams these constants come from."""


cdef class Combiner:
    cdef Head* heads
    cdef HeadParams hp
    cdef object _block
    cdef object _scratch
    cdef object _last_t
    cdef readonly int n_symbols
    """Number of symbols (fixed at construction)."""
    cdef readonly int n_horizons
    """Number of horizons."""

    cdef void _run(self, pr, cf, rd, op, cl, vo, day, res)

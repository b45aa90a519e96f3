# Multi-horizon EWRLS with one shared covariance recursion (see ewrls.pyx for the math).

cdef struct Ewrls:
    int n                   # features
    int ld                  # stored width: n rounded up to a multiple of 4 (zero padding)
    int n_h                 # horizons
    int ring                # ring length = the longest horizon
    long steps              # base steps taken (feature vectors consumed)
    int slot                # steps mod ring: the ring slot the next step writes
    int jcyc                # steps mod n: the coordinate of the next pseudo-observation
    double lam              # forgetting factor lambda in (0, 1]
    double inv_lam
    double ridge            # pseudo-observation weight c = n * rho_eff (0 = none)
    double delta            # initial variance: P starts as delta * I
    double label_clip       # labels are clipped to [-label_clip, label_clip]
    const int* horizons     # n_h strictly ascending horizons (bars)
    double* P               # ld x ld, the base covariance after `steps` steps
    double* theta           # n_h x ld coefficient vectors
    double* rx              # ring x ld: feature vector of each recent step
    double* rk              # ring x ld: gain k_m = P_{m-1} x_m / den_m
    double* rkp             # ring x ld: ridge gain g_m w_m of the pseudo-observation
    double* rden            # ring: den_m = lambda + x_m' P_{m-1} x_m
    double* rg              # ring: g_m = c / (1 + c w_mj)
    double* rclose          # ring: close of each recent step
    double* u               # scratch ld
    double* w               # scratch ld
    double* ub              # scratch ld
    double* dots            # scratch 2 x ring


cdef int ewrls_width(int n) noexcept nogil
cdef Py_ssize_t ewrls_block_size(int n, int n_h, int ring) noexcept nogil
cdef void ewrls_bind(Ewrls* m, int n, const int* horizons, int n_h, double lam, double ridge,
                     double delta, double label_clip, double* block) noexcept nogil
cdef void ewrls_reset(Ewrls* m) noexcept nogil
cdef void ewrls_learn(Ewrls* m, double close) noexcept nogil
cdef void ewrls_predict_step(Ewrls* m, const double* x, double close, double* preds,
                             double* confs) noexcept nogil
cdef long ewrls_updates(const Ewrls* m, int hi) noexcept nogil


cdef class MultiHorizonEWRLS:
    cdef Ewrls m
    cdef object _buffers
    cdef object _horizons
    cdef readonly int n_features
    """Length of the feature vectors."""
    cdef readonly double lam
    """Forgetting factor lambda."""
    cdef readonly double regularization
    """Ridge per sample rho as configured (before the floor used when lambda < 1)."""
    cdef readonly double initial_variance
    """delta: P starts as delta * I."""

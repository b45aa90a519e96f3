# The ensemble: features + multi-horizon EWRLS + probability, for many symbols.

from engine_core.combine cimport Combiner
from engine_core.ewrls cimport Ewrls
from engine_core.features cimport FeatureState


cdef struct Block:
    # S symbols x N minutes of inputs and outputs as raw pointers (see ensemble.pyx)
    Py_ssize_t S
    Py_ssize_t N
    Py_ssize_t ss
    Py_ssize_t ts
    const double* o
    const double* h
    const double* l
    const double* c
    const double* v
    const int* mod
    const int* dow
    const long* day
    double* prob
    double* rhat
    double* conf
    double* preds
    double* confs
    double* cpreds
    double* slopes
    unsigned char* ready
    unsigned char* warm


cdef class Ensemble:
    cdef FeatureState* fs
    cdef Ewrls* models
    cdef Combiner comb              # calibration, combination, probability (combine.pyx)
    cdef object _model_block
    cdef object _horizons
    cdef object _scratch
    cdef object _out
    cdef object _symbols
    cdef object _last_t
    cdef object _count
    cdef readonly int n_symbols
    """Number of symbols (fixed at construction)."""
    cdef readonly int n_horizons
    """Number of horizons."""
    cdef readonly object params
    """The EnsembleParams in use."""
    cdef double alpha_min, z_clip
    cdef long warmup
    cdef double* raw                # scratch: raw features, z, per-horizon preds, confs, cal
    cdef Block _bar                 # the per-bar block, outputs bound at construction

    cdef void _run_block(self, const Block* b) noexcept nogil
    cdef void _check_and_run(self, Block* b, list arrays, object t_ms)

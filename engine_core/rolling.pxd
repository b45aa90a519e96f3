# Rolling-window primitives shared by the feature engine and the ensemble's Bollinger band.
# Every update is O(1) (amortized for the exact re-sum once per window).

cdef enum:
    EXT_CAP = 64        # capacity of a monotonic deque (windows up to 64 bars)
    EXT_MASK = 63


cdef struct Rolling:
    # Sum and population variance of the last ``w`` values pushed; the values live in a
    # caller-owned buffer of ``w`` doubles (so the struct can be copied freely).
    int w               # window length
    int slot            # buffer slot of the next value (= n mod w)
    long n              # values pushed so far
    double sum          # running sum of the last min(n, w) values
    double shift        # variance shift: the window mean at the last exact re-sum
    double s1           # running sum of (x - shift)
    double s2           # running sum of (x - shift)**2
    long run            # length of the run of equal values ending at the newest one
    double last         # the newest value


cdef struct Extremum:
    # Running maximum (or minimum) of the last ``w`` values: a monotonic deque of
    # (value, position) pairs in a ring of EXT_CAP slots.
    int w
    long head
    long tail
    double vals[EXT_CAP]
    long pos[EXT_CAP]


cdef void roll_init(Rolling* r, int w) noexcept nogil
cdef void roll_push(Rolling* r, double* buf, double x) noexcept nogil
cdef double roll_mean(const Rolling* r) noexcept nogil
cdef double roll_var(const Rolling* r) noexcept nogil
cdef double roll_lag(const Rolling* r, const double* buf, int k) noexcept nogil
cdef bint roll_flat(const Rolling* r) noexcept nogil

cdef void ext_init(Extremum* e, int w) noexcept nogil
cdef void ext_push_max(Extremum* e, long i, double x) noexcept nogil
cdef void ext_push_min(Extremum* e, long i, double x) noexcept nogil
cdef double ext_value(const Extremum* e) noexcept nogil

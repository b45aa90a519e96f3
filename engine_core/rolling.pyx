"""Rolling-window primitives: O(1) running sum/variance and running max/min.

``Rolling`` keeps the sum of the last ``w`` values and their population variance from
sums shifted by the window mean (no catastrophic cancellation for large prices). Two
rules keep it exact where it matters:

* every ``w`` pushes the sums are recomputed exactly from the buffer (amortized O(1)),
  so rounding drift never outlives one window;
* a window whose values are all equal (a run of flat bars) has mean equal to that value
  and variance exactly 0, not a rounding residue.

``Extremum`` is a monotonic deque: each value enters and leaves it once, so a running
max or min costs amortized O(1) per bar.
"""

cimport cython


cdef void roll_init(Rolling* r, int w) noexcept nogil:
    r.w = w
    r.slot = 0
    r.n = 0
    r.sum = 0.0
    r.shift = 0.0
    r.s1 = 0.0
    r.s2 = 0.0
    r.run = 0
    r.last = 0.0


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void roll_push(Rolling* r, double* buf, double x) noexcept nogil:
    cdef int w = r.w
    cdef int slot = r.slot
    cdef double old, a, b, total, shift
    cdef int i
    if r.n == 0:
        r.shift = x
    a = x - r.shift
    if r.n >= w:
        old = buf[slot]
        b = old - r.shift
        r.sum += x - old
        r.s1 += a - b
        r.s2 += a * a - b * b
    else:
        r.sum += x
        r.s1 += a
        r.s2 += a * a
    buf[slot] = x
    if r.n > 0 and x == r.last:
        r.run += 1
    else:
        r.run = 1
    r.last = x
    r.n += 1
    r.slot = slot + 1 if slot + 1 < w else 0
    if r.slot == 0:
        # The buffer now holds the window oldest-first: re-sum it exactly.
        total = 0.0
        for i in range(w):
            total += buf[i]
        shift = total / w
        r.sum = total
        r.shift = shift
        r.s1 = 0.0
        r.s2 = 0.0
        for i in range(w):
            a = buf[i] - shift
            r.s1 += a
            r.s2 += a * a


cdef double roll_mean(const Rolling* r) noexcept nogil:
    cdef long cnt = r.n if r.n < r.w else r.w
    if cnt == 0:
        return 0.0
    if r.run >= cnt:
        return r.last
    return r.sum / cnt


cdef double roll_var(const Rolling* r) noexcept nogil:
    cdef long cnt = r.n if r.n < r.w else r.w
    cdef double m1, v
    if cnt == 0 or r.run >= cnt:
        return 0.0
    m1 = r.s1 / cnt
    v = r.s2 / cnt - m1 * m1
    return v if v > 0.0 else 0.0


cdef bint roll_flat(const Rolling* r) noexcept nogil:
    cdef long cnt = r.n if r.n < r.w else r.w
    return cnt > 0 and r.run >= cnt


@cython.boundscheck(False)
@cython.wraparound(False)
cdef double roll_lag(const Rolling* r, const double* buf, int k) noexcept nogil:
    """The value pushed ``k`` pushes ago (k = 0: the newest); needs k < min(n, w)."""
    cdef int i = r.slot - 1 - k
    return buf[i if i >= 0 else i + r.w]


cdef void ext_init(Extremum* e, int w) noexcept nogil:
    e.w = w
    e.head = 0
    e.tail = 0


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void ext_push_max(Extremum* e, long i, double x) noexcept nogil:
    while e.tail > e.head and e.vals[(e.tail - 1) & EXT_MASK] <= x:
        e.tail -= 1
    e.vals[e.tail & EXT_MASK] = x
    e.pos[e.tail & EXT_MASK] = i
    e.tail += 1
    while e.pos[e.head & EXT_MASK] <= i - e.w:
        e.head += 1


@cython.boundscheck(False)
@cython.wraparound(False)
cdef void ext_push_min(Extremum* e, long i, double x) noexcept nogil:
    while e.tail > e.head and e.vals[(e.tail - 1) & EXT_MASK] >= x:
        e.tail -= 1
    e.vals[e.tail & EXT_MASK] = x
    e.pos[e.tail & EXT_MASK] = i
    e.tail += 1
    while e.pos[e.head & EXT_MASK] <= i - e.w:
        e.head += 1


@cython.boundscheck(False)
@cython.wraparound(False)
cdef double ext_value(const Extremum* e) noexcept nogil:
    return e.vals[e.head & EXT_MASK]

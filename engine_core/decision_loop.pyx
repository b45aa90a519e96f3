# cython: boundscheck=False, wraparound=False
"""The strategies' decision-and-fill loop over one account, compiled (the optimizer's trials).

A numeric transcription of what the backtest does per minute (``engine.backtest._Run.session``),
so a trial decides a 20-session window in milliseconds:

- rotation (``engine.strategies.rotation`` with its aggregator and cost gate): filters,
  smoothing, ranking; stop loss / profit target / signal / strength / rank exits; entries
  into free slots, strongest first, behind the cost gate; rotation over the weakest
  holding; end of day (the calendar's, or ``eod_exit_time_minutes``);
- or PSM (``engine.strategies.psm``, ``psm_ladder``): profit target and stop loss on the
  holdings' value-weighted return, the probability ladder, the minimum hold, the no-entry
  window, the cost gate on the state's leverage, sizing in whole shares at a transition;
- the order plan (``engine.order_plan.plan_orders``): the daily loss halt, the per-position
  cap, orders that never cross zero, cancels of working orders that run against a target,
  reducing orders first and the cap on orders per minute; the end-of-day flatten
  (``engine.decision.flatten_plan``) and cancels;
- the paper account (``engine.sim_account`` on ``ledger``): an order decided on bar ``t``
  arrives in minute ``t + 1`` and fills at the open of the symbol's next real bar, else at
  the session's last price at the close; cash in whole cents, positions' cost in $0.0001 x
  shares, regulatory fees accrued per day and charged rounded up to the cent, exactly as
  ``ledger`` rounds them (integers here, Decimal there).

Nothing here imports the engine or the ledger: symbols are row indexes, in the order the
strategy sorts them (alphabetical), prices are floats where the engine uses floats and
integers (1e-4 dollars, cents, 1e-12 dollars for fees) where the ledger uses Decimal.
The execution price of a fill (half-spread and slippage over the reference price) comes
from a Python callable, the shared cost model itself (``optimize.compiled_simulator``
memoizes it), so a price is the ledger's by construction.

A partial reduction whose cost is not a whole number of $0.0001 x shares (``pos.cost * q1 /
q0`` rounded to 28 digits) keeps that position's cost as the ledger's own Decimal until it
is flat (rare: the slow path is Python's ``decimal``). Whatever the loop does not model
exactly (such a position without a mark, a fractional quantity, an amount past the integer
ranges) ends the run with a nonzero :attr:`DecisionLoop.status` and a reason; the caller then runs the
reference instead. :meth:`DecisionLoop.session` returns the session's figures; with
``record=True`` the orders and fills are kept (tests compare them with the reference's).
"""

from libc.math cimport fabs, floor, isfinite
from libc.stdlib cimport free, malloc

from decimal import Decimal

import numpy as np

ENTRY_STEP = Decimal("0.000001")

cdef long long MINUTE_MS = 60000
cdef double QTY_EPS = 1e-6
cdef long long FEE_UNITS_PER_CENT = 10000000000  # fees are kept in 1e-12 dollars
cdef long long BIG = 1000000000000000000  # 1e18: below 2**63
cdef long long MAX_QTY = 100000000  # 1e8 shares
cdef long long MAX_PRICE = 100000000  # $10,000 in $0.0001: q x price stays below 1e16
cdef int MAX_WORKING = 4096

STATUS_OK = 0
STATUS_UNSUPPORTED = 1

ROTATION = 0
PSM = 1
PSM_STATES = ("CASH_ONLY", "SPY_ONLY", "SPXL_ONLY", "BASE_BULL_3X", "SH_ONLY", "SDS_ONLY",
              "BASE_BEAR_2X")
"""The PSM states by number (the loop's ``psm["alloc"]`` and ``psm["leverage"]`` follow it)."""
DEF N_STATES = 7
DEF MAX_ALLOC = 4
DEF CASH = 0

PARAMS = (
    "max_positions", "min_strength_to_enter", "min_strength_to_exit", "rotation_strength_delta",
    "min_hold_bars", "profit_target", "stop_loss", "min_rank_to_hold", "cooldown_bars",
    "eod_liquidation", "eod_exit_time_minutes", "buy_threshold", "sell_threshold",
    "entry_cost_margin", "min_probability", "min_confidence", "min_strength", "smoothing_alpha",
    "max_signal_age_bars", "daily_loss_limit_pct", "max_position_pct", "max_orders_per_minute",
    "capital_fraction", "allocated_capital", "eod_minutes_before_close",
    "no_entry_minutes_before_close",
)
"""The knobs :class:`DecisionLoop` takes (config section knobs under their own names)."""
FEES = ("sec", "taf", "taf_max", "cat", "commission")
"""Fee rates in integers: ``sec`` = sec_fee_per_million x 100 (1e-12 dollars per share x
$0.0001), the others in 1e-12 dollars (per share, or per trade for ``taf_max``)."""
FEE_SCALE = 10 ** 12


cdef struct Params:
    int max_positions
    double min_strength_to_enter
    double min_strength_to_exit
    double rotation_strength_delta
    long long min_hold_bars
    double profit_target
    double stop_loss
    int min_rank_to_hold
    long long cooldown_bars
    int eod_liquidation
    long long eod_exit_time_minutes
    double buy_threshold
    double sell_threshold
    int has_margin
    double entry_cost_margin
    double min_probability
    double min_confidence
    double min_strength
    double smoothing_alpha
    long long max_signal_age_bars
    double daily_loss_limit_pct
    double max_position_pct
    int max_orders_per_minute
    double capital_fraction
    int has_allocated
    double allocated_capital
    long long eod_minutes_before_close
    long long no_entry_minutes_before_close
    # PSM
    int strategy  # ROTATION or PSM
    int signal_row
    long long psm_min_hold_bars
    double psm_profit_target
    double psm_stop_loss
    double bull2
    double bull1
    double sell_edge
    double bear1
    double bear2


cdef struct Fees:
    long long sec  # per (share x $0.0001) in 1e-12 dollars: sec_fee_per_million x 100
    long long taf  # per share, 1e-12 dollars
    long long taf_max  # 1e-12 dollars
    long long cat  # per share, 1e-12 dollars
    long long commission  # per share, 1e-12 dollars


cdef struct Leg:
    int reduces
    int sell
    int sym
    double qty


cdef struct Working:
    int sym
    int sell
    long long qty
    long long decided_t
    int fill_index  # minute of the session it fills in
    int at_close


cdef inline long long div_half_even(long long num, long long den):
    """num / den rounded half to even (den > 0; C division truncates, so by magnitude)."""
    cdef long long q, r
    if num < 0:
        return -div_half_even(-num, den)
    q = num / den
    r = num - q * den
    if 2 * r > den or (2 * r == den and (q & 1)):
        q += 1
    return q


cdef inline long long div_ceil(long long num, long long den):
    """num / den rounded up (num >= 0, den > 0)."""
    return (num + den - 1) / den


cdef inline int leg_after(Leg* a, Leg* b):
    """Whether ``a`` sorts after ``b``: reducing first, sells before buys, then symbol."""
    if a.reduces != b.reduces:
        return b.reduces
    if a.sell != b.sell:
        return b.sell
    return a.sym > b.sym


cdef class DecisionLoop:
    """One account across sessions, the rotation strategy deciding (module docstring)."""

    cdef Params p
    cdef Fees fees
    cdef int S
    cdef double[:] boost
    cdef long long cash  # cents
    cdef long long accrued  # the session's regulatory fees, 1e-12 dollars
    cdef long long charged  # ... charged so far, cents
    cdef long long[:] qty
    cdef long long[:] cost  # signed, $0.0001 x shares
    cdef int[:] exotic
    cdef list cost_dec
    """A position's cost as the ledger's Decimal, once a partial reduction left it with more
    than 4 decimals (``exotic``); until the position is flat again."""
    # the strategy's state (reset every session)
    cdef int[:] in_book
    cdef long long[:] slot_qty
    cdef long long[:] slot_t
    cdef double[:] slot_price
    cdef long long[:] cooldown
    cdef int[:] has_cooldown
    cdef double[:] smoothed
    # per minute
    cdef int[:] filtered
    cdef int[:] rank
    cdef int[:] order
    cdef int n_ranked
    cdef double[:] pending
    cdef int[:] exited
    cdef int[:] entered
    cdef int[:] queue
    cdef long long[:] targets
    # PSM
    cdef int psm_state
    cdef int psm_has_entered
    cdef long long psm_entered
    cdef long long[:] psm_targets
    cdef int[:] cfg_order
    cdef int alloc_n[N_STATES]
    cdef int alloc_row[N_STATES][MAX_ALLOC]
    cdef double alloc_w[N_STATES][MAX_ALLOC]
    cdef double leverage[N_STATES]
    cdef Working* working
    cdef int n_working
    cdef Leg* legs
    cdef public int status
    cdef public int decimal_reductions
    """Partial reductions that left a cost with more than 4 decimals (the Decimal path)."""
    cdef public str reason
    cdef public bint record
    cdef public list orders
    cdef public list fills

    def __cinit__(self, *args, **kwargs):
        self.working = NULL
        self.legs = NULL

    def __init__(self, dict params, double[:] boost, dict fees, long long starting_cash_cents,
                 bint record=False, dict psm=None):
        """``params``: the decision knobs by name (:data:`PARAMS`); ``boost``: each row's
        leverage boost; ``fees``: the fee rates as integers (:data:`FEES`); ``record``:
        keep :attr:`orders` and :attr:`fills`. ``psm`` (the PSM strategy instead of rotation):
        ``signal_row``, ``min_hold_bars``, ``profit_target``, ``stop_loss``, ``edges`` (the
        ladder's bull2, bull1, sell, bear1, bear2 as it compares them; buy is
        ``buy_threshold``), ``alloc`` (per state of :data:`PSM_STATES`, its (row, weight)
        pairs in the strategy's order), ``leverage`` (per state) and ``order`` (the rows in
        the config's symbol order)."""
        cdef Params* p = &self.p
        cdef int k, j
        self.S = boost.shape[0]
        S = self.S
        missing = [n for n in PARAMS if n not in params] + [n for n in FEES if n not in fees]
        if missing:
            raise ValueError(f"DecisionLoop: missing knob(s) {missing}")
        p.max_positions = params["max_positions"]
        p.min_strength_to_enter = params["min_strength_to_enter"]
        p.min_strength_to_exit = params["min_strength_to_exit"]
        p.rotation_strength_delta = params["rotation_strength_delta"]
        p.min_hold_bars = params["min_hold_bars"]
        p.profit_target = params["profit_target"]
        p.stop_loss = params["stop_loss"]
        p.min_rank_to_hold = params["min_rank_to_hold"]
        p.cooldown_bars = params["cooldown_bars"]
        p.eod_liquidation = bool(params["eod_liquidation"])
        p.eod_exit_time_minutes = params["eod_exit_time_minutes"]
        p.buy_threshold = params["buy_threshold"]
        p.sell_threshold = params["sell_threshold"]
        p.has_margin = params["entry_cost_margin"] is not None
        p.entry_cost_margin = params["entry_cost_margin"] if p.has_margin else 0.0
        p.min_probability = params["min_probability"]
        p.min_confidence = params["min_confidence"]
        p.min_strength = params["min_strength"]
        p.smoothing_alpha = params["smoothing_alpha"]
        p.max_signal_age_bars = params["max_signal_age_bars"]
        p.daily_loss_limit_pct = params["daily_loss_limit_pct"]
        p.max_position_pct = params["max_position_pct"]
        p.max_orders_per_minute = params["max_orders_per_minute"]
        p.capital_fraction = params["capital_fraction"]
        p.has_allocated = params["allocated_capital"] is not None
        p.allocated_capital = params["allocated_capital"] if p.has_allocated else 0.0
        p.eod_minutes_before_close = params["eod_minutes_before_close"]
        p.no_entry_minutes_before_close = params["no_entry_minutes_before_close"]
        if p.max_positions < 1:
            raise ValueError(f"max_positions={p.max_positions} must be >= 1")
        p.strategy = ROTATION if psm is None else PSM
        self.psm_targets = np.zeros(S, dtype=np.int64)
        self.cfg_order = np.arange(S, dtype=np.int32)
        if psm is not None:
            p.signal_row = psm["signal_row"]
            p.psm_min_hold_bars = psm["min_hold_bars"]
            p.psm_profit_target = psm["profit_target"]
            p.psm_stop_loss = psm["stop_loss"]
            p.bull2, p.bull1, p.sell_edge, p.bear1, p.bear2 = psm["edges"]
            if len(psm["alloc"]) != N_STATES or len(psm["leverage"]) != N_STATES:
                raise ValueError(f"psm alloc and leverage need one entry per state {PSM_STATES}")
            for k in range(N_STATES):
                if len(psm["alloc"][k]) > MAX_ALLOC:
                    raise ValueError(f"psm state {PSM_STATES[k]} holds more than {MAX_ALLOC} symbols")
                self.alloc_n[k] = len(psm["alloc"][k])
                for j, (row, w) in enumerate(psm["alloc"][k]):
                    self.alloc_row[k][j] = row
                    self.alloc_w[k][j] = w
                self.leverage[k] = psm["leverage"][k]
            self.cfg_order = np.array(psm["order"], dtype=np.int32)
        self.fees.sec = fees["sec"]
        self.fees.taf = fees["taf"]
        self.fees.taf_max = fees["taf_max"]
        self.fees.cat = fees["cat"]
        self.fees.commission = fees["commission"]
        self.boost = np.array(boost, dtype=np.float64)
        self.cash = starting_cash_cents
        self.accrued = 0
        self.charged = 0
        self.qty = np.zeros(S, dtype=np.int64)
        self.cost = np.zeros(S, dtype=np.int64)
        self.exotic = np.zeros(S, dtype=np.int32)
        self.cost_dec = [None] * S
        self.in_book = np.zeros(S, dtype=np.int32)
        self.slot_qty = np.zeros(S, dtype=np.int64)
        self.slot_t = np.zeros(S, dtype=np.int64)
        self.slot_price = np.zeros(S, dtype=np.float64)
        self.cooldown = np.zeros(S, dtype=np.int64)
        self.has_cooldown = np.zeros(S, dtype=np.int32)
        self.smoothed = np.zeros(S, dtype=np.float64)
        self.filtered = np.zeros(S, dtype=np.int32)
        self.rank = np.zeros(S, dtype=np.int32)
        self.order = np.zeros(S + 1, dtype=np.int32)
        self.pending = np.zeros(S, dtype=np.float64)
        self.exited = np.zeros(S, dtype=np.int32)
        self.entered = np.zeros(S, dtype=np.int32)
        self.queue = np.zeros(S + 1, dtype=np.int32)
        self.targets = np.zeros(S, dtype=np.int64)
        self.working = <Working*> malloc(MAX_WORKING * sizeof(Working))
        self.legs = <Leg*> malloc((2 * S + 1) * sizeof(Leg))
        if self.working == NULL or self.legs == NULL:
            raise MemoryError()
        self.n_working = 0
        self.status = STATUS_OK
        self.decimal_reductions = 0
        self.reason = ""
        self.record = record
        self.orders = []
        self.fills = []

    def __dealloc__(self):
        free(self.working)
        free(self.legs)

    cdef void _unsupported(self, str why):
        if self.status == STATUS_OK:
            self.status = STATUS_UNSUPPORTED
            self.reason = why

    # ------------------------------------------------------------------ the account

    cdef long long _avg6(self, int i):
        """The position's avg_entry_price quantized to $0.000001 (half even), in 1e-6 dollars."""
        cdef long long num = self.cost[i] * 100, den = self.qty[i]
        if self.exotic[i]:
            return int((self.cost_dec[i] / Decimal(self.qty[i])).quantize(ENTRY_STEP).scaleb(6))
        if den < 0:
            num, den = -num, -den
        return div_half_even(num, den)

    cdef long long _equity_cents(self, long long[:] marks, unsigned char[:] has_mark):
        """SimAccount.equity: cash plus each position at its mark (else its cost), to the cent."""
        cdef long long total = self.cash * 100
        cdef int i
        for i in range(self.S):
            if self.qty[i] != 0:
                if has_mark[i]:
                    total += self.qty[i] * marks[i]
                elif self.exotic[i]:
                    self._unsupported("an unmarked position whose cost has more than 4 decimals")
                    return 0
                else:
                    total += self.cost[i]
        return div_half_even(total, 100)

    cdef double _equity_float(self, double[:, :] close, int r):
        """engine.risk.mark_to_market of the broker's cash and holdings, as floats."""
        cdef double total = <double> self.cash / 100.0
        cdef double price
        cdef int i
        for i in range(self.S):
            if self.qty[i] != 0:
                price = close[i, r]
                if not (isfinite(price) and price > 0):
                    price = <double> self._avg6(i) / 1e6
                total += <double> self.qty[i] * price
        return total

    cdef int _book(self, Working* w, object price_fn, int lo, long long[:] t_ms,
                   long long close_ms, int* trades):
        """Fill one working order: ledger.costs.book_fill on the portfolio."""
        cdef int i = w.sym
        cdef long long q = w.qty
        cdef long long px = price_fn(i, lo + w.fill_index, bool(w.at_close), not w.sell)
        cdef long long value, sec = 0, taf = 0, cat, commission, due, charged, fee, cash_delta
        cdef long long sgn, q0, q1, at
        if px <= 0 or q <= 0 or q > MAX_QTY or px > MAX_PRICE:
            self._unsupported(f"a fill of {q} shares at {px / 1e4} is past the compiled loop's range")
            return -1
        value = q * px
        if w.sell:
            if self.fees.sec != 0 and value > BIG // self.fees.sec:
                self._unsupported("an SEC fee past the compiled loop's range")
                return -1
            sec = value * self.fees.sec
            taf = q * self.fees.taf
            if taf > self.fees.taf_max:
                taf = self.fees.taf_max
        cat = q * self.fees.cat
        commission = div_half_even(q * self.fees.commission, FEE_UNITS_PER_CENT)
        self.accrued += sec + taf + cat
        due = div_ceil(self.accrued, FEE_UNITS_PER_CENT)
        charged = due - self.charged
        self.charged = due
        fee = commission + charged
        if w.sell:
            sgn = -q
            cash_delta = div_half_even(value, 100) - fee
        else:
            sgn = q
            cash_delta = -div_half_even(value, 100) - fee
        self.cash += cash_delta
        q0 = self.qty[i]
        q1 = q0 + sgn
        if q0 == 0:
            self.qty[i] = sgn
            self.cost[i] = sgn * px
        elif q1 == 0:
            self.qty[i] = 0
            self.cost[i] = 0
            self.exotic[i] = 0
            self.cost_dec[i] = None
        elif (q0 > 0) == (sgn > 0):
            if self.exotic[i]:  # Portfolio: pos.cost += signed * price, in Decimal
                self.cost_dec[i] = self.cost_dec[i] + Decimal(sgn) * Decimal(px).scaleb(-4)
            else:
                self.cost[i] += sgn * px
            self.qty[i] = q1
        elif (q0 > 0) == (q1 > 0):
            if not self.exotic[i] and (self.cost[i] * q1) % q0 == 0:
                self.cost[i] = self.cost[i] * q1 / q0
            else:  # pos.cost * q1 / q0 is inexact: the ledger's Decimal from here on
                if not self.exotic[i]:
                    self.cost_dec[i] = Decimal(self.cost[i]).scaleb(-4)
                    self.exotic[i] = 1
                self.decimal_reductions += 1
                self.cost_dec[i] = self.cost_dec[i] * Decimal(q1) / Decimal(q0)
            self.qty[i] = q1
        else:
            self.qty[i] = q1
            self.cost[i] = q1 * px
            self.exotic[i] = 0
            self.cost_dec[i] = None
        if q1 == 0:
            trades[0] += 1
        if self.record:
            at = close_ms if w.at_close else t_ms[w.fill_index]
            self.fills.append((i, "sell" if w.sell else "buy", float(q), px, fee, at,
                               w.decided_t, cash_delta, float(q1)))
        return 0

    cdef int _fill_due(self, int n, bint everything, object price_fn, int lo, long long[:] t_ms,
                       long long close_ms, int* trades):
        """Fill the working orders due at the open of session minute ``n`` (all of them at
        the close: ``everything``), in the order they were sent; the count, -1: unsupported."""
        cdef int j, k = 0, filled = 0
        cdef Working w
        for j in range(self.n_working):
            w = self.working[j]
            if everything or (w.fill_index == n and not w.at_close):
                if self._book(&w, price_fn, lo, t_ms, close_ms, trades) < 0:
                    return -1
                filled += 1
            else:
                self.working[k] = w
                k += 1
        self.n_working = k
        return filled

    cdef int _cancel(self, int sym, int sell):
        """Cancel working orders (``sym`` -1: of every symbol; ``sell`` -1: both sides); the count."""
        cdef int j, k = 0, gone = 0
        for j in range(self.n_working):
            if (sym < 0 or self.working[j].sym == sym) and (sell < 0 or self.working[j].sell == sell):
                gone += 1
            else:
                self.working[k] = self.working[j]
                k += 1
        self.n_working = k
        return gone

    # ------------------------------------------------------------------ the strategy

    cdef void _aggregate(self, int r, double[:, :] prob, double[:, :] conf,
                         long long[:, :] age, int first):
        """SignalAggregator.update: smoothed strengths, filters and ranks (0: unranked)."""
        cdef Params* p = &self.p
        cdef int i, j, n = 0
        cdef double raw, pr, cf
        for i in range(self.S):
            raw = 0.0
            self.filtered[i] = 1
            if age[i, r] >= 0 and age[i, r] <= p.max_signal_age_bars:
                pr = prob[i, r]
                cf = conf[i, r]
                if not (pr < p.min_probability) and not (cf < p.min_confidence):
                    self.filtered[i] = 0
                    raw = pr * cf * self.boost[i]
            if first:
                self.smoothed[i] = raw
            else:
                self.smoothed[i] = p.smoothing_alpha * raw + (1.0 - p.smoothing_alpha) * self.smoothed[i]
            self.rank[i] = 0
        for i in range(self.S):  # strongest first, ties by symbol (row): a stable insertion
            if self.smoothed[i] >= p.min_strength and self.smoothed[i] > 0:
                j = n
                while j > 0 and self.smoothed[self.order[j - 1]] < self.smoothed[i]:
                    self.order[j] = self.order[j - 1]
                    j -= 1
                self.order[j] = i
                n += 1
        for j in range(n):
            self.rank[self.order[j]] = j + 1
        self.n_ranked = n

    cdef void _exit(self, int i, long long t):
        self.in_book[i] = 0
        self.cooldown[i] = t + self.p.cooldown_bars * MINUTE_MS
        self.has_cooldown[i] = 1
        self.exited[i] = 1

    cdef int _enter(self, int i, double per_slot, double price, long long t):
        """Enter row ``i`` at ``price`` with ``per_slot`` dollars (whole shares); 0 if none."""
        cdef long long q
        if not (isfinite(per_slot) and per_slot > 0):
            return 0
        q = <long long> floor(per_slot / price + 1e-9)
        if q <= 0:
            return 0
        self.in_book[i] = 1
        self.slot_qty[i] = q
        self.slot_t[i] = t
        self.slot_price[i] = price
        self.entered[i] = 1
        return 1

    cdef void _decide(self, int r, long long t, long long minute_index, int is_eod,
                      int entries_allowed, double equity, double[:, :] close,
                      double[:, :] prob, double[:, :] rhat, long long[:, :] age,
                      double[:] rt_cost, unsigned char[:] has_cost):
        """RotationStrategy.decide after the aggregator; the targets in :attr:`targets`."""
        cdef Params* p = &self.p
        cdef int i, x, n_book, cand, weakest, head = 0, tail = 0
        cdef long long bars
        cdef double price, entry, avg, ret, base, per_slot, gap
        for i in range(self.S):
            self.exited[i] = 0
            self.entered[i] = 0
        if is_eod or (p.eod_liquidation and minute_index + 1 >= p.eod_exit_time_minutes):
            for i in range(self.S):
                self.in_book[i] = 0
        else:
            for i in range(self.S):  # exits of the book, in symbol order
                if not self.in_book[i]:
                    continue
                price = close[i, r]
                if price != price:
                    continue  # hold: no price
                bars = (t - self.slot_t[i]) / MINUTE_MS
                if bars < 0:
                    bars = 0
                entry = self.slot_price[i]
                if self.qty[i] > 0:
                    avg = <double> self._avg6(i) / 1e6
                    if avg > 0:
                        entry = avg
                ret = price / entry - 1.0
                if ret <= -p.stop_loss or ret >= p.profit_target:
                    self._exit(i, t)
                    continue
                if bars < p.min_hold_bars:
                    continue
                if (age[i, r] >= 0 and prob[i, r] <= p.sell_threshold) \
                        or self.smoothed[i] < p.min_strength_to_exit \
                        or self.rank[i] == 0 or self.rank[i] > p.min_rank_to_hold:
                    self._exit(i, t)
            if entries_allowed:
                base = equity
                if p.has_allocated and p.allocated_capital < base:
                    base = p.allocated_capital
                per_slot = base * p.capital_fraction
                if not (per_slot > 0.0):
                    per_slot = 0.0
                per_slot = per_slot / p.max_positions
                for x in range(self.n_ranked):  # the candidates, by rank
                    i = self.order[x]
                    if self.in_book[i] or self.exited[i] or self.filtered[i]:
                        continue
                    if self.has_cooldown[i] and t < self.cooldown[i]:
                        continue
                    if age[i, r] < 0 or prob[i, r] < p.buy_threshold:
                        continue
                    if self.smoothed[i] < p.min_strength_to_enter:
                        continue
                    if close[i, r] != close[i, r]:
                        continue
                    if p.has_margin and not (has_cost[i] and rhat[i, r] > p.entry_cost_margin * rt_cost[i]):
                        continue
                    self.queue[tail] = i
                    tail += 1
                n_book = 0
                for i in range(self.S):
                    n_book += self.in_book[i]
                while head < tail and n_book < p.max_positions:
                    i = self.queue[head]
                    head += 1
                    n_book += self._enter(i, per_slot, close[i, r], t)
                while head < tail:  # rotation over the weakest holding past its minimum hold
                    cand = self.queue[head]
                    weakest = -1
                    for i in range(self.S):
                        if self.in_book[i] and not self.entered[i] \
                                and (t - self.slot_t[i]) / MINUTE_MS >= p.min_hold_bars:
                            if weakest < 0 or self.smoothed[i] < self.smoothed[weakest]:
                                weakest = i
                    if weakest < 0:
                        break
                    gap = self.smoothed[cand] - self.smoothed[weakest]
                    if gap < p.rotation_strength_delta:
                        break
                    head += 1
                    self._exit(weakest, t)
                    if not self._enter(cand, per_slot, close[cand, r], t):
                        break
        for i in range(self.S):
            self.targets[i] = self.slot_qty[i] if self.in_book[i] else 0

    # ------------------------------------------------------------------ PSM

    cdef int _psm_go(self, int state, long long t, double equity, double[:, :] close, int r):
        """PsmStrategy._go: size ``state`` from equity (whole shares); 0 when a price is missing."""
        cdef Params* p = &self.p
        cdef int j, i
        cdef double capital, dollars, price
        if state == self.psm_state and state == CASH:
            return 0
        base = equity
        if p.has_allocated and p.allocated_capital < base:
            base = p.allocated_capital
        capital = base * p.capital_fraction
        if not (capital > 0.0):
            capital = 0.0
        for j in range(self.alloc_n[state]):
            if close[self.alloc_row[state][j], r] != close[self.alloc_row[state][j], r]:
                return 0  # hold: a symbol of the state has no price
        for i in range(self.S):
            self.psm_targets[i] = 0
        for j in range(self.alloc_n[state]):
            i = self.alloc_row[state][j]
            price = close[i, r]
            dollars = capital * self.alloc_w[state][j]
            if isfinite(dollars) and dollars > 0:
                self.psm_targets[i] = <long long> floor(dollars / price + 1e-9)
        self.psm_state = state
        self.psm_entered = t
        self.psm_has_entered = 1
        return 1

    cdef void _psm_decide(self, int r, long long t, int is_eod, int entries_allowed, double equity,
                          double[:, :] close, double[:, :] prob, double[:, :] rhat,
                          long long[:, :] age, double[:] rt_cost, unsigned char[:] has_cost):
        """PsmStrategy.decide; the targets in :attr:`targets`."""
        cdef Params* p = &self.p
        cdef long long bars
        cdef int i, j, x, desired, ok, priced
        cdef double pnl, cost, price, entry, ret, pr, rh, expected, gate_cost
        cdef int sig = p.signal_row
        if not self.psm_has_entered:
            bars = 1 << 30
        else:
            bars = (t - self.psm_entered) / MINUTE_MS
            if bars < 0:
                bars = 0
        if is_eod:
            self._psm_go(CASH, t, equity, close, r)
        else:
            while True:
                if self.psm_state != CASH:
                    pnl = cost = 0.0
                    priced = 1
                    for x in range(self.S):  # in the config's symbol order
                        i = self.cfg_order[x]
                        if self.qty[i] == 0:
                            continue
                        price = close[i, r]
                        if price != price:
                            priced = 0
                            break
                        entry = <double> self._avg6(i) / 1e6
                        pnl += <double> self.qty[i] * (price - entry)
                        cost += <double> (self.qty[i] if self.qty[i] > 0 else -self.qty[i]) * entry
                    if priced and cost > 0:
                        ret = pnl / cost
                        if ret >= p.psm_profit_target or ret <= -p.psm_stop_loss:
                            self._psm_go(CASH, t, equity, close, r)
                            break
                if age[sig, r] < 0:
                    break  # hold: no signal
                pr = prob[sig, r]
                rh = rhat[sig, r]
                if pr >= p.buy_threshold:
                    desired = 2 if pr >= p.bull2 else 3 if pr >= p.bull1 else 1
                elif pr > p.sell_edge:
                    desired = CASH
                elif pr > p.bear1:
                    desired = 4
                elif pr > p.bear2:
                    desired = 6
                else:
                    desired = 5
                if desired == self.psm_state:
                    break
                if self.psm_state != CASH and bars < p.psm_min_hold_bars:
                    break
                if desired != CASH and not entries_allowed:
                    break
                if desired != CASH and p.has_margin:
                    expected = rh * self.leverage[desired]
                    gate_cost = 0.0
                    ok = 1
                    for j in range(self.alloc_n[desired]):
                        i = self.alloc_row[desired][j]
                        if not has_cost[i]:
                            ok = 0
                            break
                        gate_cost = gate_cost + self.alloc_w[desired][j] * rt_cost[i]
                    if ok:
                        ok = expected > p.entry_cost_margin * gate_cost
                    if not ok:
                        if self.psm_state != CASH and rh * self.leverage[self.psm_state] > 0:
                            break  # hold: the position still expects a gain
                        self._psm_go(CASH, t, equity, close, r)
                        break
                self._psm_go(desired, t, equity, close, r)
                break
        for i in range(self.S):
            self.targets[i] = self.psm_targets[i]

    # ------------------------------------------------------------------ the order plan

    cdef int _legs(self, int n, int i, double effective, double target):
        """order_plan._legs: append the legs from ``effective`` to ``target``; the new count."""
        cdef double delta = target - effective, cut, cover
        if fabs(delta) <= QTY_EPS:
            return n
        if delta < 0:
            if effective > QTY_EPS:
                cut = -delta if -delta < effective else effective
                n = self._leg(n, 1, 1, i, cut)
                delta += cut
            if delta < -QTY_EPS:
                n = self._leg(n, 0, 1, i, -delta)
        else:
            if effective < -QTY_EPS:
                cover = delta if delta < -effective else -effective
                n = self._leg(n, 1, 0, i, cover)
                delta -= cover
            if delta > QTY_EPS:
                n = self._leg(n, 0, 0, i, delta)
        return n

    cdef inline int _leg(self, int n, int reduces, int sell, int i, double qty):
        self.legs[n].reduces = reduces
        self.legs[n].sell = sell
        self.legs[n].sym = i
        self.legs[n].qty = qty
        return n + 1

    cdef int _order(self, int n):
        """Sort the legs (reducing first, sells before buys, then symbol) and keep what
        ``max_orders_per_minute`` allows; the number kept."""
        cdef int j, k, room, n_reducing = 0
        cdef Leg tmp
        for j in range(1, n):
            tmp = self.legs[j]
            k = j - 1
            while k >= 0 and leg_after(&self.legs[k], &tmp):
                self.legs[k + 1] = self.legs[k]
                k -= 1
            self.legs[k + 1] = tmp
        for j in range(n):
            n_reducing += self.legs[j].reduces
        room = self.p.max_orders_per_minute - n_reducing
        k = 0
        for j in range(n):
            if not self.legs[j].reduces:
                if room <= 0:
                    continue
                room -= 1
            self.legs[k] = self.legs[j]
            k += 1
        return k

    cdef int _plan(self, double equity, double start_equity, int halted, double[:, :] close,
                   int r, int apply_cancels, int* halt_now, int* canceled):
        """plan_orders (the daily loss halt, cancels, the cap per position); the legs in
        :attr:`legs`, their count."""
        cdef Params* p = &self.p
        cdef int i, n = 0, halt = halted
        cdef double pos, pend, effective, target, price, cap
        cdef long long allowed, ms
        if not halt and (start_equity - equity) / start_equity >= p.daily_loss_limit_pct:
            halt = 1
        halt_now[0] = halt
        for i in range(self.S):
            pos = <double> self.qty[i]
            pend = self.pending[i]
            effective = pos + pend
            target = 0.0 if halt else <double> self.targets[i]
            if pend > QTY_EPS and target < effective - QTY_EPS:
                if apply_cancels:
                    canceled[0] += self._cancel(i, 0)
                effective = pos
            elif pend < -QTY_EPS and target > effective + QTY_EPS:
                if apply_cancels:
                    canceled[0] += self._cancel(i, 1)
                effective = pos
            if target > effective + QTY_EPS:
                price = close[i, r]
                if not (isfinite(price) and price > 0):
                    if effective < -QTY_EPS:
                        if target > 0:
                            target = 0.0
                    else:
                        continue  # deferred: no price
                else:
                    cap = p.max_position_pct * (equity if equity > 0.0 else 0.0)
                    ms = <long long> floor(cap / price + 1e-9)
                    allowed = <long long> floor(effective)
                    if ms > allowed:
                        allowed = ms
                    if <double> allowed < target:
                        target = <double> allowed
            n = self._legs(n, i, effective, target)
        return self._order(n)

    cdef int _flatten(self):
        """flatten_plan: close every position (every working order was just canceled)."""
        cdef int i, n = 0
        for i in range(self.S):
            if self.qty[i] != 0:
                n = self._legs(n, i, <double> self.qty[i], 0.0)
        return self._order(n)

    cdef int _submit(self, int n_legs, int r, int m, long long t, int[:, :] nxt,
                     unsigned char[:] close_ok, object price_fn, int lo, long long[:] t_ms,
                     long long close_ms, int* trades, int* fills):
        """SimAccount.submit of the legs decided on session minute ``r``; -1: unsupported."""
        cdef int j, arrival = r + 1, idx, at_close
        cdef Working w
        cdef Leg* leg
        for j in range(n_legs):
            leg = &self.legs[j]
            if leg.qty != floor(leg.qty) or leg.qty > MAX_QTY:
                self._unsupported(f"an order of {leg.qty} shares (fractional or too large)")
                return -1
            if self.record:
                self.orders.append((t, leg.sym, "sell" if leg.sell else "buy", leg.qty))
            if arrival >= m:
                continue  # arrives after the session: cannot fill
            idx = nxt[leg.sym, arrival]
            at_close = 0
            if idx < 0:
                if not close_ok[leg.sym]:
                    continue  # no price at all: never fills
                idx = m - 1
                at_close = 1
            w.sym = leg.sym
            w.sell = leg.sell
            w.qty = <long long> leg.qty
            w.decided_t = t
            w.fill_index = idx
            w.at_close = at_close
            if idx == arrival and not at_close:
                if self._book(&w, price_fn, lo, t_ms, close_ms, trades) < 0:
                    return -1
                fills[0] += 1
            else:
                if self.n_working >= MAX_WORKING:
                    self._unsupported("more working orders than the compiled loop holds")
                    return -1
                self.working[self.n_working] = w
                self.n_working += 1
        return 0

    # ------------------------------------------------------------------ one session

    def session(self, long long[:] t_ms, long long open_ms, long long close_ms, int lo,
                double[:, :] close, int[:, :] nxt, unsigned char[:] close_ok,
                double[:, :] prob, double[:, :] conf, double[:, :] rhat, long long[:, :] age,
                double[:] rt_cost, unsigned char[:] has_cost,
                long long[:] start_marks, unsigned char[:] has_start_mark,
                long long[:] end_marks, unsigned char[:] has_end_mark, object price_fn):
        """Decide and fill one session.

        Arrays are the session's minutes (columns) with rows in symbol order; ``lo`` is the
        session's first grid minute; ``nxt[i, r]``: the first minute >= r of the session
        where row ``i`` has a real bar (-1: none); ``close_ok[i]``: the session's last
        price of row ``i`` can fill an order at the close; marks in $0.0001.
        ``price_fn(row, grid minute, at_close, buy)``: a fill's execution price in $0.0001.
        Returns (start equity cents, end equity cents, orders, fills, round trips, halted,
        unsent, canceled), or None when the run left what the loop models (:attr:`reason`).
        """
        cdef int m = t_ms.shape[0], r, i, j, n_legs, got, halt_now = 0
        cdef int halted = 0, eod_done = 0, trades = 0, fills = 0, orders = 0, unsent = 0
        cdef int canceled = 0
        cdef long long t, start_cents, end_cents
        cdef double start_equity, equity
        cdef int is_eod, entries_allowed, allowed
        if self.status != STATUS_OK:
            return None
        start_cents = self._equity_cents(start_marks, has_start_mark)
        if self.status != STATUS_OK:
            return None
        start_equity = <double> start_cents / 100.0
        self.accrued = 0
        self.charged = 0
        for i in range(self.S):
            self.in_book[i] = 0
            self.has_cooldown[i] = 0
            self.psm_targets[i] = 0
        self.psm_state = CASH
        self.psm_has_entered = 0
        for r in range(m):
            t = t_ms[r]
            if r + 1 < m:
                got = self._fill_due(r + 1, False, price_fn, lo, t_ms, close_ms, &trades)
            else:
                got = self._fill_due(r, True, price_fn, lo, t_ms, close_ms, &trades)
            if got < 0:
                return None
            fills += got
            equity = self._equity_float(close, r)
            is_eod = t + MINUTE_MS >= close_ms - self.p.eod_minutes_before_close * MINUTE_MS
            entries_allowed = t + MINUTE_MS < close_ms - self.p.no_entry_minutes_before_close * MINUTE_MS
            allowed = t + MINUTE_MS < close_ms
            if self.p.strategy == PSM:
                self._psm_decide(r, t, is_eod, entries_allowed, equity, close, prob, rhat, age,
                                 rt_cost, has_cost)
            else:
                self._aggregate(r, prob, conf, age, r == 0)
                self._decide(r, t, (t - open_ms) / MINUTE_MS, is_eod, entries_allowed, equity,
                             close, prob, rhat, age, rt_cost, has_cost)
            for i in range(self.S):
                self.pending[i] = 0.0
            for j in range(self.n_working):
                i = self.working[j].sym
                if self.working[j].sell:
                    self.pending[i] = self.pending[i] - <double> self.working[j].qty
                else:
                    self.pending[i] = self.pending[i] + <double> self.working[j].qty
            eod_now = allowed and is_eod and not eod_done
            n_legs = self._plan(equity, start_equity, halted, close, r,
                                allowed and not eod_now, &halt_now, &canceled)
            halted = halted or halt_now
            if not allowed:
                unsent += n_legs
                continue
            if eod_now:
                eod_done = 1
                canceled += self._cancel(-1, -1)
                n_legs = self._flatten()
            orders += n_legs
            if self._submit(n_legs, r, m, t, nxt, close_ok, price_fn, lo, t_ms, close_ms,
                            &trades, &fills) < 0:
                return None
        end_cents = self._equity_cents(end_marks, has_end_mark) if m else start_cents
        if self.status != STATUS_OK:
            return None
        return (start_cents, end_cents, orders, fills, trades, bool(halted), unsent, canceled)

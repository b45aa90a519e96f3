"""Start-up reconciliation: the broker's positions and open orders → strategy state.

Inputs are the broker's word (``GET /v2/positions``, ``GET /v2/orders?status=open``) and
the journal's last state; the broker wins where they differ.

1. Open orders. Ours for this strategy and today (by the client_order_id format,
   :mod:`engine.order_ids`) are *adopted*: their unfilled remainder counts as pending.
   Every other open order on a strategy symbol — another strategy's, an earlier day's, a
   hand-placed one — is cancelled; orders on other symbols are cancelled only under the
   ``flatten`` policy.
2. Holdings = positions + adopted remainders. They *fit* when every symbol is the
   strategy's, nothing is short or fractional, and — PSM — the long set is exactly one
   state's (SPY+SPXL → BASE_BULL_3X, SH+SDS → BASE_BEAR_2X, SPXL → SPXL_ONLY, nothing →
   CASH_ONLY, ...), or — rotation — there are at most ``max_positions`` of them.
3. Holdings that fit no state follow ``reconciliation.policy``:
   ``flatten`` (default) — cancel every open order, every target 0, strategy state reset;
   ``adopt`` — keep what is held: foreign symbols are left alone (never traded), shorts in
   strategy symbols are covered, PSM keeps an unrecognized mix as state ``ADOPTED`` until
   its next transition, rotation takes every long into its book;
   ``halt`` — change nothing, send nothing; the engine stops and tells the operator.
4. Quantities: a holding further than ``rebalance_tolerance`` (relative) from the state's
   allocation at current prices gets the allocation as its target (a rebalance order);
   otherwise its quantity is kept, so a relaunch sends nothing for what it already holds.
5. The journal's state (same strategy and session) is restored where it agrees with the
   broker: PSM — same state and every quantity within tolerance → its entry minute (hold
   clock) and targets; rotation — per symbol, same holding within tolerance → its entry
   minute and quantity. Cooldowns and smoothed strengths of the session are kept (they
   only restrain). Anything else is reset conservatively: the hold clock starts now and
   entry prices are the broker's average entry prices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from common.config import StrategyConfig
from common.quantities import QTY_EPS
from common.rest_models import OPEN_STATUSES
from engine.order_ids import parse_client_order_id
from engine.strategies.base import StateError, Strategy
from engine.strategies.psm import ADOPTED, PsmStrategy
from engine.strategies.psm_ladder import ALLOCATIONS, PsmState, recognize
from engine.strategies.rotation import RotationStrategy, Slot
from engine.strategies.sizing import trading_capital, whole_shares


class BrokerPosition(Protocol):
    """The fields read from a position (``common.rest_models.Position`` has them)."""

    symbol: str
    qty: float
    side: str
    avg_entry_price: float


class BrokerOrder(Protocol):
    """The fields read from an order (``common.rest_models.Order`` has them)."""

    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: float | None
    filled_qty: float
    status: str


Action = Literal["continue", "flatten", "halt"]


@dataclass(frozen=True)
class ReconcileResult:
    """What reconciliation found and what the engine must do about it."""

    strategy: str
    state_name: str
    action: Action
    strategy_state: dict[str, Any]
    targets: dict[str, int]
    pending: dict[str, float]
    adopt_order_ids: tuple[str, ...]
    cancel_order_ids: tuple[str, ...]
    holdings: dict[str, float]
    journal: str  # "restored", "partly restored", "reset", "none", "ignored: ..."
    issues: tuple[str, ...] = ()
    details: tuple[str, ...] = field(default=())

    @property
    def summary(self) -> str:
        held = ", ".join(f"{s} {q:g}" for s, q in sorted(self.holdings.items())) or "no positions"
        parts = [
            f"{self.state_name} ({held})",
            f"action {self.action}",
            f"journal {self.journal}",
            f"{len(self.adopt_order_ids)} open orders adopted, {len(self.cancel_order_ids)} to cancel",
        ]
        changes = [
            f"{s}->{q}"
            for s, q in sorted(self.targets.items())
            if abs(q - self.holdings.get(s, 0.0)) > QTY_EPS
        ]
        if changes:
            parts.append("rebalance " + " ".join(changes))
        if self.issues:
            parts.append("issues: " + "; ".join(self.issues))
        return ", ".join(parts)

    def log_line(self) -> str:
        return f"Position reconciliation complete: {self.summary}"


def _signed_qty(p: BrokerPosition) -> float:
    q = float(p.qty)
    return -abs(q) if str(p.side).lower() == "short" else q


def _is_whole(q: float) -> bool:
    return abs(q - round(q)) <= 1e-6


def _usable(price: float | None) -> bool:
    return price is not None and math.isfinite(price) and price > 0


def _whole(q: float) -> int:
    return int(math.floor(q + 1e-6))


def _within(actual: float, wanted: int, tolerance: float) -> bool:
    if wanted <= 0:
        return abs(actual) <= QTY_EPS
    return abs(actual - wanted) <= tolerance * wanted + QTY_EPS


def reconcile(
    strategy: Strategy,
    positions: Sequence[BrokerPosition],
    open_orders: Sequence[BrokerOrder],
    *,
    session_date: date,
    t_ms: int,
    prices: Mapping[str, float],
    equity: float,
    journal_state: Mapping[str, Any] | None = None,
) -> ReconcileResult:
    """Map the broker's book onto ``strategy`` (not modified: load ``result.strategy_state``)."""
    cfg: StrategyConfig = strategy.config
    rc = cfg.reconciliation
    symbols = set(strategy.symbols)
    issues: list[str] = []
    details: list[str] = []

    pos: dict[str, float] = {}
    entry: dict[str, float] = {}
    for p in positions:
        q = _signed_qty(p)
        if abs(q) <= QTY_EPS:
            continue
        pos[p.symbol] = pos.get(p.symbol, 0.0) + q
        entry[p.symbol] = float(p.avg_entry_price)

    adopt: list[BrokerOrder] = []
    other: list[BrokerOrder] = []
    for o in open_orders:
        if o.status not in OPEN_STATUSES:
            continue
        key = parse_client_order_id(o.client_order_id)
        ours = (
            key is not None and key.strategy == strategy.name and key.session_date == session_date
        )
        (adopt if ours and o.symbol in symbols else other).append(o)
    unpriced = [o for o in adopt if o.symbol not in pos and not _usable(prices.get(o.symbol))]
    for o in unpriced:
        issues.append(
            f"open order {o.client_order_id} on {o.symbol}: no position and no price: cancel"
        )
        adopt.remove(o)
        other.append(o)
    pending: dict[str, float] = {}
    for o in adopt:
        left = max(0.0, float(o.qty or 0.0) - float(o.filled_qty or 0.0))
        pending[o.symbol] = pending.get(o.symbol, 0.0) + (left if o.side == "buy" else -left)
        details.append(f"adopt open order {o.client_order_id} {o.side} {left:g} {o.symbol}")
    holdings = {s: q for s, q in pos.items()}
    for s, q in pending.items():
        holdings[s] = holdings.get(s, 0.0) + q
    holdings = {s: q for s, q in holdings.items() if abs(q) > QTY_EPS}

    foreign = sorted(s for s in holdings if s not in symbols)
    shorts = sorted(s for s, q in holdings.items() if s in symbols and q < 0)
    fractional = sorted(s for s, q in holdings.items() if s in symbols and not _is_whole(q))
    longs = {s: q for s, q in holdings.items() if s in symbols and q > 0}
    unfit: list[str] = []
    if foreign:
        unfit.append(f"symbols outside the strategy: {foreign}")
    if shorts:
        unfit.append(f"short positions: {shorts}")
    if fractional:
        unfit.append(f"fractional quantities: {fractional}")
    if isinstance(strategy, PsmStrategy) and recognize(longs) is None:
        unfit.append(f"no PSM state holds {sorted(longs)}")
    if isinstance(strategy, RotationStrategy):
        mx = strategy.mgr.max_positions
        if len(longs) > mx:
            unfit.append(f"{len(longs)} rotation holdings exceed max_positions={mx}")

    policy = rc.policy if unfit else None
    if unfit:
        issues.extend(unfit)
        details.append(f"holdings fit no state; policy {policy}")

    scratch = type(strategy)(cfg)  # type: ignore[call-arg]
    scratch.reset(session_date)
    cancel_foreign_symbols = policy == "flatten"
    cancel_ids = [o.id for o in other if o.symbol in symbols or cancel_foreign_symbols]
    for o in other:
        if o.symbol in symbols or cancel_foreign_symbols:
            details.append(f"cancel open order {o.client_order_id or o.id} {o.side} {o.symbol}")

    if policy == "halt":
        return ReconcileResult(
            strategy.name,
            "HALT",
            "halt",
            scratch.state_dict(),
            {s: _whole(q) for s, q in holdings.items() if s in symbols and q > 0},
            pending,
            tuple(o.id for o in adopt),
            (),
            holdings,
            "none",
            tuple(issues),
            tuple(details),
        )
    if policy == "flatten":
        targets = dict.fromkeys(sorted(set(strategy.symbols) | set(holdings)), 0)
        name = "CASH_ONLY" if isinstance(strategy, PsmStrategy) else "ROTATION[]"
        return ReconcileResult(
            strategy.name,
            name,
            "flatten",
            scratch.state_dict(),
            targets,
            {},
            (),
            tuple([*(o.id for o in adopt), *cancel_ids]),
            holdings,
            "reset",
            tuple(issues),
            tuple(details),
        )

    journal = _valid_journal_state(strategy, cfg, journal_state, session_date, issues)
    capital = trading_capital(equity, cfg.risk)
    tol = rc.rebalance_tolerance
    if isinstance(strategy, PsmStrategy):
        name, jnote = _psm_state(
            scratch, longs, journal, prices, capital, tol, t_ms, session_date, details
        )
    else:
        name, jnote = _rotation_state(
            scratch, longs, journal, prices, entry, capital, tol, t_ms, session_date, details
        )
    targets = scratch.targets()
    if policy == "adopt":
        for s in shorts:
            targets[s] = 0
            details.append(f"cover short {s} {holdings[s]:g} (long-only strategy)")
    return ReconcileResult(
        strategy.name,
        name,
        "continue",
        scratch.state_dict(),
        targets,
        pending,
        tuple(o.id for o in adopt),
        tuple(cancel_ids),
        holdings,
        jnote,
        tuple(issues),
        tuple(details),
    )


def _valid_journal_state(
    strategy: Strategy,
    cfg: StrategyConfig,
    state: Mapping[str, Any] | None,
    session_date: date,
    issues: list[str],
) -> Strategy | None:
    """The journal's state loaded into a scratch strategy, if usable for this session."""
    if state is None or not cfg.reconciliation.restore_journal_state:
        return None
    probe = type(strategy)(cfg)  # type: ignore[call-arg]
    try:
        probe.load_state(state)
    except StateError as e:
        issues.append(f"journal state ignored: {e}")
        return None
    if probe.session_date != session_date:  # type: ignore[attr-defined]
        return None
    return probe


def _psm_state(
    scratch: PsmStrategy,
    longs: Mapping[str, float],
    journal: Strategy | None,
    prices: Mapping[str, float],
    capital: float,
    tol: float,
    t_ms: int,
    session_date: date,
    details: list[str],
) -> tuple[str, str]:
    state = recognize(longs)
    last = journal.last_t_ms if journal is not None else None  # type: ignore[attr-defined]
    if state is None:  # policy "adopt": keep the mix as it is
        targets = {s: _whole(q) for s, q in longs.items()}
        scratch.assume(
            ADOPTED, targets, entered_t_ms=t_ms, session_date=session_date, last_t_ms=last
        )
        details.append(f"adopted unrecognized holdings {targets} as {ADOPTED}")
        return ADOPTED, "reset" if journal is not None else "none"
    alloc = ALLOCATIONS[state]
    wanted: dict[str, int] = {}
    for sym, q in longs.items():
        price = prices.get(sym)
        have = _whole(q)
        if not _usable(price):
            wanted[sym] = have
            details.append(f"{sym}: no price, keeping {have}")
            continue
        target = whole_shares(capital * alloc[sym], price)
        if _within(q, target, tol):
            wanted[sym] = have
        else:
            wanted[sym] = target
            details.append(
                f"{sym}: {have} is off {state} allocation {target} by more than {tol:.0%}: rebalance"
            )
    if journal is not None:
        assert isinstance(journal, PsmStrategy)
        jt = journal.targets()
        agrees = journal.state == state and all(
            _within(longs.get(s, 0.0), jt.get(s, 0), tol) for s in scratch.symbols
        )
        if agrees and state != PsmState.CASH_ONLY:
            scratch.assume(
                state.value,
                jt,
                entered_t_ms=journal.entered_t_ms,
                session_date=session_date,
                last_t_ms=last,
            )
            details.append(f"journal agrees: {state} since {journal.entered_t_ms}")
            return state.value, "restored"
        if agrees:
            scratch.assume(
                state.value,
                jt,
                entered_t_ms=journal.entered_t_ms,
                session_date=session_date,
                last_t_ms=last,
            )
            return state.value, "restored"
        details.append(f"journal says {journal.state} {jt}, broker holds {dict(longs)}: reset")
    entered = None if state == PsmState.CASH_ONLY else t_ms
    scratch.assume(
        state.value, wanted, entered_t_ms=entered, session_date=session_date, last_t_ms=last
    )
    return state.value, "reset" if journal is not None else "none"


def _rotation_state(
    scratch: RotationStrategy,
    longs: Mapping[str, float],
    journal: Strategy | None,
    prices: Mapping[str, float],
    entry: Mapping[str, float],
    capital: float,
    tol: float,
    t_ms: int,
    session_date: date,
    details: list[str],
) -> tuple[str, str]:
    jbook: dict[str, Slot] = {}
    cooldown: dict[str, int] = {}
    smoothed: dict[str, float] = {}
    last = seen = None
    if journal is not None:
        assert isinstance(journal, RotationStrategy)
        jbook, cooldown = dict(journal.book), dict(journal.cooldown_until)
        smoothed, last, seen = journal.aggregator.state_dict(), journal.last_t_ms, journal.seen_t_ms
    per_slot = capital / scratch.mgr.max_positions
    book: dict[str, Slot] = {}
    restored = 0
    for sym, q in sorted(longs.items()):
        have = _whole(q)
        price = prices.get(sym)
        j = jbook.get(sym)
        px = next(
            (x for x in (entry.get(sym), j.entry_price if j else None, price) if _usable(x)), None
        )
        if px is None or have <= 0:
            details.append(
                f"{sym}: {q:g} held but no usable entry price or whole share: not in the book"
            )
            continue
        if j is not None and _within(q, j.qty, tol):
            book[sym] = Slot(j.qty, j.entry_t_ms, px)
            restored += 1
            details.append(f"{sym}: journal agrees ({j.qty} since {j.entry_t_ms})")
            continue
        target = have
        if _usable(price):
            alloc = whole_shares(per_slot, price)  # type: ignore[arg-type]
            if alloc > 0 and not _within(q, alloc, tol):
                target = alloc
                details.append(
                    f"{sym}: {have} is off the equal weight {alloc} by more than {tol:.0%}: rebalance"
                )
        if j is not None:
            details.append(f"{sym}: journal had {j.qty}, broker {have}: hold clock reset")
        book[sym] = Slot(target, t_ms, px)
    for sym in sorted(set(jbook) - set(longs)):
        details.append(f"{sym}: in the journal's book but not held at the broker: dropped")
    scratch.assume(
        book,
        session_date=session_date,
        cooldown_until=cooldown,
        smoothed=smoothed,
        last_t_ms=last,
        seen_t_ms=seen,
    )
    name = f"ROTATION[{','.join(sorted(book))}]"
    if journal is None:
        note = "none"
    elif restored == len(book) and set(jbook) == set(book):
        note = "restored"
    elif restored:
        note = "partly restored"
    else:
        note = "reset"
    return name, note

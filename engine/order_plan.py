"""Targets vs the current book → the orders to send this minute.

For each symbol the *effective* quantity is the broker's position plus what open orders
still have to fill (buys +, sells −); the order is the difference to the target. The
engine must have resolved every journaled intent against the broker before planning, so
``pending`` holds every order that may still fill.

Rules, in order:

1. a halt (daily loss limit now, or earlier today) replaces every target with 0 — for
   every symbol held, not only the strategy's;
2. a buy may not lift a position above the per-position cap (``RiskGuard.cap_target``);
   a buy whose symbol has no price is deferred;
3. an order never crosses zero: covering a short and opening a long are two orders;
   when the target runs against open orders (a sell wanted while buys are pending, or the
   reverse) those orders are listed in ``cancels`` and the new order is sized from the
   position alone, so a sell can never exceed what is actually held;
4. orders that reduce a position come first (sells before buys), then orders that add
   risk, which get only what is left of ``max_orders_per_minute``; the rest are deferred
   (the targets persist, so they are planned again next minute);
5. every order gets a deterministic client_order_id (:mod:`engine.order_ids`); ``seq``
   skips ids already used (``used_ids``) so a second order of a minute never reuses one.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from common.quantities import QTY_EPS
from engine.order_ids import OrderKey
from engine.risk import RiskGuard


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    """A market/day order to send."""

    symbol: str
    side: str  # "buy" | "sell"
    qty: float  # whole shares unless closing a fractional position
    client_order_id: str
    reduces: bool
    reason: str


@dataclass(frozen=True)
class OrderPlan:
    """The orders of one minute and what was held back."""

    t_ms: int
    orders: tuple[PlannedOrder, ...]
    deferred: tuple[str, ...] = ()
    cancels: tuple[tuple[str, str], ...] = ()  # (symbol, side) of open orders to cancel
    notes: tuple[str, ...] = ()
    halted: bool = False
    halt_reason: str | None = None
    targets: Mapping[str, float] = field(default_factory=dict)


def _legs(effective: float, target: float) -> list[tuple[str, float, bool]]:
    """(side, qty, reduces) legs that take ``effective`` to ``target`` without crossing zero.

    The difference is taken to Alpaca's 9 decimals first, so a float residue (5 - 4.999999 is
    1.0000000006e-06) does not turn a difference of :data:`QTY_EPS`, which the plan treats as
    none, into a dust order."""
    delta = round(target - effective, 9)
    if abs(delta) <= QTY_EPS:
        return []
    legs: list[tuple[str, float, bool]] = []
    if delta < 0:
        if effective > QTY_EPS:
            cut = min(-delta, effective)
            legs.append(("sell", cut, True))
            delta += cut
        if delta < -QTY_EPS:
            legs.append(("sell", -delta, False))
    else:
        if effective < -QTY_EPS:
            cover = min(delta, -effective)
            legs.append(("buy", cover, True))
            delta -= cover
        if delta > QTY_EPS:
            legs.append(("buy", delta, False))
    return legs


def plan_orders(
    strategy: str,
    t_ms: int,
    targets: Mapping[str, int],
    positions: Mapping[str, float],
    *,
    prices: Mapping[str, float],
    equity: float,
    guard: RiskGuard,
    pending: Mapping[str, float] | None = None,
    start_equity: float | None = None,
    halted: bool = False,
    sent_this_minute: int = 0,
    used_ids: Collection[str] = (),
    reasons: Mapping[str, str] | None = None,
) -> OrderPlan:
    """Plan the orders that move ``positions`` (+ ``pending``) to ``targets``.

    ``positions``/``pending`` are signed share quantities by symbol; ``targets`` whole
    shares >= 0. ``start_equity`` (the session's first equity) arms the daily loss limit.
    """
    for sym, q in targets.items():
        if not isinstance(q, int) or q < 0:
            raise ValueError(f"target of {sym}={q!r} is not a whole non-negative number")
    pending = pending or {}
    reasons = reasons or {}
    halt_reason = "halted earlier today" if halted else None
    if start_equity is not None and halt_reason is None:
        halt_reason = guard.loss_breach(equity, start_equity)
    wanted: dict[str, float] = dict(targets)
    if halt_reason is not None:
        held = {s for s, q in positions.items() if abs(q) > QTY_EPS}
        held |= {s for s, q in pending.items() if abs(q) > QTY_EPS}
        wanted = dict.fromkeys(sorted(set(targets) | held), 0)

    notes: list[str] = []
    deferred: list[str] = []
    legs: list[tuple[bool, str, str, float, str]] = []  # (reduces, side, symbol, qty, reason)
    cancels: list[tuple[str, str]] = []
    for sym in sorted(wanted):
        pos, pend = positions.get(sym, 0.0), pending.get(sym, 0.0)
        effective = pos + pend
        target = wanted[sym]
        if pend > QTY_EPS and target < effective - QTY_EPS:
            cancels.append((sym, "buy"))
            effective = pos
        elif pend < -QTY_EPS and target > effective + QTY_EPS:
            cancels.append((sym, "sell"))
            effective = pos
        if target > effective + QTY_EPS:
            price = prices.get(sym)
            if price is None or not (math.isfinite(price) and price > 0):
                if effective < -QTY_EPS:  # still cover the short
                    target = min(target, 0)
                else:
                    deferred.append(f"{sym}: buy to {target} deferred: no price")
                    continue
            else:
                capped = guard.cap_target(int(target), effective, price, equity)
                if capped < target:
                    notes.append(f"{sym}: target {target} capped to {capped} by max_position_pct")
                    target = capped
        why = halt_reason or reasons.get(sym, "rebalance to target")
        for side, qty, reduces in _legs(effective, target):
            legs.append((reduces, side, sym, qty, why))

    legs.sort(key=lambda x: (not x[0], x[1] != "sell", x[2]))
    n_reducing = sum(1 for x in legs if x[0])
    room = guard.orders_left(sent_this_minute + n_reducing)
    used = set(used_ids)
    orders: list[PlannedOrder] = []
    for reduces, side, sym, qty, why in legs:
        if not reduces:
            if room <= 0:
                deferred.append(f"{sym}: {side} {qty:g} deferred: max_orders_per_minute reached")
                continue
            room -= 1
        key = OrderKey.for_minute(strategy, t_ms, sym, side)
        seq = 0
        while key.with_seq(seq).client_order_id() in used:
            seq += 1
        cid = key.with_seq(seq).client_order_id()
        used.add(cid)
        orders.append(PlannedOrder(sym, side, qty, cid, reduces, why))
    return OrderPlan(
        t_ms=t_ms,
        orders=tuple(orders),
        deferred=tuple(deferred),
        cancels=tuple(cancels),
        notes=tuple(notes),
        halted=halt_reason is not None,
        halt_reason=halt_reason,
        targets=wanted,
    )

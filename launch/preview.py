"""The reconciliation preview the operator sees before the engine takes over (design.md §6)::

    Found 3 existing position(s):
      AAPL: LONG 5 shares @ $200.00 / Current: $201.00 | P&L: +$5.00
      SQQQ: SHORT 50 shares @ $12.10 / Current: $12.00 | P&L: +$5.00
      TQQQ: LONG 100 shares @ $68.50 / Current: $69.20 | P&L: +$70.00
      AAPL: outside the rotation strategy's universe: left alone (never traded)
      SQQQ: the rotation strategy cannot manage it (a short position in a long-only
        strategy): policy adopt: kept as it is, never added to; closed by the strategy's
        exit rules or at end of day
      the rotation strategy takes over ROTATION[TQQQ] as it is: no order

or ``No existing positions - clean start``. What each holding will become is the
strategy's own reading (:func:`engine.reconcile.takeover_notes`, the same rule the engine
applies: its ``recognize`` and its reconciliation policy); the engine logs its decision.
"""

from __future__ import annotations

from collections.abc import Sequence

from common.quantities import QTY_EPS, is_flat
from common.rest_models import Position
from engine.reconcile import takeover_notes
from engine.strategies import Strategy


def money(x: float, *, signed: bool = False) -> str:
    """``$1,234.50``; with ``signed``, ``+$70.00`` / ``-$12.34``."""
    sign = ("+" if x >= 0 else "-") if signed else ("-" if x < 0 else "")
    return f"{sign}${abs(x):,.2f}"


def _qty(q: float) -> str:
    return str(int(round(q))) if abs(q - round(q)) < QTY_EPS else f"{q:g}"


def position_line(p: Position) -> str:
    qty = abs(p.qty)
    side = "SHORT" if p.qty < 0 else "LONG"
    current = p.current_price
    pl = p.unrealized_pl
    if pl is None and current is not None:
        pl = (current - p.avg_entry_price) * p.qty
    return (
        f"{p.symbol}: {side} {_qty(qty)} shares @ {money(p.avg_entry_price)} / "
        f"Current: {'n/a' if current is None else money(current)} | "
        f"P&L: {'n/a' if pl is None else money(pl, signed=True)}"
    )


def preview_lines(positions: Sequence[Position], strategy: Strategy | None = None) -> list[str]:
    """The preview of ``positions``; with ``strategy``, what it will make of each holding."""
    held = [p for p in positions if not is_flat(p.qty)]
    if not held:
        return ["No existing positions - clean start"]
    lines = [f"Found {len(held)} existing position(s):"]
    lines += [f"  {position_line(p)}" for p in sorted(held, key=lambda p: p.symbol)]
    if strategy is not None:
        qty: dict[str, float] = {}
        for p in held:
            qty[p.symbol] = qty.get(p.symbol, 0.0) + p.qty
        lines += [f"  {note}" for note in takeover_notes(strategy, qty)]
    return lines


__all__ = ["money", "position_line", "preview_lines"]

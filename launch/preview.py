"""The reconciliation preview the operator sees before the engine takes over (design.md §6)::

    Found 2 existing position(s):
      TQQQ: LONG 100 shares @ $68.50 / Current: $69.20 | P&L: +$70.00
      SQQQ: SHORT 50 shares @ $12.10 / Current: $12.00 | P&L: +$5.00

or ``No existing positions - clean start``. What the engine then does with each position
(keep, adopt, flatten, halt) is its reconciliation policy; it logs its own decision.
"""

from __future__ import annotations

from collections.abc import Sequence

from common.quantities import QTY_EPS, is_flat
from common.rest_models import Position


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


def preview_lines(positions: Sequence[Position]) -> list[str]:
    held = [p for p in positions if not is_flat(p.qty)]
    if not held:
        return ["No existing positions - clean start"]
    return [f"Found {len(held)} existing position(s):"] + [
        f"  {position_line(p)}" for p in sorted(held, key=lambda p: p.symbol)
    ]


__all__ = ["money", "position_line", "preview_lines"]

"""Cash and positions of the paper account, moved by executions.

- Cash moves by the trade value rounded to the cent, plus the fee (also in cents):
  a buy of q at p costs ``cents(q·p) + fee``; a sell (or short sale) credits
  ``cents(q·p) − fee``. The fee is whatever the caller charges with that execution
  (:func:`ledger.costs.book_fill` passes the commission and the regulatory fees due);
  :meth:`Portfolio.apply_fill` charges a flat ``fee_per_share`` rounded to the cent.
- A position has a signed quantity (negative = short) and a signed cost
  (Σ q·p of the open quantity). Adding keeps the weighted average entry;
  reducing keeps it; crossing zero opens the other side at the fill price.
  Long and short of one symbol net out: there is one position per symbol.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ledger.money import ZERO, cents


@dataclass
class Position:
    symbol: str
    qty: Decimal
    cost: Decimal
    """Signed entry value of the open quantity: avg_entry_price × qty."""
    opened_ms: int
    """When this position was opened from flat (or flipped side)."""

    @property
    def avg_entry_price(self) -> Decimal:
        return self.cost / self.qty

    @property
    def side(self) -> str:
        return "long" if self.qty > 0 else "short"


@dataclass(frozen=True)
class Execution:
    """What one fill did to the account."""

    position_qty: Decimal
    cash_delta: Decimal
    fee: Decimal


class Portfolio:
    def __init__(self, cash: Decimal) -> None:
        self.cash = cash
        self.positions: dict[str, Position] = {}

    def qty(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return ZERO if pos is None else pos.qty

    def apply_fill(
        self,
        symbol: str,
        side: str,
        qty: Decimal,
        price: Decimal,
        fee_per_share: Decimal,
        now_ms: int,
    ) -> Execution:
        """Book one execution of ``qty`` (> 0) at ``price`` on ``side``, fee ``fee_per_share × qty``."""
        return self.apply_execution(symbol, side, qty, price, cents(fee_per_share * qty), now_ms)

    def apply_execution(
        self,
        symbol: str,
        side: str,
        qty: Decimal,
        price: Decimal,
        fee: Decimal,
        now_ms: int,
    ) -> Execution:
        """Book one execution of ``qty`` (> 0) at ``price`` on ``side``; ``fee`` (whole cents) leaves cash."""
        if qty <= 0:
            raise ValueError(f"execution qty must be positive, got {qty}")
        if side not in ("buy", "sell"):
            raise ValueError(f"side={side!r} is not buy or sell")
        if fee < 0 or fee != cents(fee):
            raise ValueError(f"fee={fee} must be >= 0 and in whole cents")
        sign = 1 if side == "buy" else -1
        cash_delta = -sign * cents(qty * price) - fee
        self.cash += cash_delta

        signed = sign * qty
        pos = self.positions.get(symbol)
        if pos is None:
            self.positions[symbol] = Position(symbol, signed, signed * price, now_ms)
            return Execution(signed, cash_delta, fee)
        q0, q1 = pos.qty, pos.qty + signed
        if q1 == 0:
            del self.positions[symbol]
        elif (q0 > 0) == (signed > 0):  # adding to the position
            pos.cost += signed * price
            pos.qty = q1
        elif (q0 > 0) == (q1 > 0):  # reducing, same side
            pos.cost = pos.cost * q1 / q0
            pos.qty = q1
        else:  # crossing zero: the rest opens the other side at this price
            pos.qty, pos.cost, pos.opened_ms = q1, q1 * price, now_ms
        return Execution(q1, cash_delta, fee)

"""The engine's view of the broker: positions with average entry, cash, and what each order
has filled — kept without asking, from what the broker tells the engine anyway.

Seeded by REST at start-up (after reconciliation): ``GET /v2/positions``, the account's
cash and ``last_equity``, the open orders. Then moved by every order answer the engine
sees — a trade-updates event, a submit's response, a poll — through :meth:`BrokerView.apply`,
for every order of the account (the engine's and any other, such as a hand-placed one):

- each order's cumulative ``filled_qty`` is remembered; only what a report adds to it moves
  the view, so the stream and REST can report the same fill, in any order, and it counts
  once (the journal keeps the same guarantee by execution id and cumulative quantity);
- the added quantity is priced at the execution's own price when the report carries the
  execution and it is exactly that addition, else from the order's cumulative average
  price; a fill that cannot be priced moves the position and marks cash as unknown until
  the next broker check;
- a position's average entry is the weighted average of what added to it; reducing it
  keeps it; crossing zero starts the new side at the fill's price. Cash moves by the
  fills' notional (fees are not in the events: the broker check brings the broker's cash).

Before it is seeded the view only remembers order progress (so a report seen before the
seed never counts again after it); it moves nothing. :meth:`BrokerView.snapshot` is the
frozen value the minute's decision reads (:mod:`engine.minute_step`). Equity is not kept
here: the decision marks cash + positions at the minute's prices.

The broker check (:mod:`engine.book_check`) compares the view with ``GET /v2/positions``
and takes the broker's word where they differ. No I/O, no clock here.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from common.quantities import QTY_EPS, is_flat
from engine.position_book import Mismatch
from engine.strategies import Holding
from engine.trade_events import Execution


class ReportedOrder(Protocol):
    """What the view reads of an order (``common.rest_models.Order`` has it)."""

    id: str
    symbol: str
    side: str
    filled_qty: float
    filled_avg_price: float | None
    status: str


class ReportedPosition(Protocol):
    """What the view reads of a position (``common.rest_models.Position`` has it)."""

    symbol: str
    avg_entry_price: float

    @property
    def signed_qty(self) -> float: ...


@dataclass(frozen=True, slots=True)
class ViewPosition:
    """A signed quantity (shorts negative) and its average entry price."""

    qty: float
    avg_entry: float


@dataclass(frozen=True, slots=True)
class ViewFill:
    """What one report added to the view."""

    order_id: str
    symbol: str
    signed_qty: float
    price: float | None


@dataclass(frozen=True)
class BrokerSnapshot:
    """The view at one instant, as the decision reads it."""

    positions: Mapping[str, ViewPosition] = field(default_factory=dict)
    cash: float = 0.0
    start_equity: float | None = None

    @property
    def holdings(self) -> dict[str, Holding]:
        """Every position held, as signed whole shares and average entry price."""
        return {
            s: Holding(int(round(p.qty)), p.avg_entry)
            for s, p in self.positions.items()
            if not is_flat(p.qty)
        }


@dataclass(slots=True)
class _Seen:
    filled_qty: float
    avg_price: float | None
    status: str


def _moved(old: ViewPosition | None, dq: float, price: float | None) -> ViewPosition | None:
    """``old`` after a fill of ``dq`` signed shares at ``price`` (None: flat)."""
    q0 = 0.0 if old is None else old.qty
    q1 = q0 + dq
    if is_flat(q1):
        return None
    px = price if price is not None else (old.avg_entry if old is not None else float("nan"))
    if is_flat(q0) or (q0 > 0) == (dq > 0):  # opening or adding: weighted average
        avg = px if is_flat(q0) or old is None else (q0 * old.avg_entry + dq * px) / q1
    elif (q1 > 0) == (q0 > 0):  # reducing: the entry stays
        avg = old.avg_entry if old is not None else px
    else:  # crossed zero: the new side starts at this fill
        avg = px
    return ViewPosition(q1, avg)


class BrokerView:
    """Positions, cash and order progress, moved by order reports (see the module doc)."""

    def __init__(self) -> None:
        self.seeded = False
        self.cash = 0.0
        self.cash_known = False
        self.start_equity: float | None = None
        self._positions: dict[str, ViewPosition] = {}
        self._orders: dict[str, _Seen] = {}
        self.fills_applied = 0

    # ------------------------------------------------------------------ the broker's word

    def seed(
        self,
        positions: Iterable[ReportedPosition],
        *,
        cash: float,
        start_equity: float | None,
        orders: Iterable[ReportedOrder] = (),
    ) -> None:
        """Take the broker's positions, cash and the progress of ``orders`` as they are now."""
        if not math.isfinite(cash):
            raise ValueError(f"cash={cash!r} is not finite")
        self.take_positions(positions)
        self.cash, self.cash_known = float(cash), True
        self.start_equity = start_equity
        for o in orders:
            self.know(o.id, o.filled_qty, o.filled_avg_price, o.status)
        self.seeded = True

    def know(self, order_id: str, filled_qty: float, avg_price: float | None, status: str) -> None:
        """Remember an order's progress without moving anything (already in the positions)."""
        seen = self._orders.get(order_id)
        if seen is None or filled_qty > seen.filled_qty + QTY_EPS:
            self._orders[order_id] = _Seen(filled_qty, avg_price, status)

    def take_positions(self, positions: Iterable[ReportedPosition]) -> None:
        """Replace every position with the broker's (quantity and average entry)."""
        out: dict[str, ViewPosition] = {}
        for p in positions:
            q = p.signed_qty
            if not is_flat(q):
                out[p.symbol] = ViewPosition(q, float(p.avg_entry_price))
        self._positions = out

    def take_cash(self, cash: float) -> None:
        if not math.isfinite(cash):
            raise ValueError(f"cash={cash!r} is not finite")
        self.cash, self.cash_known = float(cash), True

    # ------------------------------------------------------------------ reports

    def apply(self, order: ReportedOrder, execution: Execution | None = None) -> ViewFill | None:
        """One report of ``order`` (event, response or poll); what it added, if anything."""
        seen = self._orders.get(order.id)
        prev = 0.0 if seen is None else seen.filled_qty
        prev_avg = None if seen is None else seen.avg_price
        cum = float(order.filled_qty)
        if cum <= prev + QTY_EPS:
            if seen is not None:
                seen.status = order.status
            else:
                self._orders[order.id] = _Seen(prev, prev_avg, order.status)
            return None
        delta = cum - prev
        price: float | None
        if execution is not None and abs(execution.qty - delta) <= 1e-6:
            price = execution.price
        elif order.filled_avg_price is not None:
            price = (order.filled_avg_price * cum - (prev_avg or 0.0) * prev) / delta
        elif execution is not None:
            price = execution.price
        else:
            price = None
        if price is not None and not (math.isfinite(price) and price > 0):
            price = None
        self._orders[order.id] = _Seen(cum, order.filled_avg_price, order.status)
        signed = delta if order.side == "buy" else -delta
        if not self.seeded:
            return None
        moved = _moved(self._positions.get(order.symbol), signed, price)
        if moved is None:
            self._positions.pop(order.symbol, None)
        else:
            self._positions[order.symbol] = moved
        if price is None:
            self.cash_known = False
        else:
            self.cash -= signed * price
        self.fills_applied += 1
        return ViewFill(order.id, order.symbol, signed, price)

    # ------------------------------------------------------------------ reading

    def quantities(self) -> dict[str, float]:
        return {s: p.qty for s, p in self._positions.items()}

    def position(self, symbol: str) -> ViewPosition | None:
        return self._positions.get(symbol)

    def filled(self, order_id: str) -> float:
        """The cumulative quantity the view has counted for an order."""
        seen = self._orders.get(order_id)
        return 0.0 if seen is None else seen.filled_qty

    def diff(self, broker: Mapping[str, float]) -> list[Mismatch]:
        """Symbols where the view and the broker's signed quantities disagree, sorted."""
        out = []
        for s in sorted(set(self._positions) | set(broker)):
            a = self._positions[s].qty if s in self._positions else 0.0
            b = float(broker.get(s, 0.0))
            if abs(a - b) > QTY_EPS:
                out.append(Mismatch(s, a, b))
        return out

    def snapshot(self) -> BrokerSnapshot:
        return BrokerSnapshot(dict(self._positions), self.cash, self.start_equity)


__all__ = ["BrokerSnapshot", "BrokerView", "ViewFill", "ViewPosition"]

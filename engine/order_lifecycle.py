"""An order's lifecycle as a state machine: every status change goes through :func:`advance`.

The statuses and the one table of allowed moves are :mod:`common.order_status`
(``MOVES``). :func:`advance` takes what is known of an order (status, cumulative filled
quantity, average fill price) and a new report — the broker's status, or the engine's
own ``unknown``/``lost``/``rejected`` — and answers the order's new progress:

- a move the table allows takes the reported status; staying in the same status is always
  allowed (a report that only brings fill progress);
- an illegal move is logged with both statuses and changes nothing (None): a finished
  order never reopens, and nothing returns to ``intent``;
- a status the table does not know is logged and read as open (the order stays followed
  and counted as pending); it is kept as reported, so the journal shows what the broker said;
- the filled quantity never shrinks (:meth:`OrderProgress.with_fill`).

The journal applies it to every update of an order row, and the executor reads its
statuses from :class:`common.order_status.OrderStatus`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from common.order_status import MOVES, OPEN, OrderStatus, is_terminal, parse_status
from common.quantities import QTY_EPS

log = logging.getLogger(__name__)

_FROM_UNKNOWN_STATUS = MOVES[OrderStatus.NEW] | {OrderStatus.NEW}
"""Moves out of a status the table does not know: those of any working status."""


@dataclass(frozen=True, slots=True)
class OrderProgress:
    """What the journal knows of an order: its status and how much of it has filled."""

    status: str
    filled_qty: float = 0.0
    filled_avg_price: float | None = None

    @property
    def is_open(self) -> bool:
        return not is_terminal(self.status)

    def with_fill(self, filled_qty: float | None, avg_price: float | None) -> OrderProgress:
        """The same status with a cumulative fill: a smaller one than known changes nothing
        (reports arrive out of order); an equal or larger one brings its average price."""
        if filled_qty is None or filled_qty < self.filled_qty - QTY_EPS:
            return self
        avg = self.filled_avg_price if avg_price is None else avg_price
        return OrderProgress(self.status, max(filled_qty, self.filled_qty), avg)


def allowed(current: str, reported: str) -> bool:
    """Whether an order in ``current`` may take ``reported`` (statuses the table does not
    know are read as working ones)."""
    if reported == current:
        return True
    src, dst = parse_status(current), parse_status(reported)
    moves = _FROM_UNKNOWN_STATUS if src is None else MOVES[src]
    if dst is None:  # unknown to the table: an open status; never out of a finished order
        return src is None or src in OPEN
    return dst in moves


def advance(
    now: OrderProgress,
    reported: str,
    *,
    filled_qty: float | None = None,
    filled_avg_price: float | None = None,
    order: str = "order",
) -> OrderProgress | None:
    """``now`` after the report ``reported`` (with the cumulative fill it brings, if any);
    None for an illegal move, which is logged naming both statuses and ``order``."""
    if not allowed(now.status, reported):
        log.warning(
            "%s: illegal status move %s -> %s refused; it stays %s",
            order,
            now.status,
            reported,
            now.status,
        )
        return None
    if parse_status(reported) is None and reported != now.status:
        log.warning("%s: status %r is not one the engine knows: read as open", order, reported)
    moved = OrderProgress(reported, now.filled_qty, now.filled_avg_price)
    return moved.with_fill(filled_qty, filled_avg_price)


__all__ = ["OrderProgress", "advance", "allowed"]

"""Order statuses and the one table of the moves allowed between them.

Alpaca's statuses (alpaca-protocol.md §3) plus three of the engine's journal:

- ``intent``: journaled, not sent yet (it is journaled *before* it is sent);
- ``unknown``: sent, but no answer came back; settled by asking by client order id;
- ``lost``: the broker confirmed it never received the order.

:data:`MOVES` is the single source of truth: a status with no move out of it is
*terminal* (:data:`TERMINAL`), every other one is *open* — it may still fill or be
canceled. ``Order.is_open`` (REST), the journal's open orders and reconciliation all
derive from it; a status the table does not know is read as open (:func:`is_terminal`). The rules the table encodes:

- nothing moves back to ``intent``, and only ``intent`` may become ``unknown``;
- an open order may move to any other open status (Alpaca moves back and forth between
  them, e.g. ``pending_cancel`` → ``partially_filled`` when a cancel loses the race),
  to any terminal status, or to ``lost``;
- a terminal order never moves again: a finished order never reopens.

:func:`engine.order_lifecycle.advance` applies a move; the table is data only.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType


class OrderStatus(StrEnum):
    # the engine's own
    INTENT = "intent"
    UNKNOWN = "unknown"
    LOST = "lost"
    # Alpaca's, working
    PENDING_NEW = "pending_new"
    ACCEPTED = "accepted"
    ACCEPTED_FOR_BIDDING = "accepted_for_bidding"
    NEW = "new"
    HELD = "held"
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"
    PENDING_REPLACE = "pending_replace"
    STOPPED = "stopped"
    SUSPENDED = "suspended"
    CALCULATED = "calculated"
    # Alpaca's, finished
    FILLED = "filled"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"
    REPLACED = "replaced"
    DONE_FOR_DAY = "done_for_day"


_S = OrderStatus
_WORKING = frozenset(
    {
        _S.PENDING_NEW,
        _S.ACCEPTED,
        _S.ACCEPTED_FOR_BIDDING,
        _S.NEW,
        _S.HELD,
        _S.PARTIALLY_FILLED,
        _S.PENDING_CANCEL,
        _S.PENDING_REPLACE,
        _S.STOPPED,
        _S.SUSPENDED,
        _S.CALCULATED,
    }
)
_FINISHED = frozenset({_S.FILLED, _S.CANCELED, _S.EXPIRED, _S.REJECTED, _S.REPLACED, _S.DONE_FOR_DAY})

MOVES: Mapping[OrderStatus, frozenset[OrderStatus]] = MappingProxyType(
    {
        _S.INTENT: _WORKING | _FINISHED | {_S.UNKNOWN, _S.LOST},
        _S.UNKNOWN: _WORKING | _FINISHED | {_S.LOST},
        **{s: (_WORKING - {s}) | _FINISHED | {_S.LOST} for s in _WORKING},
        **{s: frozenset() for s in _FINISHED},
        _S.LOST: frozenset(),
    }
)
"""Status → the statuses it may move to. Staying in the same status is not a move."""

TERMINAL: frozenset[OrderStatus] = frozenset(s for s, out in MOVES.items() if not out)
"""Statuses an order never leaves."""

OPEN: frozenset[OrderStatus] = frozenset(MOVES) - TERMINAL
"""Statuses of an order that may still fill or be canceled (``intent`` and ``unknown`` too)."""

def parse_status(text: str) -> OrderStatus | None:
    """The status ``text`` names, or None for a status this table does not know."""
    try:
        return OrderStatus(text)
    except ValueError:
        return None


def is_terminal(status: str) -> bool:
    """Whether an order in ``status`` is finished. A status the table does not know is open:
    the conservative reading (the order is still followed and counted as pending)."""
    return status in TERMINAL


__all__ = ["MOVES", "OPEN", "TERMINAL", "OrderStatus", "is_terminal", "parse_status"]

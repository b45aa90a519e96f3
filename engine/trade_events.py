"""Alpaca's trade-updates messages (alpaca-protocol.md §6) as typed values, read defensively.

A frame is one JSON object ``{"stream": ..., "data": {...}}`` (text or binary; a JSON array
of such objects is read too). :func:`parse_frame` never raises; it answers one item per
message:

- :class:`TradeEvent` for ``stream == "trade_updates"``: the event name (new, fill,
  partial_fill, canceled, expired, done_for_day, replaced, rejected, ...), the order as
  :class:`common.rest_models.Order` (numbers arrive as strings), and for an execution its
  ``execution_id``, ``qty`` and ``price`` (that execution's), ``timestamp`` and
  ``position_qty``; the order's ``filled_qty`` is cumulative;
- :class:`Reply` for the protocol's own messages (``authorization``, ``listening``,
  ``error``);
- :class:`Malformed` for anything else that cannot be used — not JSON, not an object, no
  ``order``, an order or a number that does not parse — naming what was wrong. The caller
  logs and skips it: a later event, a poll or the book check brings the same facts.

A fill event without ``qty``/``price`` is still an event: its order's cumulative quantity
and average price say what it added (:attr:`TradeEvent.execution` is then None).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from common.calendar import to_ms
from common.errors import ResponseFormatError
from common.rest_models import Order, opt_instant, opt_num

TRADE_UPDATES = "trade_updates"
FILL_EVENTS = frozenset({"fill", "partial_fill"})
SNIPPET = 120


@dataclass(frozen=True, slots=True)
class Execution:
    """One execution of an order: its own quantity (> 0) and price (> 0)."""

    qty: float
    price: float


@dataclass(frozen=True, slots=True)
class TradeEvent:
    """One ``trade_updates`` message."""

    event: str
    order: Order
    execution_id: str | None = None
    qty: float | None = None
    price: float | None = None
    t_ms: int | None = None
    position_qty: float | None = None

    @property
    def is_fill(self) -> bool:
        return self.event in FILL_EVENTS

    @property
    def execution(self) -> Execution | None:
        """The execution a fill event reports, when it names a usable quantity and price."""
        if not self.is_fill or self.qty is None or self.price is None:
            return None
        if self.qty <= 0 or self.price <= 0:
            return None
        return Execution(self.qty, self.price)


@dataclass(frozen=True, slots=True)
class Reply:
    """A protocol message: ``authorization``, ``listening`` or ``error``."""

    stream: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Malformed:
    """A message that cannot be used, and why."""

    reason: str


Item = TradeEvent | Reply | Malformed


def _snippet(raw: object) -> str:
    text = raw if isinstance(raw, str) else repr(raw)
    return text[:SNIPPET]


def parse_message(msg: Any) -> Item:
    """One decoded JSON message → an item (never raises)."""
    if not isinstance(msg, Mapping):
        return Malformed(f"a message must be a JSON object, got {type(msg).__name__}")
    stream, data = msg.get("stream"), msg.get("data")
    if not isinstance(stream, str):
        return Malformed(f"no 'stream' name: {_snippet(json.dumps(msg, default=str))}")
    if not isinstance(data, Mapping):
        return Malformed(f"stream {stream!r}: 'data' is not an object")
    if stream != TRADE_UPDATES:
        return Reply(stream, data)
    return parse_trade_update(data)


def parse_trade_update(data: Mapping[str, Any]) -> TradeEvent | Malformed:
    """The ``data`` object of a ``trade_updates`` message → a TradeEvent (or why not)."""
    event = data.get("event")
    if not isinstance(event, str) or not event:
        return Malformed(f"trade update without an event name: {_snippet(str(dict(data)))}")
    order_obj = data.get("order")
    if not isinstance(order_obj, Mapping):
        return Malformed(f"trade update {event!r} without an order object")
    what = f"trade update {event!r}"
    try:
        order = Order.from_json(order_obj)
        qty = opt_num(data.get("qty"), "qty", what)
        price = opt_num(data.get("price"), "price", what)
        position_qty = opt_num(data.get("position_qty"), "position_qty", what)
        stamp = opt_instant(data.get("timestamp"), "timestamp", what)
    except ResponseFormatError as e:
        return Malformed(str(e))
    execution_id = data.get("execution_id")
    if execution_id is not None and not isinstance(execution_id, str):
        return Malformed(f"{what}: execution_id={execution_id!r} is not a string")
    for name, x in (("qty", qty), ("price", price)):
        if x is not None and not (math.isfinite(x) and x > 0):
            return Malformed(f"{what}: {name}={x!r} is not a positive number")
    return TradeEvent(
        event=event,
        order=order,
        execution_id=execution_id or None,
        qty=qty,
        price=price,
        t_ms=None if stamp is None else to_ms(stamp),
        position_qty=position_qty,
    )


def parse_frame(raw: str | bytes) -> list[Item]:
    """One websocket frame → its items, in order (never raises)."""
    try:
        msg = json.loads(raw)
    except ValueError:  # UnicodeDecodeError included
        return [Malformed(f"not JSON: {_snippet(raw)}")]
    if isinstance(msg, list):
        return [parse_message(m) for m in msg] or [Malformed("an empty array")]
    return [parse_message(msg)]


__all__ = [
    "FILL_EVENTS",
    "TRADE_UPDATES",
    "Execution",
    "Item",
    "Malformed",
    "Reply",
    "TradeEvent",
    "parse_frame",
    "parse_message",
    "parse_trade_update",
]

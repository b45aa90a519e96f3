"""The paper broker's order: its state, its lifecycle statuses and its Alpaca JSON.

Every number in the JSON is a string (or null), every id a UUID, the three
creation timestamps are never null (alpaca-py's ``Order`` model requires them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal

from common.calendar import rfc3339_utc_us
from ledger.money import ZERO, fmt, round_price

# Statuses of an order that can still trade or be canceled.
OPEN_STATUSES = frozenset({"new", "accepted", "partially_filled", "pending_new"})
CLOSED_STATUSES = frozenset(
    {"filled", "canceled", "expired", "replaced", "rejected", "done_for_day"}
)
ORDER_TYPES = ("market", "limit")
"""The order types the paper broker fills."""
UNSUPPORTED_TYPES = ("stop", "stop_limit", "trailing_stop")


def _ts(t_ms: int | None) -> str | None:
    return None if t_ms is None else rfc3339_utc_us(t_ms)


def _num(d: Decimal | None) -> str | None:
    return None if d is None else fmt(d)


@dataclass(eq=False)
class Order:
    """One order. Quantities and prices are exact Decimals; times are sim Unix ms."""

    id: uuid.UUID
    client_order_id: str
    seq: int
    """Submission sequence number: the tie-break when two orders share a timestamp."""
    symbol: str
    asset_id: uuid.UUID
    side: str
    type: str
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    extended_hours: bool
    created_ms: int
    position_intent: str | None = None
    status: str = "new"
    updated_ms: int = 0
    filled_qty: Decimal = ZERO
    filled_value: Decimal = ZERO
    """Σ qty × price over this order's executions (for the average fill price)."""
    filled_ms: int | None = None
    expired_ms: int | None = None
    canceled_ms: int | None = None
    failed_ms: int | None = None
    replaced_ms: int | None = None
    replaced_by: uuid.UUID | None = None
    replaces: uuid.UUID | None = None
    expires_ms: int | None = None
    """Day orders expire at this instant (their session's close); None for gtc."""
    close_auction_ms: int | None = None
    """cls orders execute at this close."""
    active_ms: int | None = None
    """When the order started working; None while queued for the next session's open."""
    last_fill_minute: int | None = None
    """Start of the minute of the latest execution: a remainder never fills twice in one minute."""
    target_qty: Decimal | None = None
    """For notional orders, the quantity fixed at the first execution's price."""

    def __post_init__(self) -> None:
        if not self.updated_ms:
            self.updated_ms = self.created_ms

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def total_qty(self) -> Decimal | None:
        """The quantity to fill: ``qty``, or for a notional order the one fixed at its first fill."""
        return self.qty if self.qty is not None else self.target_qty

    @property
    def remaining(self) -> Decimal | None:
        total = self.total_qty
        return None if total is None else total - self.filled_qty

    @property
    def sign(self) -> int:
        return 1 if self.side == "buy" else -1

    @property
    def filled_avg_price(self) -> Decimal | None:
        if self.filled_qty == 0:
            return None
        return round_price(self.filled_value / self.filled_qty)

    def to_json(self) -> dict:
        """The order object of alpaca-protocol.md §3."""
        return {
            "id": str(self.id),
            "client_order_id": self.client_order_id,
            "created_at": rfc3339_utc_us(self.created_ms),
            "updated_at": rfc3339_utc_us(self.updated_ms),
            "submitted_at": rfc3339_utc_us(self.created_ms),
            "filled_at": _ts(self.filled_ms),
            "expired_at": _ts(self.expired_ms),
            "expires_at": _ts(self.expires_ms),
            "canceled_at": _ts(self.canceled_ms),
            "failed_at": _ts(self.failed_ms),
            "replaced_at": _ts(self.replaced_ms),
            "replaced_by": None if self.replaced_by is None else str(self.replaced_by),
            "replaces": None if self.replaces is None else str(self.replaces),
            "asset_id": str(self.asset_id),
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "notional": _num(self.notional),
            "qty": _num(self.total_qty),
            "filled_qty": fmt(self.filled_qty),
            "filled_avg_price": _num(self.filled_avg_price),
            "order_class": "simple",
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "position_intent": self.position_intent,
            "time_in_force": self.time_in_force,
            "limit_price": _num(self.limit_price),
            "stop_price": None,
            "status": self.status,
            "extended_hours": self.extended_hours,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
            "subtag": None,
            "source": None,
        }

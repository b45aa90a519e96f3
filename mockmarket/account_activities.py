"""Account activities (GET /v2/account/activities[/{activity_type}]): fills and the day's fees.

A minimal mirror of Alpaca's endpoint, for the two kinds the paper broker produces:

- ``FILL``: one per execution (Alpaca's trade activity: ``transaction_time``, ``type``
  fill/partial_fill, ``price``, ``qty``, ``side``, ``symbol``, ``leaves_qty``, ``cum_qty``,
  ``order_id``, ``order_status``);
- ``FEE``: one per trading day with regulatory fees (a non-trade activity: ``date``,
  ``net_amount`` negative, ``description``). Alpaca books the day's fees, rounded up to the
  cent, at the end of the day; here the entry appears with the day's first fee and its
  amount is what has been charged so far (the same figure as the account's
  ``accrued_fees``), final once the session is over.

Query: ``activity_types`` (comma-separated; other types simply have no entries),
``direction`` (``desc``, the default, or ``asc``), ``page_size`` (1..100, default 100).
Ids are ``<YYYYMMDDhhmmssmmm>::<uuid>`` as Alpaca's, deterministic.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from common.calendar import rfc3339_utc_us
from ledger.fees import DayFees
from ledger.money import fmt, fmt_money
from mockmarket.orders import Order
from mockmarket.trading_errors import invalid

MAX_PAGE_SIZE = 100
FEE_DESCRIPTION = "regulatory fees (SEC, FINRA TAF, CAT), accrued per day, rounded up to the cent"
_TYPE = re.compile(r"^[A-Z]{2,8}$")


@dataclass(frozen=True, slots=True)
class _Fill:
    seq: int
    t_ms: int
    order: dict
    qty: Decimal
    price: Decimal


def _stamp(t_ms: int) -> str:
    return datetime.fromtimestamp(t_ms / 1000, tz=UTC).strftime("%Y%m%d%H%M%S%f")[:-3]


def _types(text: str | None, activity_type: str | None) -> set[str] | None:
    wanted = None
    if activity_type is not None:
        wanted = {activity_type}
    elif text:
        wanted = {t.strip() for t in text.split(",") if t.strip()}
    if wanted is not None:
        bad = sorted(t for t in wanted if not _TYPE.match(t))
        if bad:
            raise invalid(f"invalid activity type(s) {', '.join(map(repr, bad))}")
    return wanted


def _page_size(text: str | None) -> int:
    if text is None or text == "":
        return MAX_PAGE_SIZE
    try:
        n = int(text)
    except ValueError:
        raise invalid(f"page_size must be an integer, got {text!r}") from None
    if not 1 <= n <= MAX_PAGE_SIZE:
        raise invalid(f"page_size must be within 1..{MAX_PAGE_SIZE}, got {text!r}")
    return n


class ActivityLog:
    """The broker's executions, kept for the activities endpoint."""

    def __init__(self) -> None:
        self._fills: list[_Fill] = []

    def add_fill(self, order: Order, qty: Decimal, price: Decimal, t_ms: int) -> None:
        """Record one execution of ``order`` (call after its quantities were updated)."""
        self._fills.append(_Fill(len(self._fills), t_ms, order.to_json(), qty, price))

    def select(
        self, query: Mapping[str, str], activity_type: str | None, fee_days: Sequence[DayFees]
    ) -> list[dict]:
        wanted = _types(query.get("activity_types"), activity_type)
        direction = query.get("direction") or "desc"
        if direction not in ("asc", "desc"):
            raise invalid(f"direction must be asc or desc, got {direction!r}")
        size = _page_size(query.get("page_size"))
        rows: list[tuple[tuple, dict]] = []
        if wanted is None or "FILL" in wanted:
            rows += [((f.t_ms, 0, f.seq), self._fill_json(f)) for f in self._fills]
        if wanted is None or "FEE" in wanted:
            for d in fee_days:
                if d.charged > 0:
                    day_end = int(datetime(d.day.year, d.day.month, d.day.day, 23, 59, tzinfo=UTC).timestamp() * 1000)
                    rows.append(((day_end, 1, 0), _fee_json(d)))
        rows.sort(key=lambda r: r[0], reverse=direction == "desc")
        return [r[1] for r in rows[:size]]

    @staticmethod
    def _fill_json(f: _Fill) -> dict:
        o = f.order
        done = o["status"] == "filled"
        filled = Decimal(o["filled_qty"])
        total = Decimal(o["qty"]) if o.get("qty") is not None else filled
        ident = uuid.uuid5(uuid.NAMESPACE_URL, f"mockmarket:fill:{f.seq}:{o['id']}")
        return {
            "id": f"{_stamp(f.t_ms)}::{ident}",
            "activity_type": "FILL",
            "transaction_time": rfc3339_utc_us(f.t_ms),
            "type": "fill" if done else "partial_fill",
            "price": fmt(f.price),
            "qty": fmt(f.qty),
            "side": o["side"],
            "symbol": o["symbol"],
            "leaves_qty": fmt(max(total - filled, Decimal(0))),
            "order_id": o["id"],
            "cum_qty": fmt(filled),
            "order_status": o["status"],
        }


def _fee_json(d: DayFees) -> dict:
    ident = uuid.uuid5(uuid.NAMESPACE_URL, f"mockmarket:fee:{d.day.isoformat()}")
    return {
        "id": f"{d.day.strftime('%Y%m%d')}000000000::{ident}",
        "activity_type": "FEE",
        "date": d.day.isoformat(),
        "net_amount": fmt_money(-d.charged),
        "description": FEE_DESCRIPTION,
        "status": "executed",
    }


__all__ = ["ActivityLog", "MAX_PAGE_SIZE"]

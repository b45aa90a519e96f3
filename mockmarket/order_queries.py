"""GET /v2/orders filters: status, limit, after, until, direction, symbols, side, nested.

``after`` and ``until`` bound the submission time, both exclusive; ``direction``
(default desc) orders by submission time, and ``limit`` (default 50, at most 500)
keeps the first orders in that direction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from common.calendar import parse_rfc3339, to_ms
from mockmarket.order_requests import parse_bool
from mockmarket.orders import CLOSED_STATUSES, OPEN_STATUSES, Order
from mockmarket.trading_errors import invalid

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_STATUS_SETS = {"open": OPEN_STATUSES, "closed": CLOSED_STATUSES}


@dataclass(frozen=True)
class OrderQuery:
    status: str = "open"
    limit: int = DEFAULT_LIMIT
    after_ms: int | None = None
    until_ms: int | None = None
    direction: str = "desc"
    symbols: frozenset[str] | None = None
    side: str | None = None


def _time(query: Mapping[str, str], field: str) -> int | None:
    text = query.get(field)
    if text is None or text == "":
        return None
    try:
        return to_ms(parse_rfc3339(text))
    except (ValueError, TypeError):
        raise invalid(f"{field} must be an RFC 3339 timestamp, got {text!r}") from None


def parse_order_query(query: Mapping[str, str]) -> OrderQuery:
    status = query.get("status", "open").lower()
    if status not in ("open", "closed", "all"):
        raise invalid(f"status must be open, closed or all; got {query['status']!r}")
    limit_text = query.get("limit")
    limit = DEFAULT_LIMIT
    if limit_text is not None:
        try:
            limit = int(limit_text)
        except ValueError:
            raise invalid(f"limit must be an integer, got {limit_text!r}") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise invalid(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    direction = query.get("direction", "desc").lower()
    if direction not in ("asc", "desc"):
        raise invalid(f"direction must be asc or desc, got {query['direction']!r}")
    symbols = None
    if query.get("symbols"):
        symbols = frozenset(s.strip().upper() for s in query["symbols"].split(",") if s.strip())
    side = query.get("side")
    if side is not None and side.lower() not in ("buy", "sell"):
        raise invalid(f"side must be buy or sell, got {side!r}")
    if query.get("nested") is not None:
        parse_bool(query["nested"], "nested")  # accepted; there are no multi-leg orders to nest
    return OrderQuery(
        status=status,
        limit=limit,
        after_ms=_time(query, "after"),
        until_ms=_time(query, "until"),
        direction=direction,
        symbols=symbols,
        side=None if side is None else side.lower(),
    )


def select_orders(orders: Iterable[Order], q: OrderQuery) -> list[Order]:
    wanted = _STATUS_SETS.get(q.status)
    out = [
        o
        for o in orders
        if (wanted is None or o.status in wanted)
        and (q.after_ms is None or o.created_ms > q.after_ms)
        and (q.until_ms is None or o.created_ms < q.until_ms)
        and (q.symbols is None or o.symbol in q.symbols)
        and (q.side is None or o.side == q.side)
    ]
    out.sort(key=lambda o: (o.created_ms, o.seq), reverse=q.direction == "desc")
    return out[: q.limit]

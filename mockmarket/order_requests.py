"""Validation of order requests (POST /v2/orders, PATCH /v2/orders/{id}).

Each error is Alpaca-shaped and names the offending field. Rules follow
Alpaca's documented behaviour where the paper broker can honour it:
- market and limit orders only (stop, stop_limit, trailing_stop → 422);
- ``qty`` or ``notional``, never both (400); notional orders are market/day;
- fractional quantities only for day orders;
- limit prices in whole cents at $1 and above, 4 decimals below $1;
- ``extended_hours`` only for limit/day orders;
- ``client_order_id`` at most 48 characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from common.rest_models import ORDER_SIDES, TIMES_IN_FORCE
from ledger.money import CENT, PRICE_STEP, QTY_STEP, is_whole, parse_decimal
from mockmarket.orders import ORDER_TYPES, UNSUPPORTED_TYPES
from mockmarket.trading_errors import TradingError, bad_request, invalid

MAX_CLIENT_ORDER_ID = 48
_INTENT_SIDES = {
    "buy_to_open": "buy",
    "buy_to_close": "buy",
    "sell_to_open": "sell",
    "sell_to_close": "sell",
}
_NOT_SUPPORTED_FIELDS = (
    "stop_price",
    "trail_price",
    "trail_percent",
    "take_profit",
    "stop_loss",
    "legs",
)


@dataclass(frozen=True)
class NewOrder:
    """A validated order request."""

    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    extended_hours: bool
    client_order_id: str | None


@dataclass(frozen=True)
class Replacement:
    """A validated PATCH: only the given fields change."""

    qty: Decimal | None
    time_in_force: str | None
    limit_price: Decimal | None
    client_order_id: str | None


def parse_bool(value: object, field: str) -> bool:
    """JSON booleans, or 'true'/'false' text in any case (alpaca-py sends Python's 'True')."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise invalid(f"{field} must be true or false, got {value!r}")


def positive_decimal(value: object, field: str) -> Decimal:
    """A decimal > 0 from a JSON number or text; 422 naming ``field`` otherwise."""
    try:
        d = parse_decimal(value, field)
    except ValueError as e:
        raise invalid(str(e)) from None
    if d <= 0:
        raise invalid(f"{field} must be greater than 0, got {value!r}")
    return d


def _qty(value: object, field: str = "qty") -> Decimal:
    d = positive_decimal(value, field)
    if d != d.quantize(QTY_STEP):
        raise invalid(f"{field} has more than 9 decimal places: {value!r}")
    return d


def _limit_price(value: object) -> Decimal:
    d = positive_decimal(value, "limit_price")
    step = CENT if d >= 1 else PRICE_STEP
    if d != d.quantize(step):
        raise invalid(
            f"limit_price {value!r}: sub-penny increment does not fulfill minimum pricing criteria"
        )
    return d


def _choice(
    body: dict, field: str, choices: tuple[str, ...], *, required: bool = True
) -> str | None:
    value = body.get(field)
    if value is None:
        if required:
            raise invalid(f"{field} is required")
        return None
    if not isinstance(value, str) or value.lower() not in choices:
        raise invalid(f"{field} must be one of {', '.join(choices)}; got {value!r}")
    return value.lower()


def _client_order_id(body: dict) -> str | None:
    value = body.get("client_order_id")
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise invalid(f"client_order_id must be a non-empty string, got {value!r}")
    if len(value) > MAX_CLIENT_ORDER_ID:
        raise invalid(f"client_order_id must be no more than {MAX_CLIENT_ORDER_ID} characters")
    return value


def _symbol(body: dict) -> str:
    value = body.get("symbol")
    if value is None:
        raise invalid("symbol is required")
    if not isinstance(value, str) or not value.strip() or len(value) > 32:
        raise invalid(f"symbol must be a ticker string, got {value!r}")
    return value.strip().upper()


def _side(body: dict) -> str:
    if body.get("side") is None and isinstance(body.get("position_intent"), str):
        side = _INTENT_SIDES.get(body["position_intent"].lower())
        if side is None:
            raise invalid(f"position_intent must be one of {', '.join(_INTENT_SIDES)}")
        return side
    side = _choice(body, "side", ORDER_SIDES)
    assert side is not None
    return side


def _order_type(body: dict) -> str:
    value = body.get("type", body.get("order_type"))
    if value is None:
        raise invalid("type is required")
    if isinstance(value, str) and value.lower() in UNSUPPORTED_TYPES:
        raise invalid(
            f"unsupported order type {value!r}: the paper broker takes market and limit orders"
        )
    if not isinstance(value, str) or value.lower() not in ORDER_TYPES:
        raise invalid(f"type must be one of {', '.join(ORDER_TYPES)}; got {value!r}")
    return value.lower()


def parse_new_order(body: object) -> NewOrder:
    """Validate a POST /v2/orders body; TradingError names what is wrong."""
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    order_class = body.get("order_class")
    if order_class not in (None, "", "simple"):
        raise invalid(f"order_class {order_class!r} is not supported: only simple orders")
    for field in _NOT_SUPPORTED_FIELDS:
        if body.get(field) is not None:
            raise invalid(
                f"{field} is not supported: the paper broker takes market and limit orders"
            )
    symbol = _symbol(body)
    side = _side(body)
    otype = _order_type(body)
    tif = _choice(body, "time_in_force", TIMES_IN_FORCE)
    assert tif is not None

    has_qty, has_notional = body.get("qty") is not None, body.get("notional") is not None
    if has_qty and has_notional:
        raise bad_request("qty and notional cannot both be given")
    if not (has_qty or has_notional):
        raise invalid("qty or notional is required")
    qty = _qty(body["qty"]) if has_qty else None
    notional = None
    if has_notional:
        notional = positive_decimal(body["notional"], "notional")
        if notional != notional.quantize(CENT):
            raise invalid(f"notional must be in whole cents, got {body['notional']!r}")
        if notional < 1:
            raise invalid(f"notional must be at least 1, got {body['notional']!r}")
        if otype != "market" or tif != "day":
            raise invalid("notional orders must be market orders with time_in_force day")
    if qty is not None and not is_whole(qty) and tif != "day":
        raise invalid("fractional qty orders must have time_in_force day")

    limit_price = None
    if otype == "limit":
        if body.get("limit_price") is None:
            raise invalid("limit_price is required for limit orders")
        limit_price = _limit_price(body["limit_price"])
    elif body.get("limit_price") is not None:
        raise invalid("limit_price is not allowed for market orders")

    extended = body.get("extended_hours")
    extended_hours = False if extended is None else parse_bool(extended, "extended_hours")
    if extended_hours and (otype != "limit" or tif != "day"):
        raise invalid("extended_hours orders must be limit orders with time_in_force day")

    return NewOrder(
        symbol=symbol,
        side=side,
        type=otype,
        time_in_force=tif,
        qty=qty,
        notional=notional,
        limit_price=limit_price,
        extended_hours=extended_hours,
        client_order_id=_client_order_id(body),
    )


def parse_replacement(body: object) -> Replacement:
    """Validate a PATCH /v2/orders/{id} body (qty, time_in_force, limit_price, client_order_id)."""
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    for field in ("stop_price", "trail"):
        if body.get(field) is not None:
            raise invalid(
                f"{field} is not supported: the paper broker takes market and limit orders"
            )
    qty = None if body.get("qty") is None else _qty(body["qty"])
    tif = _choice(body, "time_in_force", TIMES_IN_FORCE, required=False)
    limit_price = None if body.get("limit_price") is None else _limit_price(body["limit_price"])
    client_order_id = _client_order_id(body)
    if qty is None and tif is None and limit_price is None and client_order_id is None:
        raise invalid("nothing to replace: give qty, time_in_force, limit_price or client_order_id")
    return Replacement(qty, tif, limit_price, client_order_id)


__all__ = [
    "MAX_CLIENT_ORDER_ID",
    "NewOrder",
    "Replacement",
    "TradingError",
    "parse_bool",
    "parse_new_order",
    "parse_replacement",
]

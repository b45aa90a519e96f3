"""Typed views of Alpaca's REST answers (account, clock, positions, orders, bars) and the
protocol's names both sides use (auth headers, order sides, times in force).

Alpaca sends money and quantities as JSON strings; these parsers turn them into
floats (None where Alpaca sends null) and keep the original object in ``raw``.
A shape they cannot read raises :class:`ResponseFormatError` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from common.bars import Bar
from common.calendar import parse_rfc3339, to_ms
from common.errors import ResponseFormatError
from common.order_status import is_terminal


def _object(obj: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise ResponseFormatError(f"{what}: expected a JSON object, got {type(obj).__name__}")
    return obj


def _field(obj: Mapping[str, Any], name: str, what: str) -> Any:
    _object(obj, what)
    if name not in obj:
        raise ResponseFormatError(f"{what}: field {name!r} is missing")
    return obj[name]


def num(value: Any, name: str, what: str) -> float:
    """A finite float from Alpaca's string or number."""
    if isinstance(value, bool) or value is None:
        raise ResponseFormatError(f"{what}: {name}={value!r} is not a number")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ResponseFormatError(f"{what}: {name}={value!r} is not a number") from None
    if not math.isfinite(x):
        raise ResponseFormatError(f"{what}: {name}={value!r} is not finite")
    return x


def opt_num(value: Any, name: str, what: str) -> float | None:
    return None if value is None or value == "" else num(value, name, what)


def instant(value: Any, name: str, what: str) -> datetime:
    """An aware datetime from an RFC 3339 string."""
    if not isinstance(value, str):
        raise ResponseFormatError(f"{what}: {name}={value!r} is not an RFC 3339 time")
    try:
        return parse_rfc3339(value)
    except ValueError:
        raise ResponseFormatError(f"{what}: {name}={value!r} is not an RFC 3339 time") from None


def opt_instant(value: Any, name: str, what: str) -> datetime | None:
    return None if value is None or value == "" else instant(value, name, what)


def _str(obj: Mapping[str, Any], name: str, what: str) -> str:
    v = _field(obj, name, what)
    if not isinstance(v, str):
        raise ResponseFormatError(f"{what}: {name}={v!r} is not a string")
    return v


@dataclass(frozen=True, slots=True)
class BrokerClock:
    """GET /v2/clock: the broker's now and the next open/close (aware datetimes)."""

    timestamp: datetime
    is_open: bool
    next_open: datetime
    next_close: datetime

    @property
    def timestamp_ms(self) -> int:
        return to_ms(self.timestamp)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> BrokerClock:
        what = "clock"
        _object(obj, what)
        is_open = _field(obj, "is_open", what)
        if not isinstance(is_open, bool):
            raise ResponseFormatError(f"{what}: is_open={is_open!r} is not true/false")
        return cls(
            timestamp=instant(_field(obj, "timestamp", what), "timestamp", what),
            is_open=is_open,
            next_open=instant(_field(obj, "next_open", what), "next_open", what),
            next_close=instant(_field(obj, "next_close", what), "next_close", what),
        )


def _opt_bool(value: Any, name: str, what: str) -> bool | None:
    """true/false, also as text in any case (``"True"``); None when absent."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ResponseFormatError(f"{what}: {name}={value!r} is not true/false")


def _opt_str(value: Any, name: str, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ResponseFormatError(f"{what}: {name}={value!r} is not a string")


@dataclass(frozen=True, slots=True)
class Account:
    """GET /v2/account; money as floats.

    ``status``, ``cash`` and ``equity`` are required; the other figures are None when the
    broker leaves them out. ``last_equity`` is the equity at the previous session's close
    (the daily loss limit counts from it).
    """

    status: str
    cash: float
    equity: float
    last_equity: float | None
    buying_power: float | None
    portfolio_value: float | None
    regt_buying_power: float | None
    daytrading_buying_power: float | None
    non_marginable_buying_power: float | None
    long_market_value: float | None
    short_market_value: float | None
    initial_margin: float | None
    maintenance_margin: float | None
    multiplier: float | None
    daytrade_count: int | None
    pattern_day_trader: bool | None
    trading_blocked: bool | None
    transfers_blocked: bool | None
    account_blocked: bool | None
    shorting_enabled: bool | None
    id: str | None
    account_number: str | None
    currency: str | None
    raw: dict = field(repr=False, compare=False)

    _MONEY = (
        "last_equity",
        "buying_power",
        "portfolio_value",
        "regt_buying_power",
        "daytrading_buying_power",
        "non_marginable_buying_power",
        "long_market_value",
        "short_market_value",
        "initial_margin",
        "maintenance_margin",
        "multiplier",
    )
    _FLAGS = (
        "pattern_day_trader",
        "trading_blocked",
        "transfers_blocked",
        "account_blocked",
        "shorting_enabled",
    )

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Account:
        what = "account"
        _object(obj, what)
        count = opt_num(obj.get("daytrade_count"), "daytrade_count", what)
        if count is not None and (count != int(count) or count < 0):
            raise ResponseFormatError(f"{what}: daytrade_count={count!r} is not a whole number")
        return cls(
            status=_str(obj, "status", what),
            cash=num(_field(obj, "cash", what), "cash", what),
            equity=num(_field(obj, "equity", what), "equity", what),
            **{k: opt_num(obj.get(k), k, what) for k in cls._MONEY},
            daytrade_count=None if count is None else int(count),
            **{k: _opt_bool(obj.get(k), k, what) for k in cls._FLAGS},
            **{k: _opt_str(obj.get(k), k, what) for k in ("id", "account_number", "currency")},
            raw=dict(obj),
        )


@dataclass(frozen=True, slots=True)
class Position:
    """One open position as the broker reports it (``qty`` is negative for a short)."""

    symbol: str
    qty: float
    side: str
    avg_entry_price: float
    market_value: float | None
    current_price: float | None
    cost_basis: float | None
    unrealized_pl: float | None
    unrealized_plpc: float | None
    unrealized_intraday_pl: float | None
    lastday_price: float | None
    change_today: float | None
    qty_available: float | None
    asset_id: str | None
    exchange: str | None
    raw: dict = field(repr=False, compare=False)

    @property
    def signed_qty(self) -> float:
        """Shares held, negative for a short whatever the sign of the broker's ``qty``."""
        q = abs(self.qty)
        return -q if self.side.lower() == "short" or self.qty < 0 else q

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Position:
        what = f"position {_object(obj, 'position').get('symbol', '?')}"
        optional = (
            "market_value",
            "current_price",
            "cost_basis",
            "unrealized_pl",
            "unrealized_plpc",
            "unrealized_intraday_pl",
            "lastday_price",
            "change_today",
            "qty_available",
        )
        return cls(
            symbol=_str(obj, "symbol", what),
            qty=num(_field(obj, "qty", what), "qty", what),
            side=_str(obj, "side", what),
            avg_entry_price=num(_field(obj, "avg_entry_price", what), "avg_entry_price", what),
            **{k: opt_num(obj.get(k), k, what) for k in optional},
            asset_id=obj.get("asset_id"),
            exchange=obj.get("exchange"),
            raw=dict(obj),
        )


@dataclass(frozen=True, slots=True)
class Order:
    """One order as the broker reports it; prices and quantities are floats or None."""

    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: float | None
    filled_qty: float
    filled_avg_price: float | None
    status: str
    type: str
    time_in_force: str
    created_at: datetime
    filled_at: datetime | None
    limit_price: float | None
    raw: dict = field(repr=False, compare=False)

    @property
    def is_open(self) -> bool:
        """Still working at the broker (can fill or be canceled)."""
        return not is_terminal(self.status)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Order:
        what = f"order {_object(obj, 'order').get('id', '?')}"
        filled_qty = opt_num(obj.get("filled_qty"), "filled_qty", what)
        return cls(
            id=_str(obj, "id", what),
            client_order_id=_str(obj, "client_order_id", what),
            symbol=_str(obj, "symbol", what),
            side=_str(obj, "side", what),
            qty=opt_num(obj.get("qty"), "qty", what),
            filled_qty=0.0 if filled_qty is None else filled_qty,
            filled_avg_price=opt_num(obj.get("filled_avg_price"), "filled_avg_price", what),
            status=_str(obj, "status", what),
            type=_str(obj, "type", what) if "type" in obj else _str(obj, "order_type", what),
            time_in_force=_str(obj, "time_in_force", what),
            created_at=instant(_field(obj, "created_at", what), "created_at", what),
            filled_at=opt_instant(obj.get("filled_at"), "filled_at", what),
            limit_price=opt_num(obj.get("limit_price"), "limit_price", what),
            raw=dict(obj),
        )


KEY_HEADER = "APCA-API-KEY-ID"
SECRET_HEADER = "APCA-API-SECRET-KEY"


def auth_headers(key: str, secret: str) -> dict[str, str]:
    """The headers that authenticate a REST request."""
    return {KEY_HEADER: key, SECRET_HEADER: secret}


ORDER_SIDES = ("buy", "sell")
TIMES_IN_FORCE = ("day", "gtc", "opg", "cls", "ioc", "fok")
"""Alpaca's order sides and times in force (alpaca-protocol.md section 3)."""


def bar_from_alpaca(symbol: str, obj: Mapping[str, Any]) -> Bar:
    """A :class:`Bar` from Alpaca's ``{"t","o","h","l","c","v","n","vw"}`` (not validated)."""
    what = f"bar of {symbol}"
    _object(obj, what)
    t = to_ms(instant(_field(obj, "t", what), "t", what))
    n = obj.get("n")
    vw = obj.get("vw")
    return Bar(
        symbol=symbol,
        t=t,
        open=num(_field(obj, "o", what), "o", what),
        high=num(_field(obj, "h", what), "h", what),
        low=num(_field(obj, "l", what), "l", what),
        close=num(_field(obj, "c", what), "c", what),
        volume=num(_field(obj, "v", what), "v", what),
        vwap=None if vw is None else num(vw, "vw", what),
        trade_count=None if n is None else int(num(n, "n", what)),
    )

"""The account and position objects of alpaca-protocol.md §3, from the portfolio and its marks.

Margin model (a simple Reg T paper account, multiplier 2):
- gross exposure = long market value + |short market value|;
- initial_margin = 50 % and maintenance_margin = 30 % of gross exposure;
- buying_power = regt_buying_power = max(0, 2·equity − gross − reserved), where
  ``reserved`` is the exposure that open orders would add;
- daytrading_buying_power = max(0, 4·equity − gross − reserved) at equity ≥ $25,000, else 0;
- non_marginable_buying_power = max(0, cash − reserved).
``accrued_fees`` is the day's regulatory fees charged so far (already out of ``cash``).
Every money field is rounded to the cent and sent as a string.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ledger.money import ZERO, fmt, fmt_money, fmt_ratio
from ledger.portfolio import Portfolio, Position
from mockmarket.assets import asset_id, exchange

MULTIPLIER = Decimal(2)
DAYTRADE_MULTIPLIER = Decimal(4)
PDT_EQUITY = Decimal(25_000)
INITIAL_MARGIN_RATE = Decimal("0.5")
MAINTENANCE_MARGIN_RATE = Decimal("0.3")


@dataclass(frozen=True)
class Valuation:
    cash: Decimal
    long_market_value: Decimal
    short_market_value: Decimal
    """Negative (or zero): Σ qty·price over short positions."""
    reserved: Decimal

    @property
    def equity(self) -> Decimal:
        return self.cash + self.long_market_value + self.short_market_value

    @property
    def gross(self) -> Decimal:
        return self.long_market_value - self.short_market_value

    @property
    def buying_power(self) -> Decimal:
        return max(ZERO, MULTIPLIER * self.equity - self.gross - self.reserved)

    @property
    def daytrading_buying_power(self) -> Decimal:
        if self.equity < PDT_EQUITY:
            return ZERO
        return max(ZERO, DAYTRADE_MULTIPLIER * self.equity - self.gross - self.reserved)


def value(portfolio: Portfolio, marks: dict[str, Decimal], reserved: Decimal) -> Valuation:
    """Mark the portfolio at ``marks`` (symbol → price; a missing mark uses the entry price)."""
    long_mv = short_mv = ZERO
    for sym, pos in portfolio.positions.items():
        mark = marks.get(sym)
        mv = pos.cost if mark is None else pos.qty * mark
        if pos.qty > 0:
            long_mv += mv
        else:
            short_mv += mv
    return Valuation(portfolio.cash, long_mv, short_mv, reserved)


def account_json(
    v: Valuation,
    *,
    account_id: str,
    account_number: str,
    created_at: str,
    last_equity: Decimal,
    balance_asof: str,
    accrued_fees: Decimal = ZERO,
) -> dict:
    initial = INITIAL_MARGIN_RATE * v.gross
    maintenance = MAINTENANCE_MARGIN_RATE * v.gross
    bp = fmt_money(v.buying_power)
    return {
        "id": account_id,
        "account_number": account_number,
        "status": "ACTIVE",
        "crypto_status": "INACTIVE",
        "currency": "USD",
        "buying_power": bp,
        "regt_buying_power": bp,
        "daytrading_buying_power": fmt_money(v.daytrading_buying_power),
        "effective_buying_power": bp,
        "non_marginable_buying_power": fmt_money(max(ZERO, v.cash - v.reserved)),
        "options_buying_power": "0",
        "bod_dtbp": "0",
        "cash": fmt_money(v.cash),
        "accrued_fees": fmt_money(accrued_fees),
        "pending_transfer_in": "0",
        "pending_transfer_out": "0",
        "portfolio_value": fmt_money(v.equity),
        "pattern_day_trader": False,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "created_at": created_at,
        "trade_suspended_by_user": False,
        "multiplier": fmt(MULTIPLIER),
        "shorting_enabled": True,
        "equity": fmt_money(v.equity),
        "last_equity": fmt_money(last_equity),
        "long_market_value": fmt_money(v.long_market_value),
        "short_market_value": fmt_money(v.short_market_value),
        "position_market_value": fmt_money(v.gross),
        "initial_margin": fmt_money(initial),
        "maintenance_margin": fmt_money(maintenance),
        "last_maintenance_margin": fmt_money(maintenance),
        "sma": "0",
        "daytrade_count": 0,
        "balance_asof": balance_asof,
        "options_approved_level": 0,
        "options_trading_level": 0,
    }


def _ratio(num: Decimal, den: Decimal) -> str:
    return "0" if den == 0 else fmt_ratio(num / abs(den))


def position_json(
    pos: Position,
    mark: Decimal | None,
    lastday: Decimal | None,
    session_open_ms: int | None,
    qty_available: Decimal,
) -> dict:
    """One position. Intraday P&L counts from the previous close for a position held
    overnight, else from its entry."""
    price = pos.avg_entry_price if mark is None else mark
    mv = pos.qty * price
    pl = mv - pos.cost
    held_overnight = session_open_ms is not None and pos.opened_ms < session_open_ms
    basis = pos.qty * lastday if (held_overnight and lastday is not None) else pos.cost
    intraday = mv - basis
    change = ZERO if not lastday else price / lastday - 1
    return {
        "asset_id": str(asset_id(pos.symbol)),
        "symbol": pos.symbol,
        "exchange": exchange(pos.symbol),
        "asset_class": "us_equity",
        "asset_marginable": True,
        "avg_entry_price": fmt(pos.avg_entry_price.quantize(Decimal("0.000001"))),
        "qty": fmt(pos.qty),
        "side": pos.side,
        "market_value": fmt_money(mv),
        "cost_basis": fmt_money(pos.cost),
        "unrealized_pl": fmt_money(pl),
        "unrealized_plpc": _ratio(pl, pos.cost),
        "unrealized_intraday_pl": fmt_money(intraday),
        "unrealized_intraday_plpc": _ratio(intraday, basis),
        "current_price": fmt(price),
        "lastday_price": fmt(lastday if lastday is not None else price),
        "change_today": fmt_ratio(change),
        "qty_available": fmt(qty_available),
    }

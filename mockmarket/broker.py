"""The paper broker: orders, fills, cash and positions on the simulated clock.

Plain synchronous code run on the server's asyncio loop (no awaits); trade
updates go out through :attr:`PaperBroker.updates`.

Fill rules (design.md §9) and costs (:mod:`ledger.costs`, one model with the backtest):
- While the market is open a market order fills at once at the OPEN of the minute
  in progress (sim now floored to the minute). A thin symbol with no bar that minute
  follows :mod:`ledger.no_bar_rule`: the order rests until the symbol's next bar and
  fills at its open, and one still working at the close fills at the session's last
  price (``CostModel.legacy`` keeps the pre-cost rule: at once, at the last close).
- Every execution pays the half-spread (from the symbol's liquidity over the sessions
  before, computed once per symbol and session) and the slippage over that reference
  price: ``filled_avg_price`` and the fill event's ``price`` include them. Its fees
  leave cash: a commission per share if configured, and the regulatory fees (SEC and
  TAF on sells, CAT on both sides) accrued per trading day and charged rounded up to the
  cent as Alpaca does; cash is debited as they become due, the account's
  ``accrued_fees`` shows the day's charge so far, and each day's total is one ``FEE``
  activity (GET /v2/account/activities). :attr:`PaperBroker.fill_costs` keeps each
  execution's breakdown (gross, half-spread, slippage, fees).
- Orders received while the market is closed are accepted and start working at
  the next session's first minute (``on_minute`` at the open): market orders
  fill at that minute's open (or rest, as above, if it has no bar).
- A limit order marketable at the open of its first minute fills at the better
  of its limit and that open. Otherwise it rests: at the start of each minute
  it is checked against the bar of the minute just closed, if it was working
  for that whole minute (a buy fills when low ≤ limit, at min(open, limit);
  sells mirror). Prices never pass the limit, slippage included.
- With ``faults.partial_fill_rate`` an execution is, with that probability
  (seeded rng), partial of a random whole size; the remainder is re-evaluated
  at the next minute (a remainder never fills twice in one minute).
- time_in_force: day orders still open at their session's close expire; gtc
  never expires; ioc/fok execute at their first minute and cancel what is left
  (fok fills all or nothing, never partially); opg orders (accepted only while
  the market is closed) execute at the next open and cancel what is left; cls
  orders (accepted until 10 minutes before the close) execute at the session's
  closing price and cancel what is left. An ioc, fok or opg order meeting a minute
  without a bar does not rest: it is canceled unfilled.
- Buying power (see account_views) is checked when an order is accepted, at the
  limit price, else the price of the minute in progress, else the last close;
  open orders reserve the exposure they would add, at current prices. Orders
  that only reduce a position need none.

Counters: every POST /v2/orders counts in ``orders_submitted`` and then in exactly
one of ``orders_accepted``, ``duplicates_rejected`` or ``orders_rejected``
(validation, buying power, or the ``reject_order_count`` fault); ``fills`` counts
executions. Liquidations (DELETE /v2/positions...) and replacements are not
submissions.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from common.calendar import (
    MINUTE_MS,
    Session,
    TradingCalendar,
    floor_minute,
    ny_date,
    nyse,
    rfc3339_utc_us,
    to_ms,
)
from ledger.costs import CostModel, ExecutionPrice, FillCosts, book_fill
from ledger.fees import DailyFeeAccrual
from ledger.fill_prices import (
    PriceSource,
    bar_touches,
    close_before,
    mark_price,
    marketable,
    open_price,
    within_limit,
)
from ledger.liquidity import BarHistory, history_liquidity, liquidity_window
from ledger.money import ZERO, cents, floor_qty, fmt, is_whole, parse_decimal, price_of
from ledger.no_bar_rule import NoBarRule, closing_reference, market_reference
from ledger.portfolio import Portfolio
from mockmarket.account_activities import ActivityLog
from mockmarket.account_views import Valuation, account_json, position_json, value
from mockmarket.assets import asset_id, asset_json
from mockmarket.clock import SimClock
from mockmarket.counters import Counters
from mockmarket.faults import Faults
from mockmarket.order_queries import parse_order_query, select_orders
from mockmarket.order_requests import NewOrder, parse_new_order, parse_replacement, positive_decimal
from mockmarket.orders import Order
from mockmarket.trade_updates import TradeUpdateHub
from mockmarket.trading_errors import (
    INVALID_PARAMETER,
    TradingError,
    forbidden,
    invalid,
    not_found,
    unprocessable,
)

log = logging.getLogger(__name__)

CLS_CUTOFF_MS = 10 * MINUTE_MS
DUPLICATE_MESSAGE = "client_order_id must be unique"

__all__ = ["MarketPrices", "PaperBroker", "PriceSource", "Submission"]


class MarketPrices(PriceSource, BarHistory, Protocol):
    """What the broker reads: bars by minute, and the earlier sessions' bars for liquidity."""


@dataclass(frozen=True)
class Submission:
    """The answer to an accepted POST /v2/orders."""

    order: dict
    lose_response: bool
    """Fault ``lose_order_response_count`` fired: drop the connection instead of answering."""


def _decimal_setting(value: float, name: str) -> Decimal:
    d = parse_decimal(value, name)
    if d < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return d


class PaperBroker:
    def __init__(
        self,
        clock: SimClock,
        prices: MarketPrices,
        faults: Faults,
        counters: Counters,
        *,
        calendar: TradingCalendar | None = None,
        cash: float = 100_000.0,
        costs: CostModel | None = None,
        seed: int = 0,
    ) -> None:
        self.clock = clock
        self.prices = prices
        self.faults = faults
        self.counters = counters
        self.calendar = calendar if calendar is not None else nyse()
        self.costs = costs if costs is not None else CostModel.default()
        """The cost model (``CostModel.default()``: every default of ``CostsConfig``)."""
        self.fee_accrual = DailyFeeAccrual()
        self.fill_costs: list[FillCosts] = []
        """Each execution's breakdown, in order."""
        self.activities = ActivityLog()
        self._liquidity: dict[tuple[str, date], Decimal | None] = {}
        self.portfolio = Portfolio(cents(_decimal_setting(cash, "cash")))
        self.last_equity = self.portfolio.cash
        self.updates = TradeUpdateHub()
        self._fill_rng = random.Random(seed)
        self._id_rng = random.Random(f"mockmarket-ids:{seed}")
        self._orders: dict[uuid.UUID, Order] = {}
        self._open: dict[uuid.UUID, Order] = {}
        self._by_client_id: dict[str, Order] = {}
        self._seq = 0
        self._last_minute: int | None = None
        self._created_ms = clock.now_ms()
        self.account_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"mockmarket:account:{seed}"))
        self.account_number = f"PA{int(self.account_id[:8], 16) % 10**10:010d}"

    # ------------------------------------------------------------ orders in
    def submit(self, body: object) -> Submission:
        """POST /v2/orders. Raises TradingError (counted) when the order is refused."""
        self.counters.orders_submitted += 1
        try:
            req = parse_new_order(body)
            order = self._create(req, self.clock.now_ms(), check_buying_power=True)
        except TradingError as e:
            if e.message == DUPLICATE_MESSAGE:
                self.counters.duplicates_rejected += 1
            else:
                self.counters.orders_rejected += 1
            raise
        now = order.created_ms
        if self.faults.take("reject_order_count"):
            order.status = "accepted"
            snapshot = order.to_json()
            self._store(order)
            self._finish(order, "rejected", now)
            self.counters.orders_rejected += 1
            log.info("order %s %s rejected by fault", order.id, order.client_order_id)
            return Submission(snapshot, lose_response=False)
        self.counters.orders_accepted += 1
        self._accept(order)
        lose = self.faults.take("lose_order_response_count")
        if lose:
            log.info(
                "order %s %s accepted; its response will be lost (fault)",
                order.id,
                order.client_order_id,
            )
        return Submission(order.to_json(), lose_response=lose)

    def replace_order(self, order_id: str, body: object) -> dict:
        """PATCH /v2/orders/{id}: a new order replaces an open, unfilled one."""
        old = self._find(order_id)
        if not old.is_open:
            raise unprocessable(f'order is already in "{old.status}" state')
        if old.filled_qty > 0:
            raise unprocessable("order is partially filled: cancel it instead of replacing it")
        rep = parse_replacement(body)
        if rep.limit_price is not None and old.type != "limit":
            raise invalid("limit_price is not allowed for market orders")
        merged: dict = {
            "symbol": old.symbol,
            "side": old.side,
            "type": old.type,
            "time_in_force": rep.time_in_force or old.time_in_force,
            "limit_price": None if old.type != "limit" else str(rep.limit_price or old.limit_price),
            "extended_hours": old.extended_hours,
            "client_order_id": rep.client_order_id,
        }
        if rep.qty is not None or old.notional is None:
            merged["qty"] = str(rep.qty if rep.qty is not None else old.qty)
        else:
            merged["notional"] = str(old.notional)
        req = parse_new_order(merged)
        now = self.clock.now_ms()
        new = self._create(req, now, check_buying_power=True, exclude=old)
        new.replaces = old.id
        old.replaced_by = new.id
        old.replaced_ms = now
        self._finish(old, "replaced", now)
        self._accept(new)
        return new.to_json()

    def cancel_order(self, order_id: str) -> None:
        """DELETE /v2/orders/{id}: 404 if unknown, 422 if no longer open."""
        order = self._find(order_id)
        if not order.is_open:
            raise unprocessable(f'order is already in "{order.status}" state')
        self._cancel(order, self.clock.now_ms())

    def cancel_all_orders(self) -> list[dict]:
        """DELETE /v2/orders: one ``{"id", "status", "body"}`` per canceled order."""
        now = self.clock.now_ms()
        out = []
        for order in self._open_orders():
            self._cancel(order, now)
            out.append({"id": str(order.id), "status": 200, "body": order.to_json()})
        return out

    def close_position(
        self, symbol_or_id: str, qty: str | None = None, percentage: str | None = None
    ) -> dict:
        """DELETE /v2/positions/{symbol}: the market order that liquidates all or part of it."""
        symbol = self._position_symbol(symbol_or_id)
        pos = self.portfolio.positions.get(symbol) if symbol else None
        if pos is None:
            raise not_found("position does not exist")
        held = abs(pos.qty)
        if qty is not None and percentage is not None:
            raise invalid("give qty or percentage, not both")
        amount = held
        if qty is not None:
            amount = positive_decimal(qty, "qty")
            if amount > held:
                raise forbidden(
                    f"insufficient qty available for order (requested: {fmt(amount)}, available: {fmt(held)})"
                )
        elif percentage is not None:
            pct = positive_decimal(percentage, "percentage")
            if pct > 100:
                raise invalid(f"percentage must be within (0, 100], got {percentage!r}")
            amount = floor_qty(held * pct / 100)
            if amount <= 0:
                raise invalid(
                    f"percentage {percentage!r} of {fmt(held)} shares is less than the smallest quantity"
                )
        side = "sell" if pos.qty > 0 else "buy"
        req = NewOrder(symbol, side, "market", "day", amount, None, None, False, None)
        order = self._create(req, self.clock.now_ms(), check_buying_power=False)
        self._accept(order)
        return order.to_json()

    def close_all_positions(self, cancel_orders: bool = False) -> list[dict]:
        """DELETE /v2/positions: one ``{"symbol", "status", "body"}`` per position."""
        if cancel_orders:
            self.cancel_all_orders()
        out = []
        for symbol in sorted(self.portfolio.positions):
            try:
                out.append({"symbol": symbol, "status": 200, "body": self.close_position(symbol)})
            except TradingError as e:
                out.append(
                    {
                        "symbol": symbol,
                        "status": e.status,
                        "body": {"code": e.code, "message": e.message, "symbol": symbol},
                    }
                )
        return out

    # ------------------------------------------------------------ the minute loop
    def on_minute(self, minute_start_ms: int) -> None:
        """Called at the start of every simulated minute, in order (C's minute loop).

        In this order: record last_equity at a session's open; check resting limit
        orders against the bar that just closed; run the close auction and expire
        day orders at a close; start queued orders at an open minute and re-try
        market remainders.
        """
        m = int(minute_start_ms)
        if m % MINUTE_MS:
            raise ValueError(f"on_minute({minute_start_ms!r}): not the start of a minute")
        if self._last_minute is not None and m <= self._last_minute:
            return
        self._last_minute = m
        session = self.calendar.session_of_minute(m)
        if session is not None and m == session.open_ms:
            self.last_equity = self._valuation(m).equity
        prev = m - MINUTE_MS
        prev_session = self.calendar.session_of_minute(prev)
        if prev_session is not None:
            self._check_resting_limits(prev)
            if m == prev_session.close_ms:
                self._close_auction(m)
                self._fill_market_orders_at_close(prev_session)
        self._expire(m)
        if session is not None:
            self._start_minute(m)

    # ------------------------------------------------------------ reading
    def get_order(self, order_id: str) -> dict:
        return self._find(order_id).to_json()

    def get_order_by_client_id(self, client_order_id: str) -> dict:
        order = self._by_client_id.get(client_order_id)
        if order is None:
            raise not_found("order not found")
        return order.to_json()

    def list_orders(self, query: Mapping[str, str]) -> list[dict]:
        q = parse_order_query(query)
        return [o.to_json() for o in select_orders(self._orders.values(), q)]

    def account(self) -> dict:
        now = self.clock.now_ms()
        return account_json(
            self._valuation(now),
            account_id=self.account_id,
            account_number=self.account_number,
            created_at=rfc3339_utc_us(self._created_ms),
            last_equity=self.last_equity,
            balance_asof=ny_date(now).isoformat(),
            accrued_fees=self.fee_accrual.day(ny_date(now)).charged,
        )

    def account_activities(
        self, query: Mapping[str, str], activity_type: str | None = None
    ) -> list[dict]:
        """GET /v2/account/activities[/{type}]: FILL and FEE activities, newest first."""
        return self.activities.select(query, activity_type, self.fee_accrual.days())

    def positions(self) -> list[dict]:
        return [self._position_json(sym) for sym in sorted(self.portfolio.positions)]

    def position(self, symbol_or_id: str) -> dict:
        symbol = self._position_symbol(symbol_or_id)
        if symbol is None or symbol not in self.portfolio.positions:
            raise not_found("position does not exist")
        return self._position_json(symbol)

    def asset(self, symbol_or_id: str) -> dict:
        symbol = self._known_symbol(symbol_or_id)
        if symbol is None:
            raise not_found(f"asset not found for {symbol_or_id}")
        return asset_json(symbol)

    def equity(self) -> Decimal:
        """Current equity (cash + marked positions), exact."""
        return self._valuation(self.clock.now_ms()).equity

    # ------------------------------------------------------------ creating
    def _new_id(self) -> uuid.UUID:
        return uuid.UUID(int=self._id_rng.getrandbits(128), version=4)

    def _create(
        self, req: NewOrder, now: int, *, check_buying_power: bool, exclude: Order | None = None
    ) -> Order:
        if not self.prices.has_symbol(req.symbol):
            raise invalid(f'asset "{req.symbol}" not found')
        if req.client_order_id is not None and req.client_order_id in self._by_client_id:
            raise TradingError(422, DUPLICATE_MESSAGE, INVALID_PARAMETER)
        session = self.calendar.session_at(now)
        if req.time_in_force == "opg" and session is not None:
            raise invalid(
                "time_in_force opg: orders for the opening auction are accepted only while the market is closed"
            )
        if (
            req.time_in_force == "cls"
            and session is not None
            and now >= session.close_ms - CLS_CUTOFF_MS
        ):
            raise invalid(
                "time_in_force cls: orders for the closing auction are accepted until 10 minutes before the close"
            )
        working = session if session is not None else self._next_session(now)
        position_qty = self.portfolio.qty(req.symbol)
        if (
            req.qty is not None
            and not is_whole(req.qty)
            and req.side == "sell"
            and position_qty + self._pending_qty(req.symbol, now, exclude) - req.qty < 0
        ):
            raise forbidden("fractional orders cannot be sold short")
        if check_buying_power:
            self._check_buying_power(req, now, exclude)
        self._seq += 1
        order = Order(
            id=self._new_id(),
            client_order_id=req.client_order_id or str(self._new_id()),
            seq=self._seq,
            symbol=req.symbol,
            asset_id=asset_id(req.symbol),
            side=req.side,
            type=req.type,
            time_in_force=req.time_in_force,
            qty=req.qty,
            notional=req.notional,
            limit_price=req.limit_price,
            extended_hours=req.extended_hours,
            created_ms=now,
            position_intent=_intent(req.side, position_qty),
        )
        if req.time_in_force != "gtc" and working is not None:
            order.expires_ms = working.close_ms
        if req.time_in_force == "cls" and working is not None:
            order.close_auction_ms = working.close_ms
        return order

    def _accept(self, order: Order) -> None:
        """Book an accepted order, announce it, and let it work at once if the market is open."""
        self._store(order)
        now = order.created_ms
        self._publish("new", order, now)
        if order.close_auction_ms is not None or self.calendar.session_at(now) is None:
            return
        order.active_ms = now
        self._execute_at_open(order, floor_minute(now))
        self._cancel_rest_if_immediate(order, now)

    def _store(self, order: Order) -> None:
        self._orders[order.id] = order
        self._by_client_id[order.client_order_id] = order
        if order.is_open:
            self._open[order.id] = order

    def _next_session(self, now: int) -> Session | None:
        try:
            _, next_open, _ = self.calendar.next_open_close(now)
        except ValueError:
            return None
        return self.calendar.session_at(to_ms(next_open))

    # ------------------------------------------------------------ buying power
    def _pending_qty(self, symbol: str, now: int, exclude: Order | None = None) -> Decimal:
        """Signed quantity that open orders on ``symbol`` still want to trade."""
        total = ZERO
        for o in self._open.values():
            if o.symbol != symbol or o is exclude:
                continue
            remaining = o.remaining
            if remaining is None:  # a notional order not filled yet
                price = self._last_price(symbol, now)
                remaining = ZERO if not price else o.notional / price
            total += o.sign * remaining
        return total

    def _last_price(self, symbol: str, now: int) -> Decimal | None:
        """The price of the minute in progress while open, else the last close."""
        if self.calendar.session_at(now) is not None:
            p = open_price(self.prices, symbol, floor_minute(now))
            if p is not None:
                return p
        return close_before(self.prices, symbol, floor_minute(now) + MINUTE_MS)

    def _reserved(self, now: int, exclude: Order | None = None) -> Decimal:
        """Exposure that open orders would add, at current prices."""
        reserved = ZERO
        for symbol in {o.symbol for o in self._open.values() if o is not exclude}:
            q = self.portfolio.qty(symbol)
            extra = abs(q + self._pending_qty(symbol, now, exclude)) - abs(q)
            price = self._last_price(symbol, now)
            if extra > 0 and price:
                reserved += extra * price
        return reserved

    def _check_buying_power(self, req: NewOrder, now: int, exclude: Order | None) -> None:
        price = req.limit_price or self._last_price(req.symbol, now)
        if price is None:
            return  # nothing traded yet: no price to value the order at
        qty = req.qty if req.qty is not None else req.notional / price
        q = self.portfolio.qty(req.symbol) + self._pending_qty(req.symbol, now, exclude)
        sign = 1 if req.side == "buy" else -1
        need = max(ZERO, abs(q + sign * qty) - abs(q)) * price
        if need > 0:
            available = self._valuation(now, exclude).buying_power
            if need > available:
                raise forbidden("insufficient buying power")

    def _valuation(self, now: int, exclude: Order | None = None) -> Valuation:
        marks = {}
        for sym in self.portfolio.positions:
            mark = mark_price(self.prices, sym, now)
            if mark is not None:
                marks[sym] = mark
        return value(self.portfolio, marks, self._reserved(now, exclude))

    # ------------------------------------------------------------ executing
    def _open_orders(self) -> list[Order]:
        return sorted(self._open.values(), key=lambda o: o.seq)

    def _liquidity_on(self, symbol: str, session: Session) -> Decimal | None:
        """``symbol``'s dollar volume per minute over the sessions before ``session`` (cached)."""
        if self.costs.spread is None:
            return None
        key = (symbol, session.date)
        if key not in self._liquidity:
            before = liquidity_window(self.calendar, session.date, self.costs.liquidity_sessions)
            self._liquidity[key] = history_liquidity(self.prices, symbol, before)
        return self._liquidity[key]

    def _quote(self, order: Order, reference: Decimal, minute: int) -> ExecutionPrice:
        session = self.calendar.session_of_minute(minute)
        liquidity = None if session is None else self._liquidity_on(order.symbol, session)
        return self.costs.execution_price(order.side, reference, liquidity)

    def _execute_at(
        self, order: Order, reference: Decimal, minute: int, *, whole: bool = False
    ) -> None:
        """Execute ``order`` at ``reference`` plus costs (never beyond its limit)."""
        if not marketable(reference, order.side, order.limit_price):
            return
        quote = self._quote(order, reference, minute)
        price = within_limit(quote.price, order.side, order.limit_price)
        self._fill(order, quote, price, minute, whole=whole)

    def _execute_at_open(self, order: Order, minute: int) -> None:
        """Try to execute ``order`` at the open of ``minute`` (a minute without a bar: it rests)."""
        if order.last_fill_minute is not None and minute <= order.last_fill_minute:
            return  # a remainder waits for the next minute
        if order.active_ms is not None and minute < floor_minute(order.active_ms):
            return  # a lagging minute loop never fills an order in a minute before it worked
        base = market_reference(self.prices, order.symbol, minute, self.costs.no_bar_rule)
        if base is not None:
            self._execute_at(order, base, minute)

    def _check_resting_limits(self, bar_minute: int) -> None:
        for order in self._open_orders():
            if (
                order.type != "limit"
                or order.active_ms is None
                or order.active_ms > bar_minute
                or (order.last_fill_minute is not None and order.last_fill_minute >= bar_minute)
                or order.close_auction_ms is not None
            ):
                continue
            bar = self.prices.bar_at(order.symbol, bar_minute)
            if bar is None or not bar_touches(bar, order.side, order.limit_price):
                continue
            quote = self._quote(order, price_of(bar.open), bar_minute)
            price = within_limit(quote.price, order.side, order.limit_price)
            self._fill(order, quote, price, bar_minute)

    def _close_auction(self, close_ms: int) -> None:
        now = self.clock.now_ms()
        for order in self._open_orders():
            if order.close_auction_ms != close_ms:
                continue
            base = close_before(self.prices, order.symbol, close_ms)
            if base is not None:
                self._execute_at(order, base, close_ms - MINUTE_MS)
            if order.is_open:
                self._cancel(order, now)

    def _fill_market_orders_at_close(self, session: Session) -> None:
        """ledger.no_bar_rule: a market order still working at the close (its symbol had no
        bar since it arrived, or a partial fill left a remainder) fills whole at the session's
        last price, plus costs."""
        if self.costs.no_bar_rule is not NoBarRule.NEXT_BAR:
            return
        last_minute = session.close_ms - MINUTE_MS
        for order in self._open_orders():
            if (
                order.type != "market"
                or order.close_auction_ms is not None
                or order.active_ms is None
                or order.active_ms >= session.close_ms
            ):
                continue
            base = closing_reference(self.prices, order.symbol, session.close_ms)
            if base is not None:
                self._execute_at(order, base, last_minute, whole=True)

    def _expire(self, m: int) -> None:
        now = self.clock.now_ms()
        for order in self._open_orders():
            if order.expires_ms is not None and order.expires_ms <= m:
                order.expired_ms = now
                self._finish(order, "expired", now)

    def _start_minute(self, m: int) -> None:
        now = self.clock.now_ms()
        for order in self._open_orders():
            if order.close_auction_ms is not None:
                continue
            if order.active_ms is None:
                order.active_ms = m
                self._execute_at_open(order, m)
                self._cancel_rest_if_immediate(order, now)
            elif order.type == "market":
                self._execute_at_open(order, m)

    def _cancel_rest_if_immediate(self, order: Order, now: int) -> None:
        if order.is_open and order.time_in_force in ("ioc", "fok", "opg"):
            self._cancel(order, now)

    def _fill(
        self,
        order: Order,
        quote: ExecutionPrice,
        price: Decimal,
        minute: int,
        *,
        whole: bool = False,
    ) -> None:
        """Execute (part of) ``order`` at ``price`` in ``minute``; ``whole``: never partially."""
        now = self.clock.now_ms()
        if order.total_qty is None:  # notional: the quantity is fixed at the first execution
            order.target_qty = floor_qty(order.notional / price)
            if order.target_qty <= 0:
                self._cancel(order, now)
                return
        remaining = order.remaining
        size = remaining
        if not whole and self._partial(order, remaining):
            size = Decimal(self._fill_rng.randint(1, int(remaining) - 1))
        execution, costs = book_fill(
            self.portfolio,
            self.fee_accrual,
            self.costs,
            symbol=order.symbol,
            side=order.side,
            qty=size,
            quote=quote,
            price=price,
            day=ny_date(minute),
            now_ms=now,
        )
        self.fill_costs.append(costs)
        order.filled_qty += size
        order.filled_value += size * price
        order.last_fill_minute = minute
        order.updated_ms = now
        self.counters.fills += 1
        done = order.filled_qty == order.total_qty
        if done:
            order.filled_ms = now
            self._finish(order, "filled", now, announce=False)
        else:
            order.status = "partially_filled"
        self.activities.add_fill(order, size, price, now)
        self._publish(
            "fill" if done else "partial_fill",
            order,
            now,
            price=fmt(price),
            qty=fmt(size),
            position_qty=fmt(execution.position_qty),
        )

    def _partial(self, order: Order, remaining: Decimal) -> bool:
        rate = self.faults.partial_fill_rate
        if rate <= 0 or order.time_in_force in ("fok", "opg", "cls"):
            return False
        if not is_whole(remaining) or remaining < 2:
            return False
        return self._fill_rng.random() < rate

    # ------------------------------------------------------------ lifecycle
    def _cancel(self, order: Order, now: int) -> None:
        order.canceled_ms = now
        self._finish(order, "canceled", now)

    def _finish(self, order: Order, status: str, now: int, *, announce: bool = True) -> None:
        """Move ``order`` to a closed status and announce it (the event is named as the status)."""
        order.status = status
        order.updated_ms = now
        if status == "rejected":
            order.failed_ms = now
        self._open.pop(order.id, None)
        if announce:
            self._publish(status, order, now)

    def _publish(self, event: str, order: Order, now: int, **extra: str) -> None:
        data = {
            "event": event,
            "execution_id": str(self._new_id()),
            "order": order.to_json(),
            "timestamp": rfc3339_utc_us(now),
            **extra,
        }
        self.updates.publish(data)

    # ------------------------------------------------------------ lookups
    def _find(self, order_id: str) -> Order:
        try:
            key = uuid.UUID(str(order_id))
        except ValueError:
            raise not_found("order not found") from None
        order = self._orders.get(key)
        if order is None:
            raise not_found("order not found")
        return order

    def _known_symbol(self, symbol_or_id: str) -> str | None:
        text = symbol_or_id.strip()
        if self.prices.has_symbol(text.upper()):
            return text.upper()
        try:
            wanted = uuid.UUID(text)
        except ValueError:
            return None
        return next((s for s in self.prices.symbols if asset_id(s) == wanted), None)

    def _position_symbol(self, symbol_or_id: str) -> str | None:
        text = symbol_or_id.strip()
        if text.upper() in self.portfolio.positions:
            return text.upper()
        try:
            wanted = uuid.UUID(text)
        except ValueError:
            return text.upper()
        return next((s for s in self.portfolio.positions if asset_id(s) == wanted), None)

    def _session_started(self, now: int) -> Session | None:
        """The latest session whose open is at or before ``now``."""
        try:
            s = self.calendar.last_session_on_or_before(ny_date(now))
            if s.open_ms > now:
                s = self.calendar.previous_session(s.date)
        except ValueError:
            return None
        return s

    def _position_json(self, symbol: str) -> dict:
        now = self.clock.now_ms()
        pos = self.portfolio.positions[symbol]
        session = self._session_started(now)
        lastday = None if session is None else close_before(self.prices, symbol, session.open_ms)
        closing = sum(
            (
                o.remaining or ZERO
                for o in self._open.values()
                if o.symbol == symbol and o.sign * pos.qty < 0
            ),
            ZERO,
        )
        available = max(ZERO, abs(pos.qty) - closing) * (1 if pos.qty > 0 else -1)
        return position_json(
            pos,
            mark_price(self.prices, symbol, now),
            lastday,
            None if session is None else session.open_ms,
            available,
        )


def _intent(side: str, position_qty: Decimal) -> str:
    if side == "buy":
        return "buy_to_close" if position_qty < 0 else "buy_to_open"
    return "sell_to_close" if position_qty > 0 else "sell_to_open"

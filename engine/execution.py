"""Sending the planned orders and following them to their end, journal first.

For the orders of an :class:`engine.order_plan.OrderPlan`:

1. the open orders the plan cancels are asked to cancel (``DELETE``, no read first);
2. every intent is journaled (status ``intent``), all of them in one transaction, *before*
   anything is sent; an intent journaled already (a relaunch re-deciding the minute) is
   settled with the broker, never sent again;
3. each is submitted as a market/day order with its deterministic ``client_order_id``
   (:meth:`common.rest.AlpacaRestClient.submit_order` never blindly resends: after a
   timeout, a lost response or a 422 duplicate it asks the broker by client order id);
4. the broker's answer is journaled: its status, and the fill if it already filled;
   a refusal (:class:`common.errors.RefusedError`: 403 buying power, 422 validation,
   400, 404) is journaled as ``rejected``, logged and reported as an event; a temporary
   error leaves the outcome ``unknown``, settled later by asking by client order id
   (never by sending again). An order the broker never received becomes ``lost``. An
   operational error (401) is not caught: the engine stops;
5. after the sends, the cancels are settled (the order is read back and journaled).

So between a decision and its first order request there is no REST read (an order whose
broker id is still unknown is the exception: it is looked up before it can be canceled).

Every report of an order lands in :meth:`Executor.apply` — a submit's answer, a poll, a
trade-updates event (:meth:`Executor.apply_event`) — which moves the
:class:`engine.broker_view.BrokerView` (every order of the account) and, for the engine's
own orders, journals the new part of the fill and the status. The journal's fills table is
unique by execution and by cumulative quantity, so an event and a poll reporting the same
fill never count it twice; new fills move the :class:`engine.position_book.PositionBook`.
Every status goes through the journal, which applies the order lifecycle
(:mod:`engine.order_lifecycle`): a finished order never reopens.

:meth:`Executor.poll` refreshes every order the journal still holds open (by broker id,
or by client order id while the broker id is unknown): the fallback while the
trade-updates stream is down, and the resync when it is back. At start-up
:meth:`Executor.settle` does the same for every open journal order of the strategy,
whatever its session, so a relaunch that re-decides a minute sees what the previous run
sent before it plans anything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from common.calendar import parse_rfc3339, to_ms
from common.errors import (
    AlpacaAPIError,
    DuplicateClientOrderIdError,
    NotFoundError,
    RefusedError,
    TemporaryError,
    UnprocessableError,
)
from common.order_status import OrderStatus
from common.quantities import QTY_EPS
from common.rest_models import Order
from engine.broker_view import BrokerView
from engine.journal import FillRecord, Intent, Journal, OrderRecord
from engine.order_plan import OrderPlan, PlannedOrder
from engine.position_book import PositionBook
from engine.trade_events import Execution, TradeEvent

log = logging.getLogger(__name__)


class TradingApi(Protocol):
    """The part of :class:`common.rest.AlpacaRestClient` the executor uses."""

    def submit_order(
        self, *, symbol: str, qty: float, side: str, type: str = ..., time_in_force: str = ...,
        client_order_id: str,
    ) -> Order: ...  # fmt: skip

    def get_order(self, order_id: str) -> Order: ...

    def get_order_by_client_id(self, client_order_id: str) -> Order | None: ...

    def cancel_order(self, order_id: str) -> None: ...

    def list_orders(self, status: str = ..., limit: int = ...) -> list[Order]: ...


@dataclass
class Sent:
    """What happened to the orders of one plan."""

    submitted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    canceled: list[str] = field(default_factory=list)
    fills: list[FillRecord] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.submitted) + len(self.rejected) + len(self.unknown)


def _fill_time_ms(order: Order, fallback: int) -> int:
    if order.filled_at is not None:
        return to_ms(order.filled_at)
    raw = order.raw.get("updated_at")
    if isinstance(raw, str):
        try:
            return to_ms(parse_rfc3339(raw))
        except ValueError:
            pass
    return fallback


def _stale(rec: OrderRecord, order: Order) -> bool:
    """Whether a report of an order is older than what the journal knows: less filled, or
    still working when the journal has it finished with as much filled (the stream's ``new``
    arriving after the submit's answer said ``filled``). Its status is not applied; a real
    conflict (a finished order reported with more filled) still goes to the lifecycle."""
    if order.filled_qty < rec.filled_qty - QTY_EPS:
        return True
    finished_by_broker = not rec.is_open and rec.status != OrderStatus.LOST  # lost: the engine's guess
    return finished_by_broker and order.is_open and order.filled_qty <= rec.filled_qty + QTY_EPS


class Executor:
    """Orders of one strategy and session: journal, send, follow, cancel."""

    def __init__(
        self,
        api: TradingApi,
        journal: Journal,
        strategy: str,
        session_date: date,
        *,
        book: PositionBook | None = None,
        view: BrokerView | None = None,
        now_ms: Callable[[], int] | None = None,
        on_event: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.api = api
        self.journal = journal
        self.strategy = strategy
        self.session_date = session_date
        self.book = book if book is not None else PositionBook()
        self.view = view
        self.now_ms = now_ms or journal.now_ms
        self.on_event = on_event

    # ------------------------------------------------------------------ helpers

    def _event(self, kind: str, detail: dict[str, Any]) -> None:
        if self.on_event is not None:
            self.on_event(kind, detail)

    def _record_fill(
        self,
        rec: OrderRecord,
        order: Order,
        *,
        execution: Execution | None,
        execution_id: str | None,
        t_ms: int | None,
        source: str,
    ) -> FillRecord | None:
        if order.filled_qty <= QTY_EPS:
            return None
        when = t_ms if t_ms is not None else _fill_time_ms(order, self.now_ms())
        if execution_id is not None and (execution is not None or order.filled_avg_price is not None):
            fill = self.journal.record_fill(
                rec.client_order_id,
                execution_id=execution_id,
                cum_qty=order.filled_qty,
                t_ms=when,
                price=None if execution is None else execution.price,
                qty=None if execution is None else execution.qty,
                avg_price=order.filled_avg_price,
                broker_order_id=order.id,
                source=source,
            )
        elif order.filled_avg_price is not None:  # the journal skips a cumulative qty it has
            fill = self.journal.record_fill_progress(
                rec.client_order_id,
                cum_qty=order.filled_qty,
                avg_price=order.filled_avg_price,
                t_ms=when,
                broker_order_id=order.id,
                source=source,
            )
        else:
            return None
        if fill is not None:
            self.book.apply(fill)
            log.info(
                "fill %s %s %g %s @ %.4f (cumulative %g of %g, %s, from %s)",
                fill.client_order_id,
                fill.side,
                fill.qty,
                fill.symbol,
                fill.price,
                fill.cum_qty,
                rec.qty,
                order.status,
                source,
            )
        return fill

    def apply(
        self,
        order: Order,
        *,
        execution: Execution | None = None,
        execution_id: str | None = None,
        t_ms: int | None = None,
        source: str = "poll",
    ) -> FillRecord | None:
        """One report of an order (its new fill, then its status): the broker view moves for
        any order; the journal and the book for the engine's own. ``source`` names the
        report in the journal (``poll``, ``response``, ``stream``)."""
        if self.view is not None:
            self.view.apply(order, execution)
        rec = self.journal.order(order.client_order_id)
        if rec is None:
            return None
        fill = self._record_fill(rec, order, execution=execution, execution_id=execution_id,
                                 t_ms=t_ms, source=source)  # fmt: skip
        if _stale(rec, order):
            log.debug("order %s: %s report (%s, %g filled) is older than the journal's (%s, %g)",
                      order.client_order_id, source, order.status, order.filled_qty, rec.status,
                      rec.filled_qty)  # fmt: skip
            return fill
        moved = self.journal.update_order(
            order.client_order_id,
            order.status,
            broker_order_id=order.id,
            filled_qty=order.filled_qty,
            filled_avg_price=order.filled_avg_price,
        )
        if moved and order.status == OrderStatus.REJECTED and rec.status != OrderStatus.REJECTED:
            log.warning("order %s was rejected by the broker", order.client_order_id)
            self._event("order_rejected", {"client_order_id": order.client_order_id})
        return fill

    def apply_event(self, ev: TradeEvent) -> FillRecord | None:
        """A trade-updates event (see :meth:`apply`); the new fill it journaled, if any."""
        return self.apply(ev.order, execution=ev.execution, execution_id=ev.execution_id,
                          t_ms=ev.t_ms, source="stream")  # fmt: skip

    def adopt(self, orders: Iterable[Order], t_ms: int) -> int:
        """Journal open broker orders of ours the journal does not know (journal lost or
        reset); returns how many were added."""
        n = 0
        for o in orders:
            if self.journal.order(o.client_order_id) is not None or not o.qty:
                continue
            self.journal.record_intent(
                o.client_order_id, strategy=self.strategy, session_date=self.session_date,
                t_ms=t_ms, symbol=o.symbol, side=o.side, qty=float(o.qty),
                reason="adopted at start-up",
            )  # fmt: skip
            self.apply(o)
            n += 1
            log.info("adopted open order %s %s %g %s", o.client_order_id, o.side, o.qty, o.symbol)
        return n

    # ------------------------------------------------------------------ follow-up

    def _refresh(self, rec: OrderRecord) -> FillRecord | None:
        """Ask the broker about one open journal order and journal the answer."""
        if rec.broker_order_id:
            try:
                order = self.api.get_order(rec.broker_order_id)
            except NotFoundError:
                order = self.api.get_order_by_client_id(rec.client_order_id)
        else:
            order = self.api.get_order_by_client_id(rec.client_order_id)
        if order is None:
            if rec.broker_order_id:
                log.error("order %s (%s) is unknown to the broker", rec.client_order_id,
                          rec.broker_order_id)  # fmt: skip
            else:
                log.warning(
                    "order %s (%s) never reached the broker: journaled as lost",
                    rec.client_order_id,
                    rec.status,
                )
            self.journal.update_order(
                rec.client_order_id, OrderStatus.LOST, detail="not found at the broker"
            )
            self._event("order_lost", {"client_order_id": rec.client_order_id})
            return None
        return self.apply(order)

    def open_records(self) -> list[OrderRecord]:
        return [r for r in self.journal.open_orders(self.strategy)]

    def poll(self) -> list[FillRecord]:
        """Refresh every open journal order of the strategy; the new fills."""
        fills = []
        for rec in self.open_records():
            try:
                f = self._refresh(rec)
            except (TemporaryError, RefusedError) as e:
                log.warning("cannot refresh order %s now: %s", rec.client_order_id, e)
                continue
            if f is not None:
                fills.append(f)
        return fills

    def settle(self) -> list[FillRecord]:
        """Start-up: resolve every open journal order with the broker (see :meth:`poll`)."""
        recs = self.open_records()
        if recs:
            log.info("settling %d open journal order(s) with the broker", len(recs))
        return self.poll()

    def pending(self) -> dict[str, float]:
        """Signed quantity open journal orders may still add, by symbol (buys +, sells −).

        Orders whose outcome is unknown count too: they may exist at the broker."""
        out: dict[str, float] = {}
        for r in self.open_records():
            left = r.remaining_qty
            if left > QTY_EPS:
                out[r.symbol] = out.get(r.symbol, 0.0) + (left if r.side == "buy" else -left)
        return out

    # ------------------------------------------------------------------ sending

    def _request_cancel(self, rec: OrderRecord) -> OrderRecord | None:
        """Ask the broker to cancel one open journal order (no read first when its broker id
        is known); the record to settle afterwards, or None if it is no longer working."""
        if not rec.broker_order_id:
            self._refresh(rec)
            rec = self.journal.order(rec.client_order_id) or rec
            if not rec.is_open or not rec.broker_order_id:
                return None if not rec.is_open else rec
        try:
            self.api.cancel_order(rec.broker_order_id)
        except (UnprocessableError, NotFoundError) as e:
            log.info("cancel of %s: %s (refreshing it)", rec.client_order_id, e.message)
        return rec

    def _settle_cancel(self, rec: OrderRecord) -> bool:
        """Read a canceled order back and journal it; True if it is no longer working."""
        if rec.is_open:
            self._refresh(rec)
        now = self.journal.order(rec.client_order_id)
        done = now is None or not now.is_open
        if done:
            log.info("order %s is %s", rec.client_order_id, now.status if now else "gone")
        return done

    def cancel(self, rec: OrderRecord) -> bool:
        """Cancel one open journal order; True if it is no longer working."""
        asked = self._request_cancel(rec)
        if asked is None:
            return True
        return self._settle_cancel(asked)

    def _matching(self, symbol: str | None, side: str | None) -> list[OrderRecord]:
        return [
            r
            for r in self.open_records()
            if (symbol is None or r.symbol == symbol) and (side is None or r.side == side)
        ]

    def cancel_matching(self, symbol: str | None = None, side: str | None = None) -> list[str]:
        """Cancel open journal orders (of ``symbol``/``side`` if given); the ids cancelled."""
        out = []
        for rec in self._matching(symbol, side):
            try:
                if self.cancel(rec):
                    out.append(rec.client_order_id)
            except (TemporaryError, RefusedError) as e:
                log.warning("cannot cancel %s now: %s", rec.client_order_id, e)
        return out

    def execute(self, plan: OrderPlan) -> Sent:
        """Cancel what the plan cancels, journal every intent, send, settle the cancels."""
        sent = Sent()
        to_settle: list[OrderRecord] = []
        for sym, side in plan.cancels:
            for rec in self._matching(sym, side):
                try:
                    asked = self._request_cancel(rec)
                except (TemporaryError, RefusedError) as e:
                    log.warning("cannot cancel %s now: %s", rec.client_order_id, e)
                    continue
                if asked is None:
                    sent.canceled.append(rec.client_order_id)
                else:
                    to_settle.append(asked)
        existing = self.journal.record_intents([
            Intent(o.client_order_id, self.strategy, self.session_date, plan.t_ms, o.symbol,
                   o.side, o.qty, o.reason)
            for o in plan.orders
        ])  # fmt: skip
        for o in plan.orders:
            if o.client_order_id in existing:
                self._settle_existing(o.client_order_id, sent)
            else:
                self._submit(o, sent)
        for rec in to_settle:
            try:
                if self._settle_cancel(rec):
                    sent.canceled.append(rec.client_order_id)
            except (TemporaryError, RefusedError) as e:
                log.warning("cannot read back the cancel of %s now: %s", rec.client_order_id, e)
        return sent

    def _settle_existing(self, cid: str, sent: Sent) -> None:
        """An intent planned before (a relaunch re-deciding the minute): settle, never resend."""
        log.warning("order %s was journaled already: asking the broker, not resending", cid)
        sent.skipped.append(cid)
        rec = self.journal.order(cid)
        if rec is not None and rec.is_open:
            f = self._refresh(rec)
            if f is not None:
                sent.fills.append(f)

    def _submit(self, o: PlannedOrder, sent: Sent) -> None:
        """Send one journaled intent and journal the broker's answer."""
        cid = o.client_order_id
        log.info("sending %s: %s %g %s (%s)", cid, o.side, o.qty, o.symbol, o.reason)
        try:
            order = self.api.submit_order(
                symbol=o.symbol, qty=o.qty, side=o.side, type="market", time_in_force="day",
                client_order_id=cid,
            )  # fmt: skip
        except DuplicateClientOrderIdError as e:
            self._reject(cid, f"client_order_id conflict: {e.message}", sent)
            return
        except RefusedError as e:
            why = f"HTTP {e.status}: {e.message}" if isinstance(e, AlpacaAPIError) else str(e)
            self._reject(cid, why, sent)
            return
        except TemporaryError as e:
            log.error("order %s: outcome unknown (%s); will ask by client_order_id", cid, e)
            self.journal.update_order(cid, OrderStatus.UNKNOWN, detail=str(e)[:500])
            sent.unknown.append(cid)
            return
        sent.submitted.append(cid)
        f = self.apply(order, source="response")
        if f is not None:
            sent.fills.append(f)

    def _reject(self, cid: str, why: str, sent: Sent) -> None:
        log.warning("order %s refused: %s", cid, why)
        self.journal.update_order(cid, OrderStatus.REJECTED, detail=why[:500])
        self._event("order_rejected", {"client_order_id": cid, "why": why})
        sent.rejected.append(cid)


__all__ = ["Executor", "Sent", "TradingApi"]

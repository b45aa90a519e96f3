"""Start-up steps between the warm-up and the first live minute (design.md §6).

- :func:`session_today` — which session "today" is, from the broker's clock (never the
  machine's), and whether there is anything left to trade;
- :func:`reconcile_with_broker` — settle the journal's open orders, then map the broker's
  positions and open orders onto the strategy (:func:`engine.reconcile.reconcile`), log
  ``Position reconciliation complete: <state>`` and journal it, and carry out what it
  decided: cancel stale orders, adopt ours, flatten the universe (policy ``flatten``) or
  stop (policy ``halt``), and load the resulting state into the strategy. Positions the
  strategy can manage, and every position outside its universe, get no order.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from common.calendar import Session, TradingCalendar, iso_ny, ny_date
from common.errors import NotFoundError, UnprocessableError
from common.history_download import last_closed_minute
from common.rest_models import BrokerClock
from engine.execution import Executor
from engine.order_plan import plan_orders
from engine.position_book import signed_positions
from engine.reconcile import ReconcileResult, reconcile
from engine.risk import RiskGuard
from engine.strategies import Strategy

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Today:
    """The session the broker's clock is in (or the day it is, when closed)."""

    now_ms: int
    day: date
    session: Session | None
    clock: BrokerClock

    @property
    def over(self) -> bool:
        return self.session is not None and self.now_ms >= self.session.close_ms

    def last_closed_minute(self) -> int | None:
        """The latest minute of today's grid that has closed (None before the first closes)."""
        return None if self.session is None else last_closed_minute(self.session, self.now_ms)

    def describe(self) -> str:
        if self.session is None:
            return (
                f"the market is closed today ({self.day}, broker time {iso_ny(self.now_ms)}); "
                f"next open {self.clock.next_open.isoformat()}"
            )
        if self.over:
            return f"the {self.day} session closed at {iso_ny(self.session.close_ms)}"
        return (
            f"session {self.day} {iso_ny(self.session.open_ms)}..{iso_ny(self.session.close_ms)}"
            f"{' (half day)' if self.session.is_half_day else ''}, broker time {iso_ny(self.now_ms)}"
        )


def session_today(clock: BrokerClock, calendar: TradingCalendar) -> Today:
    now = clock.timestamp_ms
    day = ny_date(now)
    session = calendar.session(day) if calendar.is_session(day) else None
    return Today(now, day, session, clock)


@dataclass(frozen=True)
class Reconciled:
    result: ReconcileResult
    halted: bool


def reconcile_with_broker(
    strategy: Strategy,
    executor: Executor,
    *,
    t_ms: int,
    prices: Mapping[str, float],
    guard: RiskGuard,
    journal_state: Mapping[str, Any] | None,
) -> Reconciled:
    """Settle, reconcile, act; the strategy is left holding the reconciled state.

    ``t_ms`` is the minute the hold clocks of unexplained holdings start from (the last
    warm-up minute); order ids of a flatten are of that minute.
    """
    api, journal = executor.api, executor.journal
    executor.settle()
    positions = api.get_positions()
    open_orders = api.list_orders(status="open", limit=500)
    equity = api.get_account().equity
    observed = strategy.state_dict()  # what the warm-up saw of today
    result = reconcile(
        strategy,
        positions,
        open_orders,
        session_date=executor.session_date,
        t_ms=t_ms,
        prices=prices,
        equity=equity,
        journal_state=journal_state,
    )
    log.info("%s", result.log_line())
    for line in result.details:
        log.info("  reconciliation: %s", line)
    journal.record_event(
        strategy.name,
        executor.session_date,
        t_ms,
        "reconciliation",
        {
            "state": result.state_name,
            "action": result.action,
            "journal": result.journal,
            "holdings": result.holdings,
            "targets": result.targets,
            "issues": list(result.issues),
            "details": list(result.details),
        },
    )
    executor.book.reset(signed_positions(positions))
    if result.action == "halt":
        log.error(
            "reconciliation policy 'halt': holdings fit no %s state (%s); nothing sent, "
            "the engine stops for the operator",
            strategy.name,
            "; ".join(result.issues),
        )
        journal.record_event(strategy.name, executor.session_date, t_ms, "halt",
                             {"reason": "reconciliation", "issues": list(result.issues)})  # fmt: skip
        return Reconciled(result, halted=True)

    by_id = {o.id: o for o in open_orders}
    for oid in result.cancel_order_ids:
        o = by_id.get(oid)
        rec = journal.order(o.client_order_id) if o is not None else None
        if rec is not None:
            executor.cancel(rec)
            continue
        try:
            api.cancel_order(oid)
            log.info("canceled open order %s (%s)", oid, o.client_order_id if o else "?")
        except (UnprocessableError, NotFoundError) as e:
            log.info("cancel of %s: %s", oid, e.message)
    executor.adopt([by_id[i] for i in result.adopt_order_ids if i in by_id], t_ms)
    strategy.load_state(strategy.merge_observed(result.strategy_state, observed))

    if result.action == "flatten":
        universe = set(strategy.symbols)
        held = {s: q for s, q in signed_positions(api.get_positions()).items() if s in universe}
        if held:
            plan = plan_orders(
                strategy.name,
                t_ms,
                {s: result.targets.get(s, 0) for s in held},
                held,
                prices=prices,
                equity=equity,
                guard=guard,
                pending=executor.pending(),
                used_ids=journal.ids_for_minute(strategy.name, t_ms),
                reasons=dict.fromkeys(held, "reconciliation: flatten holdings that fit no state"),
            )
            out = executor.execute(plan)
            sent = len(out.submitted) + len(out.unknown)
            log.warning("reconciliation flattened %s with %d order(s)", sorted(held), sent)
    return Reconciled(result, halted=False)


__all__ = ["Reconciled", "Today", "reconcile_with_broker", "session_today"]

"""The live engine's minute as a pure step: what arrived in, what to do out.

The shell (:class:`engine.app.LiveEngine`) reads a minute batch, computes its signals and
hands :func:`minute_step` everything the decision needs, already in memory:

- the :class:`~common.minute.Minute` and its signals;
- a :class:`~engine.broker_view.BrokerSnapshot`: positions with average entry, cash and
  the session's starting equity, kept up to date from the trade-updates stream;
- :class:`JournalFacts`: the client order ids already used on this minute, whether the day
  is halted, and what open orders may still fill (the journal's);
- whether the end-of-day flatten has run, and its instant.

It answers a :class:`MinuteOutcome` value: the orders to send and the open orders to cancel
first, or the end-of-day flatten instead, the journal rows (the decision with the
strategy's state after it, a ``halt`` event), the log lines, and how many orders could not
be sent because the minute is decided at the close. No I/O and no clock: the strategy
moves its own state (it is the step's state machine), nothing else changes. The shell then
journals the intents, sends, and records the rest (the send is journal-first:
:class:`engine.execution.Executor`).

The decision itself is :class:`engine.decision.DecisionStep`, the code path the backtest
runs too.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from common.bars import MINUTE_MS
from common.calendar import iso_ny
from common.minute import Minute
from engine.broker_view import BrokerSnapshot
from engine.decision import DecisionStep, StepResult
from engine.order_plan import OrderPlan, PlannedOrder
from engine.strategies import Signal


@dataclass(frozen=True)
class JournalFacts:
    """What the decision needs from the journal (read by the shell before the step)."""

    used_ids: frozenset[str] = frozenset()
    halted: bool = False
    pending: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LogLine:
    level: int
    message: str


@dataclass(frozen=True)
class DecisionRow:
    """The ``decisions`` row and the strategy state after it (one journal transaction)."""

    summary: str
    targets: Mapping[str, int]
    reasons: Mapping[str, str]
    details: Mapping[str, Any]
    state: Mapping[str, Any]


@dataclass(frozen=True)
class MinuteOutcome:
    """What one decided minute asks the shell to do, in order."""

    t_ms: int
    result: StepResult
    send: OrderPlan | None
    """The plan to carry out now (its cancels, then its orders); None at end of day, at the
    close, or when it has nothing to do."""
    eod_flatten: bool
    """Run the end-of-day flatten with ids of this bar instead of sending ``orders``."""
    row: DecisionRow
    events: tuple[tuple[str, dict[str, Any]], ...]
    """Journal events (kind, detail), e.g. ``halt``."""
    logs: tuple[LogLine, ...]
    halted: bool
    """Whether the day is halted after this minute."""
    not_sent: int
    """Orders decided at the close, which cannot reach the market any more."""

    @property
    def orders(self) -> tuple[PlannedOrder, ...]:
        """The orders to send now."""
        return () if self.send is None else self.send.orders

    @property
    def cancels(self) -> tuple[tuple[str, str], ...]:
        """(symbol, side) of the engine's open orders to cancel before sending."""
        return () if self.send is None else self.send.cancels


def minute_step(
    decision: DecisionStep,
    minute: Minute,
    signals: Mapping[str, Signal],
    broker: BrokerSnapshot,
    journal: JournalFacts,
    *,
    eod_at_ms: int,
    eod_done: bool,
) -> MinuteOutcome:
    """Decide ``minute`` and say what to send, cancel and record (see the module doc)."""
    t = int(minute.t)
    result = decision.decide(
        minute,
        signals,
        holdings=broker.holdings,
        cash=broker.cash,
        start_equity=broker.start_equity,
        pending=journal.pending,
        halted=journal.halted,
        used_ids=journal.used_ids,
        sent_this_minute=len(journal.used_ids),
    )
    d, plan = result.decision, result.plan
    logs: list[LogLine] = []
    events: list[tuple[str, dict[str, Any]]] = []
    halted = journal.halted
    if plan.halted and not journal.halted:
        halted = True
        logs.append(LogLine(logging.ERROR, f"HALT: {plan.halt_reason}"))
        events.append(("halt", {"reason": plan.halt_reason}))
    for note in (*plan.notes, *plan.deferred):
        logs.append(LogLine(logging.INFO, f"plan {iso_ny(t)}: {note}"))
    send: OrderPlan | None = None
    eod = False
    not_sent = 0
    if not result.orders_allowed:
        if plan.orders:
            not_sent = len(plan.orders)
            logs.append(LogLine(logging.WARNING, f"minute {iso_ny(t)} is decided at the close: "
                                                 f"{not_sent} order(s) not sent"))  # fmt: skip
    elif t + MINUTE_MS >= eod_at_ms and not eod_done:
        eod = True
    elif plan.orders or plan.cancels:
        send = plan
    if d.summary:
        name = decision.strategy.name
        logs.append(LogLine(logging.INFO, f"{name} {iso_ny(t)}: {d.summary} ({len(plan.orders)} order(s))"))
    row = DecisionRow(d.summary, dict(d.targets), dict(d.reasons), dict(d.details or {}),
                      decision.strategy.state_dict())  # fmt: skip
    return MinuteOutcome(t, result, send, eod, row, tuple(events), tuple(logs), halted, not_sent)


__all__ = ["DecisionRow", "JournalFacts", "LogLine", "MinuteOutcome", "minute_step"]

"""End of day: at the first minute >= close − ``eod_minutes_before_close`` (15:58; 12:58 on a
half day, from the calendar), cancel the engine's open orders and flatten every position in
the strategy's universe; at the close, confirm the universe is flat.

What it touches (:class:`EodScope`): the strategy's universe — its own positions, holdings
adopted at takeover, and any other position in its symbols — and, only with
``reconciliation.flatten_foreign_at_eod``, symbols outside it. A position outside the scope
is never traded and its open orders are left working; after the close it is logged as left
by design, not counted as a failure.

The flatten (:meth:`EndOfDay.run`, on the bar whose decision time is the EOD instant):

1. cancel the engine's open orders decided before that bar (as the backtest cancels every
   working order at that minute), and any other open order on a symbol in scope (a
   hand-placed buy would reopen a position); closing orders of that bar already working
   (a relaunch after the flatten) are kept;
2. close every position in scope with journaled, deterministic client order ids of that
   bar (:func:`engine.decision.flatten_plan`, the backtest's ids), counting what working
   orders still bring (pending): nothing is sent twice.

It does not wait. A closing order on a symbol with no bar in that minute rests at the
broker until the symbol's next bar, or fills at the session's last price at the close
(the cost model's rule, ``ledger.no_bar_rule``); it is pending, not missing. Later
minutes plan as usual with every target 0 and the pending orders counted, so an order is
sent again only if it is actually gone (rejected, canceled, expired), with that minute's
ids — the backtest's behaviour. :meth:`EndOfDay.follow_up` does the same for scope
symbols outside the strategy's targets (foreign ones under ``flatten_foreign_at_eod``).
:meth:`EndOfDay.confirm_at_close` reads the broker after the close, giving orders still
working up to ``confirm_timeout_s`` wall seconds to be filled at the close, and reports
flat or NOT flat, loudly.

:func:`eod_bar` gives the bar from the calendar, so a time-driven EOD (no bars arriving)
sends the same ids a bar-driven one would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from common.bars import MINUTE_MS
from common.calendar import Session, iso_ny
from common.config import SessionConfig, StrategyConfig
from common.errors import NotFoundError, RefusedError, TemporaryError, UnprocessableError
from engine.decision import flatten_plan
from engine.execution import Executor
from engine.journal import OrderRecord
from engine.order_ids import parse_client_order_id
from engine.position_book import signed_positions
from engine.risk import RiskGuard

log = logging.getLogger(__name__)


def eod_time_ms(session: Session, cfg: SessionConfig) -> int:
    """The instant end of day starts: close − N minutes (15:58, or 12:58 on a half day)."""
    return session.eod_ms(cfg.eod_minutes_before_close)


def eod_bar(session: Session, cfg: SessionConfig) -> int:
    """The bar whose decision time is the end of day (its start is one minute earlier)."""
    return eod_time_ms(session, cfg) - MINUTE_MS


@dataclass(frozen=True)
class EodScope:
    """The symbols end of day trades: the universe, and foreign ones only if configured."""

    universe: frozenset[str]
    foreign: bool = False
    """``reconciliation.flatten_foreign_at_eod``: close symbols outside the universe too."""

    @classmethod
    def of(cls, cfg: StrategyConfig) -> EodScope:
        return cls(frozenset(cfg.symbols), cfg.reconciliation.flatten_foreign_at_eod)

    def covers(self, symbol: str) -> bool:
        return self.foreign or symbol in self.universe

    def split(self, positions: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
        """(positions in scope, positions left alone by design)."""
        mine = {s: q for s, q in positions.items() if self.covers(s)}
        return mine, {s: q for s, q in positions.items() if not self.covers(s)}


@dataclass
class EodResult:
    t_ms: int
    canceled: int = 0
    orders: list[str] = field(default_factory=list)
    """Closing orders sent (their client order ids), follow-ups included."""
    resting: dict[str, float] = field(default_factory=dict)
    """Positions whose closing orders were still working after the send (no bar yet)."""
    flat: bool | None = None
    """None until :meth:`EndOfDay.confirm_at_close`; then whether the scope is flat."""
    remaining: dict[str, float] = field(default_factory=dict)
    """In scope and still held at the close (a failure)."""
    left_alone: dict[str, float] = field(default_factory=dict)
    """Outside the scope and held at the close (by design)."""
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        when = f"EOD {iso_ny(self.t_ms + MINUTE_MS)}"
        done = f"{len(self.orders)} closing order(s), {self.canceled} open order(s) canceled"
        if self.flat is None:
            rest = (
                f"; working until their symbol's next bar or the close: {self.resting}"
                if self.resting
                else ""
            )
            return f"{when}: {done}{rest}"
        if self.flat:
            return f"{when}: flat at the close ({done})"
        return f"{when}: NOT flat at the close: {self.remaining} ({done})"


class EndOfDay:
    """Cancel and flatten at the EOD minute, follow up, confirm at the close; one session."""

    def __init__(
        self,
        executor: Executor,
        session: Session,
        cfg: SessionConfig,
        guard: RiskGuard,
        *,
        scope: EodScope,
        confirm_timeout_s: float = 20.0,
        poll_s: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.executor = executor
        self.api = executor.api
        self.session = session
        self.cfg = cfg
        self.guard = guard
        self.scope = scope
        self.confirm_timeout_s = confirm_timeout_s
        self.poll_s = poll_s
        self._sleep = sleep
        self._mono = monotonic
        self.done: EodResult | None = None

    @property
    def at_ms(self) -> int:
        return eod_time_ms(self.session, self.cfg)

    @property
    def bar_ms(self) -> int:
        return eod_bar(self.session, self.cfg)

    def due_for_bar(self, t_ms: int) -> bool:
        """Whether the decision on bar ``t_ms`` (made at ``t_ms`` + 1 min) is at or after EOD."""
        return t_ms + MINUTE_MS >= self.at_ms

    def due_at(self, now_ms: int) -> bool:
        return now_ms >= self.at_ms

    # ------------------------------------------------------------------ steps

    def positions(self) -> tuple[dict[str, float], dict[str, float]]:
        """The broker's positions: (in scope, left alone)."""
        return self.scope.split(signed_positions(self.api.get_positions()))

    def _decided_before_eod(self, rec: OrderRecord) -> bool:
        key = parse_client_order_id(rec.client_order_id)
        return (key.t_ms if key is not None else rec.t_ms) < self.bar_ms

    def cancel_open_orders(self) -> int:
        """Cancel the engine's open orders decided before the EOD bar and every other open
        order on a symbol in scope; how many are no longer working."""
        n = 0
        for rec in self.executor.open_records():
            if not self._decided_before_eod(rec):
                continue
            try:
                n += int(self.executor.cancel(rec))
            except (TemporaryError, RefusedError) as e:
                log.warning("EOD: cannot cancel %s now: %s", rec.client_order_id, e)
        for o in self.api.list_orders(status="open", limit=500):
            if self.executor.journal.order(o.client_order_id) is not None:
                continue  # the engine's: handled above
            if not self.scope.covers(o.symbol):
                log.info("EOD: open order %s (%s %s) left working: outside the strategy's universe",
                         o.id, o.side, o.symbol)  # fmt: skip
                continue
            try:
                self.api.cancel_order(o.id)
                n += 1
                log.info("EOD: canceled open order %s (%s %s, not ours)", o.id, o.side, o.symbol)
            except (UnprocessableError, NotFoundError) as e:
                log.info("EOD: order %s: %s", o.id, e.message)
        return n

    def _close(
        self,
        t_ms: int,
        prices: Mapping[str, float],
        result: EodResult,
        skip: Collection[str] = (),
    ) -> list[str]:
        """Send what closes every position in scope (but ``skip``'s) that working orders do
        not already close, with ids of bar ``t_ms``; the ids sent."""
        ex = self.executor
        ex.poll()
        pending = ex.pending()  # read before the positions: a fill in between is then seen
        held, _ = self.positions()  # as a smaller position, never as a missing order
        held = {s: q for s, q in held.items() if s not in skip}
        pending = {s: q for s, q in pending.items() if s not in skip and self.scope.covers(s)}
        if not held and not pending:
            return []
        plan = flatten_plan(ex.strategy, t_ms, held, prices, self.guard, pending=pending,
                            used_ids=ex.journal.ids_for_minute(ex.strategy, t_ms))  # fmt: skip
        if not plan.orders and not plan.cancels:
            return []
        sent = ex.execute(plan)
        ids = sent.submitted + sent.unknown
        result.orders += ids
        working = {r.symbol for r in ex.open_records()}
        result.resting.update({s: q for s, q in held.items() if s in working})
        return ids

    def run(self, t_ms: int, prices: Mapping[str, float]) -> EodResult:
        """Cancel and flatten with ids of bar ``t_ms``; no waiting (see the module doc)."""
        result = EodResult(t_ms)
        log.info("EOD at %s: canceling open orders and flattening the strategy's positions",
                 iso_ny(t_ms + MINUTE_MS))  # fmt: skip
        try:
            result.canceled += self.cancel_open_orders()
            self._close(t_ms, prices, result)
        except (TemporaryError, RefusedError) as e:  # the next minutes and the close follow up
            log.error("EOD %s: broker error: %s (later minutes send what is missing)",
                      iso_ny(t_ms + MINUTE_MS), e)  # fmt: skip
            result.errors.append(str(e)[:300])
        log.info("%s", result.summary())
        self.done = result
        return result

    def follow_up(self, t_ms: int, prices: Mapping[str, float], managed: Collection[str]) -> list[str]:
        """After the flatten, on bar ``t_ms``: close what is in scope but outside ``managed``
        (the symbols the strategy's own plan of that minute takes to 0) and still held with
        no working order (one gone: rejected, canceled, expired); the ids sent."""
        if self.done is None or self.done.flat is not None:
            return []
        if not self.scope.foreign and self.scope.universe <= set(managed):
            return []  # nothing in scope the strategy's plan does not already cover
        try:
            ids = self._close(t_ms, prices, self.done, skip=managed)
        except (TemporaryError, RefusedError) as e:
            log.warning("EOD follow-up on %s: %s", iso_ny(t_ms), e)
            return []
        if ids:
            log.warning("EOD follow-up %s: %d closing order(s) sent: %s", iso_ny(t_ms), len(ids), ids)
        return ids

    def confirm_at_close(self) -> EodResult:
        """After the close: the scope flat, or not. Closing orders still working get up to
        ``confirm_timeout_s`` wall seconds (the broker fills them at the close)."""
        result = self.done if self.done is not None else EodResult(self.bar_ms)
        deadline = self._mono() + self.confirm_timeout_s
        while True:
            self.executor.poll()
            held, left = self.positions()
            working = {r.symbol for r in self.executor.open_records()} & set(held)
            if not held or not working or self._mono() >= deadline:
                break
            log.info("after the close: waiting for the closing orders of %s", sorted(working))
            self._sleep(self.poll_s)
        result.flat, result.remaining, result.left_alone = not held, held, left
        self.done = result
        return result


__all__ = ["EndOfDay", "EodResult", "EodScope", "eod_bar", "eod_time_ms"]

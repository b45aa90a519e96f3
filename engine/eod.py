"""End of day: at the first minute >= close − ``eod_minutes_before_close`` (15:58; 12:58 on a
half day, from the calendar), cancel every open order, flatten every position, and confirm
the account is flat by polling the broker's positions.

The strategies already answer targets of 0 on that minute (``MinuteInput.is_eod``); this
module does the rest, whatever the strategy holds or believes: it cancels open orders
(journaled ones through the executor, any other one directly), then sells (or covers)
every position the broker reports — the strategy's and any other — with journaled,
deterministic client order ids, and polls until the broker shows no position. If a
position is still there after ``confirm_timeout_s`` wall seconds it tries again (new
sequence numbers of the same minute); after ``attempts`` tries it reports failure, loudly.

The minute used for the order ids is the bar the EOD decision is made on (15:57 on a full
day: its decision time is 15:58). :func:`eod_bar` gives it from the calendar, so a
time-driven EOD (no bars arriving) sends the same ids a bar-driven one would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from common.bars import MINUTE_MS
from common.calendar import Session, iso_ny
from common.config import SessionConfig
from common.errors import NotFoundError, RefusedError, TemporaryError, UnprocessableError
from engine.decision import flatten_plan
from engine.execution import Executor
from engine.position_book import signed_positions
from engine.risk import RiskGuard

log = logging.getLogger(__name__)


def eod_time_ms(session: Session, cfg: SessionConfig) -> int:
    """The instant end of day starts: close − N minutes (15:58, or 12:58 on a half day)."""
    return session.eod_ms(cfg.eod_minutes_before_close)


def eod_bar(session: Session, cfg: SessionConfig) -> int:
    """The bar whose decision time is the end of day (its start is one minute earlier)."""
    return eod_time_ms(session, cfg) - MINUTE_MS


@dataclass
class EodResult:
    t_ms: int
    flat: bool
    canceled: int = 0
    orders: list[str] = field(default_factory=list)
    remaining: dict[str, float] = field(default_factory=dict)
    attempts: int = 0

    def summary(self) -> str:
        if self.flat:
            return (
                f"EOD {iso_ny(self.t_ms + MINUTE_MS)}: flat ({self.canceled} open order(s) "
                f"canceled, {len(self.orders)} closing order(s))"
            )
        return f"EOD {iso_ny(self.t_ms + MINUTE_MS)}: NOT flat after {self.attempts} attempts: {self.remaining}"


class EndOfDay:
    """Cancel, flatten, confirm, for one session."""

    def __init__(
        self,
        executor: Executor,
        session: Session,
        cfg: SessionConfig,
        guard: RiskGuard,
        *,
        attempts: int = 3,
        confirm_timeout_s: float = 20.0,
        poll_s: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts={attempts!r} must be >= 1")
        self.executor = executor
        self.api = executor.api
        self.session = session
        self.cfg = cfg
        self.guard = guard
        self.attempts = attempts
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

    def cancel_all(self) -> int:
        """Cancel every open order at the broker; how many were working."""
        n = len(self.executor.cancel_matching())
        for o in self.api.list_orders(status="open", limit=500):
            if self.executor.journal.order(o.client_order_id) is not None:
                self.executor.cancel_matching(o.symbol, o.side)
                continue
            try:
                self.api.cancel_order(o.id)
                n += 1
                log.info("EOD: canceled open order %s (%s %s, not ours)", o.id, o.side, o.symbol)
            except (UnprocessableError, NotFoundError) as e:
                log.info("EOD: order %s: %s", o.id, e.message)
        return n

    def positions(self) -> dict[str, float]:
        return signed_positions(self.api.get_positions())

    def _flatten_once(self, t_ms: int, prices: Mapping[str, float], result: EodResult) -> None:
        result.canceled += self.cancel_all()
        self.executor.poll()
        held = self.positions()
        if not held:
            return
        journal = self.executor.journal
        plan = flatten_plan(self.executor.strategy, t_ms, held, prices, self.guard,
                            used_ids=journal.ids_for_minute(self.executor.strategy, t_ms))  # fmt: skip
        sent = self.executor.execute(plan)
        result.orders += sent.submitted + sent.unknown

    def _confirm(self) -> dict[str, float]:
        deadline = self._mono() + self.confirm_timeout_s
        while True:
            self.executor.poll()
            held = self.positions()
            if not held or self._mono() >= deadline:
                return held
            self._sleep(self.poll_s)

    def run(self, t_ms: int, prices: Mapping[str, float]) -> EodResult:
        """Flatten everything with ids of bar ``t_ms``; confirms (or reports) flat."""
        result = EodResult(t_ms, flat=False)
        log.info("EOD at %s: canceling open orders and flattening", iso_ny(t_ms + MINUTE_MS))
        remaining: dict[str, float] = {}
        for attempt in range(1, self.attempts + 1):
            result.attempts = attempt
            try:
                self._flatten_once(t_ms, prices, result)
                remaining = self._confirm()
            except (TemporaryError, RefusedError) as e:  # the next attempt starts afresh
                log.error("EOD attempt %d: broker error: %s", attempt, e)
                remaining = {"?": float("nan")}
                continue
            if not remaining:
                break
            log.warning("EOD attempt %d: still holding %s", attempt, remaining)
        result.flat = not remaining
        result.remaining = remaining
        (log.info if result.flat else log.error)("%s", result.summary())
        self.done = result
        return result


__all__ = ["EndOfDay", "EodResult", "eod_bar", "eod_time_ms"]

"""The live engine process: start-up in the order of design.md §6, then one decision per minute.

Start-up: config and params (done by the CLI) → today's session from the broker's clock →
warm-up (20 sessions of history, today's bars, a REST backfill up to now; all through the
session-grid rule and the live update path) → reconciliation (settle the journal's open
orders, positions and open orders → strategy state, journal state restored where it
agrees) → open the FIFO → the last warm-up minute is decided as the first live one → one
decision per minute batch.

Each minute: signals → poll order fills → the broker's positions and cash → the shared
decision step (strategy + risk + order plan) → journal (decision and state in one
transaction) → orders sent (intent journaled first) or, from close − 2 min, the end-of-day
flatten → the position book checked against the broker → ``state.json``.

Minutes that only fill a gap (backfilled before a newer one) update the signals and the
strategy's observations but are not decided: orders are only sent for the newest minute,
whose decision time is now. No order is sent once the session has closed.

Between lines the loop asks the broker's clock every ``clock_every_s`` seconds: end of
day happens on time even when no bar arrives, minutes are backfilled over REST when the
bridge is silent, and the process exits after the close once the account is flat (on a
closed day, or after the close, it exits at once with a clear message). SIGTERM/SIGINT
only set a flag; the loop finishes the minute in hand, writes ``state.json`` and exits 0.

Errors, by category (:mod:`common.errors`): a temporary one (broker trouble) is logged and
the loop carries on; a refusal (a 4xx the broker answered) is logged, journaled as a
``refused`` event, and the loop carries on; an operational one (keys refused, journal
unusable), or a refusal during start-up, ends the process with exit code 2
(:mod:`common.exit_codes`); anything else is a crash (1).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.bars import MINUTE_MS
from common.calendar import TradingCalendar, iso_ny, nyse
from common.config import StrategyConfig
from common.errors import OperationalError, RefusedError, TemporaryError, TraderError
from common.exit_codes import EXIT_HALTED, EXIT_OK, EXIT_OPERATOR
from common.fifo import DEFAULT_FIFO_PATH, FifoLineReader, check_fifo_path
from common.minute import Minute
from common.quantities import is_flat
from common.rest import AlpacaRestClient
from common.stop_flag import StopFlag
from engine.bar_feed import BarFeed, rest_backfill
from engine.decision import DecisionStep
from engine.eod import EndOfDay
from engine.execution import Executor
from engine.journal import Journal
from engine.position_book import PositionBook, signed_positions
from engine.risk import RiskGuard
from engine.startup import Today, reconcile_with_broker, session_today
from engine.state_snapshot import write_state_json
from engine.strategies import Holding, Strategy, make_strategy
from engine.warmup import WarmUp, warm_up

log = logging.getLogger("engine")

MIN_CLOCK_S = 0.25
EOD_GRACE_MS = 10_000
"""Broker time past the EOD instant before the engine stops waiting for the EOD bar's batch."""


@dataclass(frozen=True)
class EngineOptions:
    strategy: str
    fifo: Path = DEFAULT_FIFO_PATH
    log_dir: Path = Path("logs/live_trading")
    data_dir: Path = Path("data")
    history_sessions: int = 20
    alert_after_s: float = 30.0
    """Wall seconds without bars or heartbeats (market open) before the feed alert."""
    poll_s: float = 0.2
    """Longest wait for a FIFO line before the loop looks at the clock and the stop flag."""
    clock_every_s: float = 5.0
    """Broker seconds between looks at the broker's clock (12 requests a minute live; in a
    fast replay the same broker interval, but never more often than every 0.25 wall s)."""
    rest_fallback_s: float = 15.0
    """Wall seconds without a batch (market open) before closed minutes are taken from REST."""
    eod_confirm_s: float = 20.0

    def __post_init__(self) -> None:
        for name in ("alert_after_s", "poll_s", "clock_every_s", "rest_fallback_s", "eod_confirm_s"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and v > 0):
                raise ValueError(f"engine option {name}={v!r} must be a positive number")
        if self.history_sessions < 1:
            raise ValueError(f"history_sessions={self.history_sessions!r} must be >= 1")

    @property
    def journal_path(self) -> Path:
        return self.log_dir / "journal.sqlite"

    @property
    def state_path(self) -> Path:
        return self.log_dir / "state.json"


@dataclass
class Counters:
    minutes: int = 0
    decided: int = 0
    observed: int = 0
    orders: int = 0
    fills: int = 0
    book_repairs: int = 0
    errors: int = 0
    skipped_after_close: int = 0
    phases: list[str] = field(default_factory=list)


class LiveEngine:
    """One strategy, one session, one process."""

    def __init__(
        self,
        opts: EngineOptions,
        cfg: StrategyConfig,
        rest: AlpacaRestClient,
        *,
        stop: StopFlag | None = None,
        calendar: TradingCalendar | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.opts = opts
        self.cfg = cfg
        self.rest = rest
        self.stop = stop or StopFlag()
        self.calendar = calendar or nyse()
        self._mono = monotonic
        self.strategy: Strategy = make_strategy(cfg)
        self.guard = RiskGuard(cfg.risk)
        self.counters = Counters()
        self.phase = "starting"
        self.today: Today | None = None
        self.journal: Journal | None = None
        self.executor: Executor | None = None
        self.feed: BarFeed | None = None
        self.eod: EndOfDay | None = None
        self.step: DecisionStep | None = None
        self.warm: WarmUp | None = None
        self.halted = False
        self.last_decision: dict[str, Any] | None = None
        self._broker_now = 0
        self._clock_open = True
        self._next_clock = 0.0
        self._clock_seen: tuple[int, float] | None = None
        self._speed = 1.0

    # ------------------------------------------------------------------ helpers

    @property
    def name(self) -> str:
        return self.strategy.name

    @property
    def last_prices(self) -> Mapping[str, float]:
        """Each symbol's last close, from the feed's grid rule (the warm-up's before the feed)."""
        if self.feed is not None:
            return self.feed.last_closes
        return self.warm.last_closes if self.warm is not None else {}

    def sim_now_ms(self) -> int:
        """Best knowledge of the broker's now: its last clock answer or the last bar's end."""
        last = self.feed.last_t + MINUTE_MS if self.feed and self.feed.last_t else 0
        return max(self._broker_now, last)

    def _event(self, kind: str, detail: dict[str, Any]) -> None:
        if self.journal is None or self.today is None:
            return
        t = self.feed.last_t if self.feed and self.feed.last_t else self.sim_now_ms()
        self.journal.record_event(self.name, self.today.day, (t // MINUTE_MS) * MINUTE_MS, kind, detail)

    def _set_phase(self, phase: str) -> None:
        if phase != self.phase:
            log.info("phase: %s -> %s", self.phase, phase)
            self.phase = phase
            self.counters.phases.append(phase)

    def _ask_clock(self) -> Today:
        today = session_today(self.rest.get_clock(), self.calendar)
        wall = self._mono()
        if self._clock_seen is not None:  # how fast broker time runs (1 live; more in a replay)
            d_sim, d_wall = today.now_ms - self._clock_seen[0], wall - self._clock_seen[1]
            if d_wall > 0.05 and d_sim >= 0:
                self._speed = max(1.0, d_sim / 1000.0 / d_wall)
        self._clock_seen = (today.now_ms, wall)
        self._broker_now = today.now_ms
        self._clock_open = today.clock.is_open
        return today

    def _next_clock_in(self, now_ms: int) -> float:
        """Wall seconds until the next look at the clock: ``clock_every_s`` of broker time
        (at least ``MIN_CLOCK_S`` wall), shortened so that the EOD instant and the close are
        not overshot by much however fast broker time runs."""
        wait = max(MIN_CLOCK_S, self.opts.clock_every_s / self._speed)
        assert self.eod is not None and self.today is not None and self.today.session is not None
        for target in (self.eod.at_ms + EOD_GRACE_MS, self.today.session.close_ms):
            if now_ms < target:
                wait = min(wait, (target - now_ms) / 1000.0 / self._speed)
        return max(0.02, wait)

    # ------------------------------------------------------------------ start-up

    def start(self) -> int | None:
        """Everything before the first live minute; an exit code if there is nothing to do."""
        today = self._ask_clock()
        self.today = today
        log.info("%s engine: %s", self.name, today.describe())
        if today.session is None:
            log.info("nothing to trade today: exiting")
            return EXIT_OK
        session = today.session
        check_fifo_path(self.opts.fifo)  # an unsafe path stops us before any work
        self.opts.log_dir.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(self.opts.journal_path, now_ms=self.sim_now_ms)
        book = PositionBook()
        self.executor = Executor(self.rest, self.journal, self.name, today.day, book=book,
                                 now_ms=self.sim_now_ms, on_event=self._event)  # fmt: skip
        if today.over:
            return self._after_close()
        self.halted = self.journal.is_halted(self.name, today.day)
        if self.halted:
            log.error("the journal says %s halted today (%s): no new positions", self.name, today.day)

        self._set_phase("warm-up")
        self.warm = warm_up(
            self.strategy, session, self.opts.data_dir, self.rest,
            history_sessions=self.opts.history_sessions, calendar=self.calendar,
        )  # fmt: skip
        self.step = DecisionStep(self.strategy, self.cfg, session, signal_engine=self.warm.signals,
                                 guard=self.guard, round_trip_costs=self.warm.round_trip_costs)  # fmt: skip

        self._set_phase("reconciliation")
        t_ref = self.warm.pending.t if self.warm.pending else session.open_ms - MINUTE_MS
        jstate = self.journal.last_state(self.name, today.day)
        rec = reconcile_with_broker(
            self.strategy, self.executor, t_ms=t_ref, prices=self.last_prices, guard=self.guard,
            journal_state=None if jstate is None else jstate.state,
        )  # fmt: skip
        if rec.halted:
            self._write_state()
            return EXIT_HALTED

        self.eod = EndOfDay(self.executor, session, self.cfg.session, self.guard,
                            confirm_timeout_s=self.opts.eod_confirm_s)  # fmt: skip
        reader = FifoLineReader(self.opts.fifo, check_interval=0.5)
        reader.open()
        self.feed = BarFeed(
            self.strategy.symbols, session, reader, rest_backfill(self.rest),
            last_t=self.warm.last_t, last_closes=self.warm.last_closes,
            alert_after_s=self.opts.alert_after_s, on_alert=self._event,
            market_open=lambda: self._clock_open, monotonic=self._mono,
        )  # fmt: skip
        log.info("listening on FIFO %s", self.opts.fifo)
        if self.warm.pending is not None:  # the last closed minute: decided as if it just came
            try:
                self._minute(self.warm.pending, decide=True)
            except (TemporaryError, RefusedError) as e:
                self._carry_on(e, f"deciding {iso_ny(self.warm.pending.t)} failed")
        self._set_phase("trading")
        self._write_state()
        return None

    # ------------------------------------------------------------------ the loop

    def run(self) -> int:
        try:
            code = self.start()
            if code is not None:
                return code
            return self._loop()
        finally:
            self._close()

    def _loop(self) -> int:
        while not self.stop.requested:
            code = self._tick()
            if code is not None:
                return code
        log.info("%s received: stopping (positions are kept; a relaunch takes over)", self.stop.signal)
        self._set_phase("stopped")
        self._write_state()
        return EXIT_OK

    def _tick(self) -> int | None:
        """One turn of the loop: the minutes that arrived, then the clock's duties; an exit
        code when the process should end. Temporary errors and refusals are logged and the
        loop carries on; operational errors propagate (exit 2)."""
        assert self.feed is not None
        try:
            wait = min(self.opts.poll_s, self._next_clock - self._mono())
            minutes = self.feed.poll(max(0.01, wait))
            if minutes:
                self._process(minutes)
            return self._idle()
        except TemporaryError as e:
            self._carry_on(e, "broker trouble")
            time.sleep(min(1.0, self.opts.poll_s))
        except RefusedError as e:
            self._carry_on(e, "the broker refused a request")
        return None

    def _carry_on(self, e: TraderError, what: str) -> None:
        """Log and journal an error the engine survives (temporary, or a refusal)."""
        self.counters.errors += 1
        kind = "refused" if isinstance(e, RefusedError) else "error"
        log.error("%s, carrying on: %s", what, e)
        self._event(kind, {"error": str(e)[:500], "category": type(e).__name__})

    def _idle(self) -> int | None:
        """Clock-driven duties: EOD on time, REST fallback, exit after the close."""
        assert self.feed is not None and self.eod is not None and self.today is not None
        now_wall = self._mono()
        if now_wall < self._next_clock and not self.feed.finished:
            return None
        today = self._ask_clock()
        self._next_clock = now_wall + self._next_clock_in(today.now_ms)
        closed = today.last_closed_minute()
        if self.eod.done is None and self.eod.due_at(today.now_ms - EOD_GRACE_MS):
            if closed is not None:
                self._process(self.feed.catch_up(closed))
            if self.eod.done is None:
                log.warning("EOD time %s reached without the EOD bar: flattening now",
                            iso_ny(self.eod.at_ms))  # fmt: skip
                self.eod.run(self.eod.bar_ms, self.last_prices)
                self._write_state()
        elif (
            closed is not None
            and not self.feed.finished
            and closed >= self.feed.next_t
            and now_wall - self.feed.last_bars_at >= self.opts.rest_fallback_s
        ):
            log.warning("no batch from the bridge for %.0f s: taking closed minutes from REST",
                        now_wall - self.feed.last_bars_at)  # fmt: skip
            self._process(self.feed.catch_up(closed))
        if today.over or self.feed.finished:
            return self._after_close()
        return None

    def _after_close(self) -> int:
        assert self.today is not None and self.today.session is not None
        held = signed_positions(self.rest.get_positions())
        self._set_phase("done")
        self._write_state()
        if held:
            log.error(
                "the %s session is over and positions remain: %s (EOD did not flatten them)",
                self.today.day,
                held,
            )
            self._event("not_flat_after_close", {"positions": held})
            return EXIT_HALTED
        log.info("the %s session is over and the account is flat: exiting", self.today.day)
        return EXIT_OK

    # ------------------------------------------------------------------ minutes

    def _process(self, minutes: list[Minute]) -> None:
        for i, m in enumerate(minutes):
            self._minute(m, decide=i == len(minutes) - 1)

    def _minute(self, m: Minute, *, decide: bool) -> None:
        assert self.step is not None and self.executor is not None and self.journal is not None
        assert self.today is not None and self.today.session is not None and self.eod is not None
        self.counters.minutes += 1
        signals = self.step.signals(m)
        last = self.strategy.last_decided_t
        if not decide or (last is not None and m.t <= last):
            self.strategy.observe(m.t, signals)
            self.counters.observed += 1
            return
        try:
            fills = self.executor.poll()
            positions = self.rest.get_positions()
            account = self.rest.get_account()
        except (TemporaryError, RefusedError):
            self.strategy.observe(m.t, signals)  # undecided, but seen: smoothing stays in step
            raise
        holdings = {
            p.symbol: Holding(int(round(p.signed_qty)), p.avg_entry_price)
            for p in positions
            if not is_flat(p.signed_qty)
        }
        used = self.journal.ids_for_minute(self.name, m.t)
        out = self.step.decide(
            m,
            signals,
            holdings=holdings,
            cash=account.cash,
            start_equity=account.last_equity or None,
            pending=self.executor.pending(),
            halted=self.halted,
            used_ids=used,
            sent_this_minute=len(used),
        )
        d, plan = out.decision, out.plan
        self.journal.record_minute(self.name, self.today.day, m.t, d.summary, d.targets, d.reasons,
                                   d.details, self.strategy.state_dict())  # fmt: skip
        self.counters.decided += 1
        self.last_decision = {"t": iso_ny(m.t), "summary": d.summary, "targets": dict(d.targets)}
        if plan.halted and not self.halted:
            self.halted = True
            log.error("HALT: %s", plan.halt_reason)
            self._event("halt", {"reason": plan.halt_reason})
        for note in (*plan.notes, *plan.deferred):
            log.info("plan %s: %s", iso_ny(m.t), note)
        if not out.orders_allowed:
            if plan.orders:
                self.counters.skipped_after_close += len(plan.orders)
                log.warning("minute %s is decided at the close: %d order(s) not sent",
                            iso_ny(m.t), len(plan.orders))  # fmt: skip
        elif self.eod.due_for_bar(m.t) and self.eod.done is None:
            self.eod.run(m.t, self.last_prices)
        else:
            sent = self.executor.execute(plan)
            fills += sent.fills
            self.counters.orders += sent.count
        self.counters.fills += len(fills)
        if d.summary:
            log.info("%s %s: %s (%d order(s))", self.name, iso_ny(m.t), d.summary, len(plan.orders))
        self._check_book()
        self._write_state()

    def _check_book(self) -> None:
        """The book of journaled fills must equal the broker's positions; the broker wins."""
        assert self.executor is not None
        book = self.executor.book
        broker = signed_positions(self.rest.get_positions())
        if not book.diff(broker):
            return
        self.executor.poll()  # a fill may have happened between the two looks
        broker = signed_positions(self.rest.get_positions())
        diff = book.diff(broker)
        if not diff:
            return
        self.counters.book_repairs += 1
        log.error("position book differs from the broker: %s; taking the broker's",
                  "; ".join(map(str, diff)))  # fmt: skip
        self._event("book_mismatch", {"diff": [str(x) for x in diff]})
        book.reset(broker)

    # ------------------------------------------------------------------ state.json, exit

    def snapshot(self) -> dict[str, Any]:
        t = self.feed.last_t if self.feed else None
        return {
            "pid": os.getpid(),
            "strategy": self.name,
            "phase": self.phase,
            "session_date": None if self.today is None else self.today.day.isoformat(),
            "broker_time": iso_ny(self.sim_now_ms()) if self.sim_now_ms() else None,
            "last_minute": None if t is None else iso_ny(t),
            "last_t_ms": t,
            "halted": self.halted,
            "positions": self.executor.book.quantities() if self.executor else {},
            "pending": self.executor.pending() if self.executor else {},
            "last_decision": self.last_decision,
            "eod": None if self.eod is None or self.eod.done is None else self.eod.done.summary(),
            "strategy_state": self.strategy.state_dict(),
            "counters": {
                k: v for k, v in vars(self.counters).items() if not isinstance(v, list)
            },
            "feed": None if self.feed is None else {
                k: v for k, v in vars(self.feed.stats).items()
            },
        }  # fmt: skip

    def _write_state(self) -> None:
        try:
            write_state_json(self.opts.state_path, self.snapshot())
        except (OSError, ValueError) as e:
            log.error("cannot write %s: %s", self.opts.state_path, e)

    def _close(self) -> None:
        if self.feed is not None:
            self.feed.reader.close()  # type: ignore[attr-defined]
        if self.journal is not None:
            self.journal.close()


def run_live(opts: EngineOptions, cfg: StrategyConfig, rest: AlpacaRestClient,
             stop: StopFlag | None = None) -> int:  # fmt: skip
    """Run one engine to its end; the process exit code.

    The loop survives refusals; one that reaches here came from start-up (e.g. a 403 on
    market data the subscription does not include), which cannot go on without what was
    refused and would be refused again on a restart: the operator must look, as for an
    operational error."""
    engine = LiveEngine(opts, cfg, rest, stop=stop)
    try:
        return engine.run()
    except OperationalError as e:
        log.error("the engine needs the operator: %s", e)
        return EXIT_OPERATOR
    except RefusedError as e:
        log.error("the engine needs the operator: the broker refused what start-up needs: %s", e)
        return EXIT_OPERATOR


__all__ = ["EngineOptions", "LiveEngine", "run_live"]

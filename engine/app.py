"""The live engine process: start-up in the order of design.md §6, then one decision per
minute; a thin shell around the pure minute step.

Start-up: config and params (done by the CLI) → today's session from the broker's clock →
warm-up (20 sessions of history, today's bars, a REST backfill up to now; all through the
session-grid rule and the live update path) → the trade-updates stream started
(:mod:`engine.trade_stream`) → reconciliation (settle the journal's open orders, positions
and open orders → strategy state, journal state restored where it agrees) → the broker
view seeded over REST (positions with average entry, cash, open orders;
:mod:`engine.broker_view`) → open the FIFO → the last warm-up minute is decided as the
first live one → one decision per minute batch.

Each minute, the critical path — no REST read on it: the FIFO line → the grid minute →
signals → the stream's waiting events applied (local only) → the pure step
(:func:`engine.minute_step.minute_step`: strategy, risk and order plan on the broker view
and the journal's facts) → every intent journaled (one transaction) → the orders sent
(from close − 2 min, the end-of-day flatten instead). Then, off the critical path: the
decision and the strategy state journaled (one transaction), the log lines; while the
stream is down, one REST poll of the open orders (the fallback); the positions-versus-book
check (:mod:`engine.book_check`: two requests) after fills (once a minute at most),
every ``check_every_minutes`` minutes, every minute while the stream is down and after it
resumes; ``state.json``. At steady state that is at most two REST requests a minute
besides the orders themselves.

Minutes that only fill a gap (backfilled before a newer one) update the signals and the
strategy's observations but are not decided: orders are only sent for the newest minute,
whose decision time is now. No order is sent once the session has closed.

Between lines the loop applies the stream's events (fills move the journal, the position
book and the view; a fill triggers the check), and when the stream comes back after a
drop it resyncs (one REST poll of the open orders, then the check) and stops polling.

The broker's clock is read once at start-up and then tracked from bar times and the local
monotonic clock (:mod:`engine.broker_time`). It is read again only to confirm the
end-of-day instant or the close (and, from two minutes before the EOD instant until the
flatten has run, every 5 s of broker time, so a late EOD bar cannot make the flatten
late), when no batch has come for ``rest_fallback_s`` (the closed minutes are then taken
from REST, about once a minute), or when a bar arrives far later than expected. So end of
day happens on time even when no bar arrives. The flatten does not wait: a closing order
whose symbol has no bar rests until its next bar or the close (:mod:`engine.eod`), and
later minutes count it as pending. The process exits after the close: 0 once the
strategy's universe is flat (positions outside it are left by design and logged), 3 if
not (on a closed day, or after the close, it exits at once with a clear message). SIGTERM/SIGINT only set a flag; the loop finishes the minute in
hand, writes ``state.json`` and exits 0.

Errors, by category (:mod:`common.errors`): a temporary one (broker trouble) is logged and
the loop carries on; a refusal (a 4xx the broker answered) is logged, journaled as a
``refused`` event, and the loop carries on; an operational one (keys refused, journal
unusable), or a refusal during start-up, ends the process with exit code 2
(:mod:`common.exit_codes`); anything else is a crash (1).
"""

from __future__ import annotations

import gc
import logging
import os
import queue
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from common.bars import MINUTE_MS
from common.calendar import TradingCalendar, floor_minute, iso_ny, nyse
from common.config import StrategyConfig
from common.errors import OperationalError, RefusedError, TemporaryError, TraderError
from common.exit_codes import EXIT_HALTED, EXIT_OK, EXIT_OPERATOR
from common.fifo import DEFAULT_FIFO_PATH, FifoLineReader, check_fifo_path
from common.minute import Minute
from common.rest import AlpacaRestClient
from common.stop_flag import StopFlag
from engine.bar_feed import BarFeed, rest_backfill
from engine.book_check import check_with_broker
from engine.broker_time import BrokerTime
from engine.broker_view import BrokerView
from engine.decision import DecisionStep
from engine.eod import EndOfDay, EodScope
from engine.execution import Executor, Sent
from engine.journal import Journal
from engine.minute_step import JournalFacts, minute_step
from engine.position_book import PositionBook, signed_positions
from engine.risk import RiskGuard
from engine.startup import Today, reconcile_with_broker, session_today
from engine.state_snapshot import write_state_json
from engine.strategies import Strategy, make_strategy
from engine.trade_events import TradeEvent
from engine.trade_stream import StreamStatus, TradeStream, trade_stream_url
from engine.warmup import WarmUp, warm_up

log = logging.getLogger("engine")

MIN_CLOCK_S = 0.25
"""Fewest wall seconds between two reads of the broker's clock (but see MIN_CONFIRM_S)."""
MIN_CONFIRM_S = 0.02
"""Fewest wall seconds between two reads that confirm an instant (EOD, the close)."""
EOD_GRACE_MS = 10_000
"""Broker time past the EOD instant before the engine stops waiting for the EOD bar's batch."""
EOD_WATCH_MS = 2 * MINUTE_MS
EOD_WATCH_EVERY_MS = 5_000
"""From EOD_WATCH_MS before the EOD instant until the flatten has run, the clock is read every
EOD_WATCH_EVERY_MS of broker time (MIN_CLOCK_S wall at least): the speed a replay runs at is
measured again and the flatten happens on time even when the EOD bar is late."""


class TradeUpdates(Protocol):
    """The trade-updates feed the loop reads (:class:`engine.trade_stream.TradeStream`)."""

    items: queue.Queue[TradeEvent | StreamStatus]

    def start(self) -> None: ...

    def stop(self, timeout: float = ...) -> None: ...


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
    """Longest wait for a FIFO line before the loop looks at the stream, the clock and the stop flag."""
    rest_fallback_s: float = 15.0
    """Wall seconds without a batch (market open) before closed minutes are taken from REST."""
    eod_confirm_s: float = 20.0
    """Wall seconds, after the close, for closing orders still working to fill (at the close)."""
    check_every_minutes: int = 5
    """Decided minutes between two positions-versus-book checks when nothing filled."""
    trade_stream: bool = True
    """Follow orders over the trade-updates stream; False: REST polling only (the fallback)."""

    def __post_init__(self) -> None:
        for name in ("alert_after_s", "poll_s", "rest_fallback_s", "eod_confirm_s"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and v > 0):
                raise ValueError(f"engine option {name}={v!r} must be a positive number")
        if self.history_sessions < 1:
            raise ValueError(f"history_sessions={self.history_sessions!r} must be >= 1")
        if not (isinstance(self.check_every_minutes, int) and self.check_every_minutes >= 1):
            raise ValueError(f"check_every_minutes={self.check_every_minutes!r} must be a whole number >= 1")

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
    view_repairs: int = 0
    checks: int = 0
    polls: int = 0
    """REST polls of the open orders while the stream was down, and resyncs."""
    clock_reads: int = 0
    stream_events: int = 0
    stream_drops: int = 0
    stream_resumes: int = 0
    errors: int = 0
    skipped_after_close: int = 0
    phases: list[str] = field(default_factory=list)


class LiveEngine:
    """One strategy, one session, one process: the shell around :func:`minute_step`."""

    def __init__(
        self,
        opts: EngineOptions,
        cfg: StrategyConfig,
        rest: AlpacaRestClient,
        *,
        stop: StopFlag | None = None,
        calendar: TradingCalendar | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        stream: TradeUpdates | None = None,
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
        self.eod_scope = EodScope.of(cfg)
        self.step: DecisionStep | None = None
        self.warm: WarmUp | None = None
        self.view = BrokerView()
        self.clock = BrokerTime()
        self.stream: TradeUpdates | None = stream
        self.halted = False
        self.last_decision: dict[str, Any] | None = None
        self._stream_up = False
        self._stream_down_since: float | None = None
        self._resync_needed = False
        self._check_due = False
        self._checked_this_minute = False
        self._minutes_since_check = 0
        self._jump = False

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

    @property
    def stream_up(self) -> bool:
        return self._stream_up

    def sim_now_ms(self) -> int:
        """The broker's now as tracked: its last clock answer or the last bar, moved forward."""
        return self.clock.now_ms(self._mono())

    def _market_open(self) -> bool:
        s = None if self.today is None else self.today.session
        return s is not None and s.open_ms <= self.sim_now_ms() < s.close_ms

    def _event(self, kind: str, detail: dict[str, Any]) -> None:
        if self.journal is None or self.today is None:
            return
        t = self.feed.last_t if self.feed and self.feed.last_t else self.sim_now_ms()
        self.journal.record_event(self.name, self.today.day, floor_minute(t), kind, detail)

    def _set_phase(self, phase: str) -> None:
        if phase != self.phase:
            log.info("phase: %s -> %s", self.phase, phase)
            self.phase = phase
            self.counters.phases.append(phase)

    def _ask_clock(self, why: str) -> Today:
        """Read the broker's clock (a REST request) and re-anchor the tracked time on it."""
        today = session_today(self.rest.get_clock(), self.calendar)
        wall = self._mono()
        self.clock.observe_clock(today.now_ms, wall)
        self._jump = False
        self.counters.clock_reads += 1
        log.debug("broker clock read (%s): %s", why, iso_ny(today.now_ms))
        return today

    # ------------------------------------------------------------------ start-up

    def start(self) -> int | None:
        """Everything before the first live minute; an exit code if there is nothing to do."""
        today = self._ask_clock("start-up")
        self.today = today
        log.info("%s engine: %s", self.name, today.describe())
        if today.session is None:
            log.info("nothing to trade today: exiting")
            return EXIT_OK
        session = today.session
        check_fifo_path(self.opts.fifo)  # an unsafe path stops us before any work
        self.opts.log_dir.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(self.opts.journal_path, now_ms=self.sim_now_ms)
        self.executor = Executor(self.rest, self.journal, self.name, today.day, book=PositionBook(),
                                 view=self.view, now_ms=self.sim_now_ms, on_event=self._event)  # fmt: skip
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
        self._start_stream()

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
        self._seed_view()

        self.eod = EndOfDay(self.executor, session, self.cfg.session, self.guard,
                            scope=self.eod_scope, confirm_timeout_s=self.opts.eod_confirm_s)  # fmt: skip
        reader = FifoLineReader(self.opts.fifo, check_interval=0.5)
        reader.open()
        self.feed = BarFeed(
            self.strategy.symbols, session, reader, rest_backfill(self.rest),
            last_t=self.warm.last_t, last_closes=self.warm.last_closes,
            alert_after_s=self.opts.alert_after_s, on_alert=self._event,
            market_open=self._market_open, monotonic=self._mono,
        )  # fmt: skip
        log.info("listening on FIFO %s", self.opts.fifo)
        if self.warm.pending is not None:  # the last closed minute: decided as if it just came
            try:
                self._minute(self.warm.pending, decide=True)
            except (TemporaryError, RefusedError) as e:
                self._carry_on(e, f"deciding {iso_ny(self.warm.pending.t)} failed")
        self._set_phase("trading")
        self._write_state()
        gc.collect()
        gc.freeze()  # what start-up built lives to the end: the loop's collections skip it
        return None

    def _start_stream(self) -> None:
        """Start following the trade-updates stream (built from the REST client's endpoints
        unless one was given)."""
        if self.stream is None and self.opts.trade_stream:
            endpoints = getattr(self.rest, "endpoints", None)
            if endpoints is None:
                log.warning("no endpoints to open the trade-updates stream: REST polling only")
                return
            url = trade_stream_url(endpoints.trading_url)
            self.stream = TradeStream(url, endpoints.key_id, endpoints.secret)
        if self.stream is not None:
            self.stream.start()
        else:
            log.info("trade-updates stream off: orders are followed by REST polling")

    def _seed_view(self) -> None:
        """The broker view from REST: positions, cash and the session's starting equity, open
        orders (and the progress of the journal's filled orders, already in the positions)."""
        assert self.executor is not None and self.journal is not None and self.today is not None
        self._drain()  # what arrived before the seed: remembered, already in what REST says
        positions = self.rest.get_positions()
        account = self.rest.get_account()
        open_orders = self.rest.list_orders(status="open", limit=500)
        self.view.seed(positions, cash=account.cash, start_equity=account.last_equity or None,
                       orders=open_orders)  # fmt: skip
        for rec in self.journal.filled_orders(self.name, self.today.day):
            if rec.broker_order_id:
                self.view.know(rec.broker_order_id, rec.filled_qty, rec.filled_avg_price, rec.status)
        self._minutes_since_check = 0
        log.info("broker view seeded: %d position(s), cash %.2f, %d open order(s)",
                 len(self.view.quantities()), self.view.cash, len(open_orders))  # fmt: skip

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
        """One turn of the loop: the minutes that arrived, the stream's events, then the
        clock's duties; an exit code when the process should end. Temporary errors and
        refusals are logged and the loop carries on; operational errors propagate (exit 2)."""
        assert self.feed is not None
        try:
            minutes = self.feed.poll(self._wait_s())
            if minutes:
                self._process(minutes)
            self._between_minutes()
            return self._clock_duties()
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

    # ------------------------------------------------------------------ the stream

    def _drain(self) -> None:
        """Apply every event the stream has delivered (journal, book, view; no REST) and note
        its ups and downs. A fill that moved anything makes the broker check due."""
        if self.stream is None or self.executor is None:
            return
        while True:
            try:
                item = self.stream.items.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, StreamStatus):
                self._stream_status(item)
                continue
            self.counters.stream_events += 1
            counted = self.view.fills_applied
            try:
                fill = self.executor.apply_event(item)
            except ValueError as e:  # a report the journal cannot take: the check settles it
                log.warning("trade update %s of %s skipped: %s", item.event,
                            item.order.client_order_id, e)  # fmt: skip
                self._check_due = True
                continue
            if fill is not None:
                self.counters.fills += 1
            if fill is not None or self.view.fills_applied > counted:
                self._check_due = True

    def _stream_status(self, st: StreamStatus) -> None:
        wall = self._mono()
        if st.up:
            down_since, self._stream_down_since = self._stream_down_since, None
            self._stream_up = True
            self._resync_needed = self.view.seeded
            if down_since is None:
                log.info("trade-updates stream up: orders, fills, positions and cash follow its events")
                return
            self.counters.stream_resumes += 1
            log.info("trade-updates stream resumed after %.1f s down: resyncing, REST polling stops",
                     wall - down_since)  # fmt: skip
            self._event("trade_stream_resumed", {"down_s": round(wall - down_since, 3)})
        else:
            self._stream_up = False
            self._stream_down_since = wall
            self.counters.stream_drops += 1
            log.warning("trade-updates stream down (%s): polling the open orders over REST each "
                        "minute until it is back", st.reason)  # fmt: skip
            self._event("trade_stream_down", {"reason": st.reason})

    def _resync(self) -> None:
        """The stream is back: one REST poll of the open orders (what happened while it was
        down), then the broker check."""
        assert self.executor is not None
        self._resync_needed = False
        self.counters.polls += 1
        self.counters.fills += len(self.executor.poll())
        self._check_due = True

    def _between_minutes(self) -> None:
        """Off the critical path: the stream's events, a resync, a due broker check (one a
        minute at most: fills that come after it wait for the next minute's)."""
        if self.executor is None:
            return
        self._drain()
        resynced = self._resync_needed
        if resynced:
            self._resync()
        if self._check_due and self.view.seeded and (resynced or not self._checked_this_minute):
            self._check()

    # ------------------------------------------------------------------ the clock

    def _targets(self) -> list[int]:
        """Broker instants the clock is read at: the EOD instant (+ grace) and the close."""
        assert self.eod is not None and self.today is not None and self.today.session is not None
        out = [self.today.session.close_ms]
        if self.eod.done is None:
            out.append(self.eod.at_ms + EOD_GRACE_MS)
        return out

    def _watching_eod(self, now_ms: int) -> bool:
        """From ``EOD_WATCH_MS`` before the EOD instant until the flatten has run."""
        assert self.eod is not None
        return self.eod.done is None and now_ms >= self.eod.at_ms - EOD_WATCH_MS

    def _watch_every_s(self) -> float:
        return max(MIN_CLOCK_S, EOD_WATCH_EVERY_MS / 1000.0 / self.clock.speed)

    def _wait_s(self) -> float:
        """How long the feed may wait for a line: ``poll_s``, shortened so that the EOD instant
        and the close (by the tracked time) are not overshot, nor a read while watching."""
        if self.eod is None or self.today is None or self.today.session is None:
            return self.opts.poll_s
        wall = self._mono()
        wait = self.opts.poll_s
        for target in self._targets():
            ahead = self.clock.wall_until(target, wall)
            if ahead > 0:
                wait = min(wait, ahead)
        if self._watching_eod(self.clock.now_ms(wall)):
            wait = min(wait, self._watch_every_s() - (wall - self.clock.last_read_wall))
        return max(0.01, wait)

    def _clock_reason(self, wall: float) -> str | None:
        """Why the broker's clock must be read now, if it must."""
        assert self.feed is not None and self.eod is not None
        assert self.today is not None and self.today.session is not None
        since_read = wall - self.clock.last_read_wall
        now = self.clock.now_ms(wall)
        if since_read >= MIN_CONFIRM_S:
            if self.eod.done is None and now >= self.eod.at_ms + EOD_GRACE_MS:
                return "to confirm the end-of-day instant"
            if now >= self.today.session.close_ms:
                return "to confirm the close"
        if since_read < MIN_CLOCK_S:
            return None
        if self._jump:
            return "a bar far from the expected time"
        if self._watching_eod(now) and since_read >= self._watch_every_s():
            return "watching for the end-of-day instant"
        fallback_s = self.opts.rest_fallback_s
        if wall - self.feed.last_bars_at >= fallback_s and self._market_open():
            # the next minute's batch is late by rest_fallback_s (by the tracked time; until
            # the replay's speed is measured, silence alone is enough)
            late = self.feed.next_t + MINUTE_MS + round(fallback_s * 1000 * self.clock.speed)
            if now >= late or not self.clock.speed_measured:
                return "no batch from the bridge"
        return None

    def _clock_duties(self) -> int | None:
        """EOD on time, REST fallback, exit after the close — reading the clock only when the
        tracked time says one of them may be due."""
        assert self.feed is not None and self.eod is not None and self.today is not None
        if self.feed.finished:
            return self._after_close()
        wall = self._mono()
        why = self._clock_reason(wall)
        if why is None:
            return None
        today = self._ask_clock(why)
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
            and wall - self.feed.last_bars_at >= self.opts.rest_fallback_s
        ):
            log.warning("no batch from the bridge for %.0f s: taking closed minutes from REST",
                        wall - self.feed.last_bars_at)  # fmt: skip
            self._process(self.feed.catch_up(closed))
        if today.over or self.feed.finished:
            return self._after_close()
        return None

    def _after_close(self) -> int:
        """The session is over: the strategy's universe must be flat (closing orders still
        working get ``eod_confirm_s`` to fill at the close); positions outside it are left by
        design. Exit 0 when flat, 3 (halted) when not."""
        assert self.today is not None and self.today.session is not None
        if self.eod is not None:
            result = self.eod.confirm_at_close()
            held, left = result.remaining, result.left_alone
            (log.info if result.flat else log.error)("%s", result.summary())
        else:  # started after the close
            held, left = self.eod_scope.split(signed_positions(self.rest.get_positions()))
        self._set_phase("done")
        self._write_state()
        if left:
            log.info("positions outside the %s universe are left as they are, by design: %s",
                     self.name, left)  # fmt: skip
        if held:
            log.error(
                "the %s session is over and positions remain: %s (EOD did not flatten them)",
                self.today.day,
                held,
            )
            self._event("not_flat_after_close", {"positions": held})
            return EXIT_HALTED
        flat = "the strategy's universe is flat (other positions left alone)" if left else "the account is flat"
        log.info("the %s session is over and %s: exiting", self.today.day, flat)
        return EXIT_OK

    # ------------------------------------------------------------------ minutes

    def _process(self, minutes: list[Minute]) -> None:
        last = minutes[-1]
        jump = self.clock.observe_bar(last.t, self._mono())
        self._jump = self._jump or (jump and last.source == "fifo")
        for i, m in enumerate(minutes):
            self._minute(m, decide=i == len(minutes) - 1)

    def _minute(self, m: Minute, *, decide: bool) -> None:
        """One minute: read → step → journal intents → send (the critical path), then record."""
        assert self.step is not None and self.executor is not None and self.journal is not None
        assert self.today is not None and self.today.session is not None and self.eod is not None
        self.counters.minutes += 1
        signals = self.step.signals(m)
        last = self.strategy.last_decided_t
        if not decide or (last is not None and m.t <= last):
            self.strategy.observe(m.t, signals)
            self.counters.observed += 1
            return
        if not self.view.seeded:  # start-up could not seed it: the broker's word first
            try:
                self._seed_view()
            except (TemporaryError, RefusedError):
                self.strategy.observe(m.t, signals)  # undecided, but seen: smoothing stays in step
                raise
        self._drain()
        facts = JournalFacts(frozenset(self.journal.ids_for_minute(self.name, m.t)), self.halted,
                             self.executor.pending())  # fmt: skip
        out = minute_step(self.step, m, signals, self.view.snapshot(), facts,
                          eod_at_ms=self.eod.at_ms, eod_done=self.eod.done is not None)  # fmt: skip
        sent = Sent()
        if out.eod_flatten:
            self.eod.run(m.t, self.last_prices)
        elif out.send is not None:
            sent = self.executor.execute(out.send)
        if self.eod.done is not None and not out.eod_flatten and out.result.orders_allowed:
            again = self.eod.follow_up(m.t, self.last_prices, out.result.decision.targets)
            self.counters.orders += len(again)
        # ---- off the critical path: record what was decided and sent
        row = out.row
        self.journal.record_minute(self.name, self.today.day, m.t, row.summary, row.targets,
                                   row.reasons, row.details, row.state)  # fmt: skip
        for kind, detail in out.events:
            self._event(kind, detail)
        for line in out.logs:
            log.log(line.level, "%s", line.message)
        self.halted = out.halted
        self.counters.decided += 1
        self.counters.orders += sent.count
        self.counters.fills += len(sent.fills)
        self.counters.skipped_after_close += out.not_sent
        d = out.result.decision
        self.last_decision = {"t": iso_ny(m.t), "summary": d.summary, "targets": dict(d.targets)}
        self._after_minute(sent)

    def _after_minute(self, sent: Sent) -> None:
        """After the orders: the REST fallback while the stream is down, the broker check when
        due, ``state.json``."""
        assert self.executor is not None
        self._checked_this_minute = False
        if sent.fills:
            self._check_due = True
        if not self._stream_up:
            self.counters.polls += 1
            self.counters.fills += len(self.executor.poll())
            self._check_due = True
        self._minutes_since_check += 1
        if self._minutes_since_check >= self.opts.check_every_minutes:
            self._check_due = True
        self._drain()
        if self._check_due:
            self._check()
        self._write_state()
        assert self.journal is not None
        self.journal.checkpoint()

    def _settle(self) -> None:
        """Before a check decides a book is wrong: the fills that may be in flight."""
        assert self.executor is not None
        self.counters.fills += len(self.executor.poll())
        self._drain()

    def _check(self) -> None:
        """The positions-versus-book check (:mod:`engine.book_check`); the broker wins."""
        assert self.executor is not None
        self._minutes_since_check = 0
        self._checked_this_minute = True
        self.counters.checks += 1
        result = check_with_broker(self.rest, self.executor, settle=self._settle)
        self._check_due = False  # what settling applied is in the broker's word now
        if result.book_repaired:
            self.counters.book_repairs += 1
            diff = "; ".join(map(str, result.book_repaired))
            log.error("position book differs from the broker: %s; taking the broker's", diff)
            self._event("book_mismatch", {"diff": [str(x) for x in result.book_repaired]})
        if result.view_repaired:
            self.counters.view_repairs += 1
            log.warning("broker view differed from the broker: %s; taking the broker's",
                        "; ".join(map(str, result.view_repaired)))  # fmt: skip

    # ------------------------------------------------------------------ state.json, exit

    def snapshot(self) -> dict[str, Any]:
        t = self.feed.last_t if self.feed else None
        now = self.sim_now_ms()
        return {
            "pid": os.getpid(),
            "strategy": self.name,
            "phase": self.phase,
            "session_date": None if self.today is None else self.today.day.isoformat(),
            "broker_time": iso_ny(now) if now else None,
            "last_minute": None if t is None else iso_ny(t),
            "last_t_ms": t,
            "halted": self.halted,
            "positions": self.executor.book.quantities() if self.executor else {},
            "pending": self.executor.pending() if self.executor else {},
            "last_decision": self.last_decision,
            "eod": None if self.eod is None or self.eod.done is None else self.eod.done.summary(),
            "strategy_state": self.strategy.state_dict(),
            "trade_stream": "up" if self._stream_up else ("off" if self.stream is None else "down"),
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
        if self.stream is not None:
            self.stream.stop()
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

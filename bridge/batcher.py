"""The minute batcher: stream bars in, one complete batch per session minute out.

Flush rule (wall time is injected as ``now``, seconds on any monotonic clock):
a pending minute M is written, oldest first, as soon as

1. every subscribed symbol's bar for M is in (``complete``), or
2. a bar of a later minute has arrived (``later``): the feed sends a minute's
   bars together about a second after the minute closes, so once a later
   minute shows up M is complete as far as the feed goes; or
3. the deadline has passed since M's first bar arrived (``deadline``) — the
   "few seconds after the minute closes" rule. The deadline is ``deadline_s``
   wall seconds (3 by default), shortened to a quarter of the feed's minute gap
   (wall seconds between successive minutes, see :mod:`bridge.silence`) when the
   market runs faster than real time, but never under 50 ms: in real time a
   missing symbol costs 3 s; in a 60× replay 0.25 s (15 simulated seconds).

Callers add all messages of a frame before asking :meth:`MinuteBatcher.ready`,
so bars of one frame are never split by rule 2.

A written batch is a :class:`~common.minute.Minute` (its ``source`` is the reason it
was written) with one bar per symbol: the session-grid rule
(:class:`common.session_grid.GridFiller`) fills a symbol with no bar from its
last known close (``filled: true``, volume 0). Last closes are seeded (REST
latest bars at start) so that the first minute is complete. A symbol with no
known price yet is left out of the batch, with a warning.

Never twice, never backwards: a bar of a minute at or before the last written
one is logged and dropped; an ``updatedBars`` correction of a written minute is
logged only (it amends a minute still pending). Only minutes of the session
grid are accepted; others are ignored with a debug log.

Quiet minutes: if the connection that delivered a later minute had already
delivered a minute before M, then M had no trade in any symbol (its bars would
otherwise have come on that connection) and is written fully filled
(``quiet``). Minutes missed while disconnected are left out: the engine
backfills gaps from REST, and filling them here would record made-up prices.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum

from common.bars import MINUTE_MS, Bar
from common.calendar import Session, TradingCalendar, iso_ny, nyse
from common.minute import Minute
from common.session_grid import GridFiller

log = logging.getLogger(__name__)

DEADLINE_GAP_FRACTION = 0.25
MIN_DEADLINE_S = 0.05


class Added(StrEnum):
    """What :meth:`MinuteBatcher.add` did with a bar."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REPLACED = "replaced"
    LATE = "late"
    CORRECTION_LOGGED = "correction_logged"
    UNKNOWN_SYMBOL = "unknown_symbol"
    OFF_GRID = "off_grid"


class MinuteBatcher:
    def __init__(
        self,
        symbols: Sequence[str],
        *,
        deadline_s: float = 3.0,
        calendar: TradingCalendar | None = None,
        last_closes: Mapping[str, float] | None = None,
    ) -> None:
        if not symbols:
            raise ValueError("the batcher needs at least one symbol")
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"duplicate symbols in {list(symbols)}")
        if not deadline_s > 0:
            raise ValueError(f"deadline_s={deadline_s!r} must be > 0")
        self.symbols = tuple(symbols)
        self._symset = frozenset(symbols)
        self.deadline_s = deadline_s
        self._cal = calendar or nyse()
        self._session: Session | None = None
        self._grid = GridFiller(self.symbols, last_closes)
        self.last_written: int | None = None
        self._pending: dict[int, dict[str, Bar]] = {}
        self._first_seen: dict[int, float] = {}
        self._conn_first_t: int | None = None
        self._unpriced_warned: set[str] = set()
        self.feed_gap_s: float | None = None
        """Wall seconds per market minute as the feed shows it (None: unknown, use deadline_s)."""

    # -- inputs

    def seed(self, closes: Mapping[str, float]) -> None:
        """Last known closes for symbols that have none yet (REST latest bars at start)."""
        self._grid.seed(closes)

    @property
    def last_closes(self) -> Mapping[str, float]:
        """Each symbol's last known close, the one the next fill uses."""
        return self._grid.last_closes

    def connection_lost(self) -> None:
        """The stream connection ended: until the next one delivers a bar, a gap is not known
        to be a quiet minute (its bars may have been sent while we were away)."""
        self._conn_first_t = None

    def _grid_session(self, t: int) -> Session | None:
        s = self._session
        if s is not None and s.contains_minute(t):
            return s
        s = self._cal.session_of_minute(t)
        if s is not None:
            self._session = s
        return s

    def add(self, bar: Bar, now: float, *, updated: bool = False) -> Added:
        """Take one bar (``updated`` for an updatedBars correction) received at wall time ``now``."""
        sym, t = bar.symbol, bar.t
        if sym not in self._symset:
            log.debug("bar for unsubscribed symbol %s ignored", sym)
            return Added.UNKNOWN_SYMBOL
        if self._grid_session(t) is None:
            log.debug("bar %s %s is outside regular hours; ignored", sym, iso_ny(t))
            return Added.OFF_GRID
        slot = self._pending.get(t)
        if self.last_written is not None and t <= self.last_written or updated and slot is None:
            if updated:
                log.info(
                    "updatedBars correction %s %s (already written or not pending): close %s volume %s",
                    sym, iso_ny(t), bar.close, bar.volume,
                )
                return Added.CORRECTION_LOGGED
            log.warning("late bar %s %s: minute already written; dropped", sym, iso_ny(t))
            return Added.LATE
        if not updated and (self._conn_first_t is None or t < self._conn_first_t):
            self._conn_first_t = t
        if slot is None:
            slot = self._pending[t] = {}
            self._first_seen[t] = now
        prev = slot.get(sym)
        slot[sym] = bar
        if prev is None:
            return Added.ACCEPTED
        if prev == bar:
            log.debug("duplicate bar %s %s ignored", sym, iso_ny(t))
            return Added.DUPLICATE
        log.info("bar %s %s replaced by a newer %s before its minute was written", sym, iso_ny(t),
                 "correction" if updated else "message")
        return Added.REPLACED

    def add_many(self, bars: Iterable[tuple[Bar, bool]], now: float) -> None:
        for bar, updated in bars:
            self.add(bar, now, updated=updated)

    # -- outputs

    def effective_deadline(self) -> float:
        """Wall seconds a minute waits for missing symbols: deadline_s, shorter in a fast replay."""
        gap = self.feed_gap_s
        if gap is None:
            return self.deadline_s
        return min(self.deadline_s, max(MIN_DEADLINE_S, DEADLINE_GAP_FRACTION * gap))

    def next_deadline(self) -> float | None:
        """Wall time at which the oldest pending minute's deadline passes (None if none pending)."""
        if not self._pending:
            return None
        return self._first_seen[min(self._pending)] + self.effective_deadline()

    @property
    def has_pending(self) -> bool:
        return bool(self._pending)

    @property
    def pending_minutes(self) -> list[int]:
        return sorted(self._pending)

    def ready(self, now: float) -> list[Minute]:
        """Batches due at wall time ``now``, oldest first; each minute is returned once."""
        out: list[Minute] = []
        while self._pending:
            t = min(self._pending)
            slot = self._pending[t]
            if len(slot) == len(self.symbols):
                reason = "complete"
            elif len(self._pending) > 1:
                reason = "later"
            elif now - self._first_seen[t] >= self.effective_deadline():
                reason = "deadline"
            else:
                break
            out.extend(self._quiet_minutes_before(t))
            out.append(self._build(t, slot, reason))
            del self._pending[t]
            del self._first_seen[t]
        return out

    def _quiet_minutes_before(self, t: int) -> list[Minute]:
        lw, first = self.last_written, self._conn_first_t
        session = self._grid_session(t)
        if lw is None or session is None:
            return []
        gap = range(max(lw + MINUTE_MS, session.open_ms), t, MINUTE_MS)
        if not gap:
            return []
        quiet = [m for m in gap if first is not None and m > first]
        missed = len(gap) - len(quiet)
        if missed:
            log.warning(
                "%d minute(s) from %s to %s missed while disconnected; the engine backfills them",
                missed, iso_ny(gap[0]), iso_ny(gap[missed - 1]),
            )
        if quiet:
            log.info("%d minute(s) without any trade from %s: written filled", len(quiet), iso_ny(quiet[0]))
        return [self._build(m, {}, "quiet") for m in quiet]

    def _build(self, t: int, slot: Mapping[str, Bar], reason: str) -> Minute:
        minute = self._grid.fill(t, slot, reason)
        if len(minute.bars) < len(self.symbols):
            for s in self.symbols:
                if s not in minute.bars and s not in self._unpriced_warned:
                    log.warning("%s has no bar and no known price yet; left out of batch %s", s, iso_ny(t))
                    self._unpriced_warned.add(s)
        self.last_written = t
        return minute


__all__ = ["Added", "MinuteBatcher"]

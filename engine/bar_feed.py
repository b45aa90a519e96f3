"""The engine's side of the FIFO: batch lines in, complete session-grid minutes out.

:class:`BarFeed` turns what the bridge writes (design.md §3) into
:class:`~common.minute.Minute` values, one per session minute, strictly in order, never twice:

- every line goes through :func:`common.batch_line.decode_line`, the one place its bars
  are validated; a line that does not validate is logged and skipped, an unknown
  ``type`` is ignored;
- a batch at or before the last processed minute is skipped with a log line (a
  duplicate after a bridge restart, or a stale line buffered while the engine was away);
  a batch off today's session grid is skipped too;
- a gap (a batch later than the next grid minute) is backfilled over REST first, so the
  minutes in between are processed, in order, before the batch itself;
- every minute passes through the session-grid rule (the feed's
  :class:`~common.session_grid.GridFiller`, the engine's one owner of last closes, seeded
  from the warm-up): a symbol without a real bar — absent from the batch, marked
  ``filled`` by the bridge or missing from REST — gets a flat bar at its last close, so
  live, backfilled and historical minutes are built the same way;
- the reader reopens the FIFO on EOF (:class:`common.fifo.FifoLineReader` does);
- when neither bars nor heartbeats arrive for ``alert_after_s`` wall seconds while the
  market is open (or the bridge says its socket is down for that long), an alert is
  raised once per episode (and again every ``realert_s``): an ERROR log line and the
  ``on_alert`` callback (the engine journals it).

Time here is wall time (heartbeats are written every few wall seconds, whatever the
market's speed); which minute is which comes from the bars' timestamps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from common.bars import MINUTE_MS, Bar
from common.batch_line import Heartbeat, LineError, decode_line
from common.calendar import Session, from_ms, iso_ny
from common.errors import TraderError
from common.minute import Minute
from common.session_grid import GridFiller

log = logging.getLogger(__name__)

Backfill = Callable[[Sequence[str], int, int], Mapping[str, Sequence[Bar]]]
"""``backfill(symbols, first_t, last_t)``: real bars with first_t <= t <= last_t (REST)."""

AlertSink = Callable[[str, dict[str, Any]], None]


class BarsApi(Protocol):
    """The market-data part of :class:`common.rest.AlpacaRestClient` the backfill uses."""

    def get_bars(
        self, symbols: Sequence[str], start: datetime, end: datetime
    ) -> Mapping[str, Sequence[Bar]]: ...


def rest_backfill(api: BarsApi) -> Backfill:
    """A :data:`Backfill` over ``GET /v2/stocks/bars`` (start and end inclusive)."""

    def backfill(symbols: Sequence[str], first_t: int, last_t: int) -> Mapping[str, Sequence[Bar]]:
        return api.get_bars(list(symbols), from_ms(first_t), from_ms(last_t))

    return backfill


class LineSource(Protocol):
    """What the feed reads lines from (:class:`common.fifo.FifoLineReader`)."""

    def readline(self, timeout: float | None = None) -> str | None: ...


@dataclass
class FeedStats:
    lines: int = 0
    batches: int = 0
    heartbeats: int = 0
    invalid: int = 0
    ignored: int = 0
    stale: int = 0
    duplicates: int = 0
    off_grid: int = 0
    gaps: int = 0
    backfilled_minutes: int = 0
    gap_filled_minutes: int = 0
    alerts: int = 0
    by_source: dict[str, int] = field(default_factory=dict)


class BarFeed:
    """Minutes of today's ``session`` for ``symbols``, from ``reader`` and REST backfill.

    ``last_t`` is the last minute already processed (the warm-up's end), ``last_closes``
    the closes the grid rule fills from. ``market_open()`` tells whether silence should
    alarm (the engine asks the broker's clock).
    """

    def __init__(
        self,
        symbols: Sequence[str],
        session: Session,
        reader: LineSource,
        backfill: Backfill,
        *,
        last_t: int | None,
        last_closes: Mapping[str, float],
        alert_after_s: float = 30.0,
        realert_s: float = 300.0,
        on_alert: AlertSink | None = None,
        market_open: Callable[[], bool] = lambda: True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not symbols:
            raise ValueError("the bar feed needs at least one symbol")
        if alert_after_s <= 0 or realert_s <= 0:
            raise ValueError(
                f"alert_after_s={alert_after_s!r} and realert_s={realert_s!r} must be > 0"
            )
        if last_t is not None and not session.contains_minute(last_t):
            raise ValueError(f"last_t {iso_ny(last_t)} is not a minute of the {session.date} session")
        self.symbols = tuple(symbols)
        self._symset = frozenset(self.symbols)
        self.session = session
        self.reader = reader
        self.backfill = backfill
        self.last_t = last_t
        self._grid = GridFiller(self.symbols, last_closes)
        self.alert_after_s = alert_after_s
        self.realert_s = realert_s
        self.on_alert = on_alert
        self.market_open = market_open
        self._mono = monotonic
        self.stats = FeedStats()
        now = monotonic()
        self.last_line_at = now
        self.last_bars_at = now
        self.last_heartbeat: Heartbeat | None = None
        self._disconnected_since: float | None = None
        self._alerted_at: float | None = None

    # ------------------------------------------------------------------ grid

    @property
    def next_t(self) -> int:
        """The next minute of the grid to process."""
        return self.session.open_ms if self.last_t is None else self.last_t + MINUTE_MS

    @property
    def last_closes(self) -> Mapping[str, float]:
        """Each symbol's last known close (read-only): the prices the engine marks with."""
        return self._grid.last_closes

    @property
    def finished(self) -> bool:
        """Every minute of the session has been processed."""
        return self.last_t is not None and self.last_t >= self.session.close_ms - MINUTE_MS

    def _on_grid(self, t: int, real: Mapping[str, Bar], source: str) -> Minute:
        """The grid rule for one minute: real bars kept, the others filled from last closes."""
        minute = self._grid.fill(t, real, source)
        self.last_t = t
        self.stats.by_source[source] = self.stats.by_source.get(source, 0) + 1
        return minute

    def _fill_gap(self, first: int, last: int) -> list[Minute]:
        """Minutes first..last (inclusive) from REST, through the grid rule."""
        if last < first:
            return []
        self.stats.gaps += 1
        n = (last - first) // MINUTE_MS + 1
        log.warning(
            "gap of %d minute(s) %s..%s: backfilling over REST", n, iso_ny(first), iso_ny(last)
        )
        source = "backfill"
        try:
            fetched = self.backfill(self.symbols, first, last)
        except TraderError as e:
            log.error(
                "REST backfill of %s..%s failed (%s): those minutes are filled from last closes",
                iso_ny(first),
                iso_ny(last),
                e,
            )
            self._alert(
                "backfill_failed",
                {"first_t": first, "last_t": last, "error": str(e)},
                f"REST backfill of {n} minute(s) failed: {e}",
            )
            fetched, source = {}, "gap-fill"
        by_t: dict[int, dict[str, Bar]] = {}
        for sym, bars in fetched.items():
            if sym not in self._symset:
                continue
            for b in bars:
                if first <= b.t <= last:
                    by_t.setdefault(b.t, {})[sym] = b
        out = [self._on_grid(t, by_t.get(t, {}), source) for t in range(first, last + 1, MINUTE_MS)]
        if source == "backfill":
            self.stats.backfilled_minutes += len(out)
        else:
            self.stats.gap_filled_minutes += len(out)
        return out

    def catch_up(self, until_t: int) -> list[Minute]:
        """Backfill every grid minute up to ``until_t`` (inclusive, clipped to the session)."""
        last = min(until_t, self.session.close_ms - MINUTE_MS)
        if last < self.next_t:
            return []
        return self._fill_gap(self.next_t, last)

    def _batch(self, batch: Minute) -> list[Minute]:
        t = batch.t
        if not self.session.contains_minute(t):
            self.stats.off_grid += 1
            log.warning("batch %s is not a minute of the %s session: skipped", iso_ny(t), self.session.date)
            return []
        if self.last_t is not None and t <= self.last_t:
            if t == self.last_t:
                self.stats.duplicates += 1
                log.info("duplicate batch %s (already processed): skipped", iso_ny(t))
            else:
                self.stats.stale += 1
                log.info(
                    "stale batch %s (last processed %s): skipped", iso_ny(t), iso_ny(self.last_t)
                )
            return []
        out = self._fill_gap(self.next_t, t - MINUTE_MS) if t > self.next_t else []
        real: dict[str, Bar] = {}
        for sym, b in batch.bars.items():
            if sym in self._symset:
                real[sym] = b
            else:
                log.debug("batch %s: symbol %s is not traded here; ignored", iso_ny(t), sym)
        missing = [s for s in self.symbols if s not in batch.bars]
        if missing:
            log.info("batch %s has no bar for %s: filled from last close", iso_ny(t), ",".join(missing))
        out.append(self._on_grid(t, real, "fifo"))
        self.stats.batches += 1
        self.last_bars_at = self._mono()
        return out

    # ------------------------------------------------------------------ reading

    def poll(self, timeout: float) -> list[Minute]:
        """Wait up to ``timeout`` s for one line; the minutes it completes (often none)."""
        line = self.reader.readline(timeout)
        now = self._mono()
        if line is None:
            self.check_silence(now)
            return []
        self.stats.lines += 1
        try:
            item = decode_line(line)
        except LineError as e:
            self.stats.invalid += 1
            log.warning("FIFO line skipped: %s: %.120s", e, line)
            return []
        self._heard(now)
        if item is None:
            self.stats.ignored += 1
            log.debug("FIFO line of unknown type ignored: %.120s", line)
            return []
        if isinstance(item, Heartbeat):
            self.stats.heartbeats += 1
            self.last_heartbeat = item
            if item.connected:
                self._disconnected_since = None
            elif self._disconnected_since is None:
                self._disconnected_since = now
            self.check_silence(now)
            return []
        return self._batch(item)

    def _heard(self, now: float) -> None:
        if self._alerted_at is not None and self._disconnected_since is None:
            log.info("bridge feed is back after %.1f s of silence", now - self.last_line_at)
            self._alerted_at = None
        self.last_line_at = now

    def check_silence(self, now: float | None = None) -> bool:
        """Raise the alert if the feed is silent (or disconnected) during market hours."""
        now = self._mono() if now is None else now
        silent = now - self.last_line_at
        down = 0.0 if self._disconnected_since is None else now - self._disconnected_since
        if max(silent, down) < self.alert_after_s or self.finished:
            return False
        if self._alerted_at is not None and now - self._alerted_at < self.realert_s:
            return False
        try:
            is_open = self.market_open()
        except TraderError as e:
            log.warning("cannot ask the broker whether the market is open: %s", e)
            is_open = True
        if not is_open:
            return False
        self._alerted_at = now
        if silent >= self.alert_after_s:
            what = f"no bars and no heartbeats from the bridge for {silent:.0f} s during market hours"
            kind = "feed_silent"
        else:
            what = f"the bridge reports its market-data socket down for {down:.0f} s"
            kind = "feed_disconnected"
        last = "none" if self.last_t is None else iso_ny(self.last_t)
        self._alert(kind, {"silent_s": round(silent, 1), "down_s": round(down, 1),
                           "last_t": self.last_t}, f"{what} (last minute {last})")  # fmt: skip
        return True

    def _alert(self, kind: str, detail: dict[str, Any], message: str) -> None:
        self.stats.alerts += 1
        log.error("ALERT %s: %s", kind, message)
        if self.on_alert is not None:
            try:
                self.on_alert(kind, {**detail, "message": message})
            except Exception:  # the alert must never stop the feed
                log.exception("recording the %s alert failed", kind)


__all__ = ["Backfill", "BarFeed", "FeedStats", "LineSource", "rest_backfill"]

"""The silent-socket rule: a connection that stays open but sends no data during market hours.

The bridge cannot know how fast the market's clock runs (a replay may run at
60× or more), so the rule is written in the feed's own terms:

- The *minute gap* is the wall time between the arrivals of successive new
  minutes' bars, divided by how many minutes apart they are; its median over
  the last ``window`` minutes estimates wall seconds per market minute.
- A connection is **silent** when no data message (bar or updated bar) has come
  for ``max(min_silence_s, factor × median gap)`` wall seconds since the later
  of its subscription and its last data message (``fallback_s`` while fewer than
  ``min_samples`` gaps are known), **and** the market is believed open: the
  estimated market time (last bar's minute + 61 s + wall time since it came,
  scaled by the estimated speed) falls inside a session. Before any bar has
  been seen the market is assumed open (the bridge is started during sessions).

At real speed (gap 60 s) a connection is replaced after 120 s without data;
at 60× (gap 1 s) after 5 s. Control messages and pings do not count as data.
"""

from __future__ import annotations

import statistics
from collections import deque

from common.bars import MINUTE_MS
from common.calendar import TradingCalendar, nyse

BAR_SEND_DELAY_MS = 61_000
"""A bar for minute [t, t+1min) is sent about one second after the minute closes."""


class SilenceWatch:
    def __init__(
        self,
        *,
        min_silence_s: float = 5.0,
        factor: float = 2.0,
        fallback_s: float = 90.0,
        window: int = 15,
        min_samples: int = 3,
        calendar: TradingCalendar | None = None,
    ) -> None:
        if not (min_silence_s > 0 and factor > 0 and fallback_s > 0 and window >= 1 and min_samples >= 1):
            raise ValueError("silence thresholds must be positive")
        self.min_silence_s = min_silence_s
        self.factor = factor
        self.fallback_s = fallback_s
        self.min_samples = min_samples
        self._gaps: deque[float] = deque(maxlen=window)
        self._cal = calendar or nyse()
        self._last_minute: int | None = None
        self._last_minute_wall: float | None = None
        self._last_activity: float | None = None

    def on_subscribed(self, now: float) -> None:
        """A connection was (re)subscribed: its silence is measured from now."""
        self._last_activity = now

    def on_data(self, now: float, minute_t: int | None = None) -> None:
        """A data message arrived; ``minute_t`` is the minute of a (non-updated) bar."""
        self._last_activity = now
        if minute_t is None:
            return
        last = self._last_minute
        if last is None or minute_t > last:
            if last is not None and self._last_minute_wall is not None:
                minutes = (minute_t - last) // MINUTE_MS
                self._gaps.append(max(0.0, now - self._last_minute_wall) / minutes)
            self._last_minute = minute_t
            self._last_minute_wall = now

    def median_gap(self) -> float | None:
        """Estimated wall seconds per market minute (None until ``min_samples`` gaps are known)."""
        if len(self._gaps) < self.min_samples:
            return None
        return statistics.median(self._gaps)

    def threshold(self) -> float:
        gap = self.median_gap()
        if gap is None:
            return self.fallback_s
        return max(self.min_silence_s, self.factor * gap)

    def estimated_market_ms(self, now: float) -> int | None:
        """The market's clock as the feed suggests it (None before a bar and a speed are known)."""
        gap = self.median_gap()
        if self._last_minute is None or self._last_minute_wall is None or gap is None:
            return None
        speed = 60.0 / max(gap, 1e-6)  # market seconds per wall second
        return self._last_minute + BAR_SEND_DELAY_MS + int((now - self._last_minute_wall) * speed * 1000)

    def market_open(self, now: float) -> bool:
        est = self.estimated_market_ms(now)
        if est is None:
            return True
        return self._cal.session_at(est) is not None

    def silent_for(self, now: float) -> float:
        return 0.0 if self._last_activity is None else max(0.0, now - self._last_activity)

    def is_silent(self, now: float) -> bool:
        """True if the current connection should be replaced."""
        if self._last_activity is None:
            return False
        return self.silent_for(now) >= self.threshold() and self.market_open(now)


__all__ = ["SilenceWatch"]

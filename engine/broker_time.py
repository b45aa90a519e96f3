"""The broker's "now" without asking it every few seconds.

"Today" and "now" come from the broker's clock, never the machine's (design.md §6): in mock
mode the date is simulated and time may run many times faster than real time. The engine
reads ``GET /v2/clock`` once at start-up and then *tracks* broker time:

- from the last clock answer, moved forward by the local monotonic clock times the speed
  broker time runs at (1 live; measured between two clock answers in a replay, never
  below 1: a paused market reads as 1);
- never earlier than the end of the last bar seen (a bar of minute t exists only once t + 1
  min has passed at the broker), so the bars keep the estimate up to date on their own.

The engine asks the clock again only to confirm an instant it acts on (the end-of-day
instant, the close), when no batch has come for a while, or when a bar arrives much later
than the estimate says it could (:meth:`BrokerTime.observe_bar` reports that as a
suspected jump: the replay was moved, or this machine slept).

Pure arithmetic on injected instants; the caller owns the clock reads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from common.calendar import MINUTE_MS

JUMP_MS = 2 * MINUTE_MS
"""A bar ending this much later than the estimate suggests the broker's time jumped."""
MIN_SPEED_BASE_S = 0.05
"""Wall seconds two clock answers must be apart to measure the speed from them."""


@dataclass(frozen=True, slots=True)
class Anchor:
    broker_ms: int
    wall_s: float


class BrokerTime:
    """An estimate of the broker's now (Unix ms) at a local monotonic instant (seconds)."""

    def __init__(self) -> None:
        self._anchor: Anchor | None = None
        self._speed_base: Anchor | None = None
        self._last_read_wall = -math.inf
        self.speed = 1.0
        self.speed_measured = False
        """Whether :attr:`speed` comes from two clock answers (else it is assumed: 1)."""

    @property
    def known(self) -> bool:
        return self._anchor is not None

    @property
    def last_read_wall(self) -> float:
        """The monotonic instant of the last clock answer (-inf before the first)."""
        return self._last_read_wall

    def observe_clock(self, broker_ms: int, wall_s: float) -> None:
        """A clock answer: the broker's now was ``broker_ms`` at ``wall_s``.

        The speed is measured against an earlier answer at least ``MIN_SPEED_BASE_S`` wall
        seconds before (answers closer than that keep the earlier one as the base)."""
        base = self._speed_base
        if base is None or wall_s - base.wall_s > MIN_SPEED_BASE_S:
            if base is not None and broker_ms >= base.broker_ms:
                self.speed = max(1.0, (broker_ms - base.broker_ms) / 1000.0 / (wall_s - base.wall_s))
                self.speed_measured = True
            self._speed_base = Anchor(broker_ms, wall_s)
        self._anchor = Anchor(broker_ms, wall_s)
        self._last_read_wall = wall_s

    def observe_bar(self, t_ms: int, wall_s: float) -> bool:
        """A bar of minute ``t_ms`` arrived at ``wall_s``: the broker's now is at least its end.

        True when the bar ends so much later than the estimate that broker time seems to
        have jumped (the caller then reads the clock)."""
        end = t_ms + MINUTE_MS
        if self._anchor is None:
            self._anchor = Anchor(end, wall_s)
            return False
        now = self.now_ms(wall_s)
        if end > now:
            self._anchor = Anchor(end, wall_s)
        return end - now > JUMP_MS

    def now_ms(self, wall_s: float) -> int:
        """The estimate of the broker's now at ``wall_s`` (0 before anything was observed)."""
        a = self._anchor
        if a is None:
            return 0
        return a.broker_ms + round(max(0.0, wall_s - a.wall_s) * self.speed * 1000.0)

    def wall_until(self, broker_ms: int, wall_s: float) -> float:
        """Wall seconds from ``wall_s`` until the estimate reaches ``broker_ms`` (0 if past)."""
        ahead = broker_ms - self.now_ms(wall_s)
        return max(0.0, ahead / 1000.0 / self.speed)


__all__ = ["JUMP_MS", "BrokerTime"]

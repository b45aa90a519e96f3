"""Waiting for the open on the broker's clock (never the machine's), with a countdown line.

The broker's time may run faster than the wall clock (a mock market at speed N): the wait
measures how fast it runs from successive clock readings and sleeps accordingly, so the
launcher never oversleeps the open by more than a moment. A clock at real-time pace is asked
at most every ``MAX_SLEEP_S``; a simulated one (faster, slower or paused: its speed may be
changed at any moment) every ``SIM_MAX_SLEEP_S``. A stop request (SIGTERM, Ctrl-C) is seen
within a fraction of a second either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from common.calendar import iso_ny
from common.rest_models import BrokerClock
from common.stop_flag import StopFlag

COUNTDOWN_EVERY_MS = 5 * 60_000
"""Broker time between two countdown lines."""
MAX_SLEEP_S = 30.0
SIM_MAX_SLEEP_S = 1.0
FIRST_SLEEP_S = 0.5
"""Before the clock's speed is known, look again this soon."""
STOP_POLL_S = 0.2


def duration(ms: int) -> str:
    """``1h 05m``, ``4m 30s``, ``12s``."""
    s = max(0, ms) // 1000
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {sec:02d}s"
    return f"{sec}s"


@dataclass
class ClockPace:
    """How many broker milliseconds pass per wall second (1000 live; more in a fast replay)."""

    broker_ms: int | None = None
    wall: float | None = None
    ms_per_s: float | None = None

    def see(self, broker_ms: int, wall: float) -> None:
        if self.broker_ms is not None and self.wall is not None:
            d_wall = wall - self.wall
            if d_wall >= 0.05 and broker_ms >= self.broker_ms:
                self.ms_per_s = (broker_ms - self.broker_ms) / d_wall
        self.broker_ms, self.wall = broker_ms, wall

    @property
    def simulated(self) -> bool:
        """Far from real time (a replay, or a paused clock)."""
        return self.ms_per_s is not None and not 500.0 <= self.ms_per_s <= 1500.0

    def wall_seconds(self, broker_ms: int) -> float:
        """Wall seconds ``broker_ms`` takes at this pace (never slower than real time)."""
        return FIRST_SLEEP_S if self.ms_per_s is None else broker_ms / max(1000.0, self.ms_per_s)

    @property
    def max_sleep(self) -> float:
        return SIM_MAX_SLEEP_S if self.simulated else MAX_SLEEP_S


def wait_until(
    target_ms: int,
    get_clock: Callable[[], BrokerClock],
    stop: StopFlag,
    say: Callable[[str], None],
    *,
    what: str,
    lead_wall_s: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
    every_ms: int = COUNTDOWN_EVERY_MS,
) -> BrokerClock | None:
    """Return the first clock reading at or after ``target_ms`` less ``lead_wall_s`` wall
    seconds at the clock's pace (None if a stop was requested first); ``say`` gets a countdown
    line every ``every_ms`` of broker time."""
    pace = ClockPace()
    next_line: int | None = None
    while True:
        clock = get_clock()
        now = clock.timestamp_ms
        pace.see(now, monotonic())
        if pace.ms_per_s is None:  # the first reading: measure the pace before announcing
            if now >= target_ms:
                return clock
            wait = FIRST_SLEEP_S
        else:
            target = target_ms - int(lead_wall_s * max(1000.0, pace.ms_per_s))
            if now >= target:
                return clock
            if next_line is None or now >= next_line:
                say(f"{what} at {iso_ny(target)[11:19]} ET, in {duration(target - now)} "
                    f"(broker time {iso_ny(now)[11:19]})")  # fmt: skip
                next_line = now + every_ms
            wait = min(pace.wall_seconds(target - now), pace.wall_seconds(next_line - now), pace.max_sleep)
        if not _sleep(max(0.01, wait), stop, sleep, monotonic):
            return None


def _sleep(seconds: float, stop: StopFlag, sleep: Callable[[float], None],
           monotonic: Callable[[], float]) -> bool:  # fmt: skip
    """Sleep ``seconds`` in short slices; False as soon as a stop is requested."""
    end = monotonic() + seconds
    while not stop.requested:
        left = end - monotonic()
        if left <= 0:
            return True
        sleep(min(left, STOP_POLL_S))
    return False


__all__ = ["COUNTDOWN_EVERY_MS", "ClockPace", "duration", "wait_until"]

"""The simulated clock: sim time = anchor + (real elapsed) × speed; pause, resume, step.

Real time is injected (``real``: seconds, monotonic), so tests can drive it.
Coroutines wait for a simulated instant with :meth:`SimClock.sleep_until`, which
wakes early whenever the clock is changed (pause, resume, step, speed, set).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable


class SimClock:
    def __init__(
        self,
        start_ms: int,
        speed: float = 1.0,
        *,
        paused: bool = False,
        real: Callable[[], float] = time.monotonic,
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed={speed!r} must be > 0")
        self._real = real
        self._anchor_sim = int(start_ms)
        self._anchor_real = real()
        self._speed = float(speed)
        self._paused = paused
        self._changed: asyncio.Event | None = None

    # -- reading
    def now_ms(self) -> int:
        if self._paused:
            return self._anchor_sim
        return self._anchor_sim + int((self._real() - self._anchor_real) * 1000 * self._speed)

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def paused(self) -> bool:
        return self._paused

    # -- control
    def _rebase(self) -> None:
        self._anchor_sim = self.now_ms()
        self._anchor_real = self._real()

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def pause(self) -> None:
        self._rebase()
        self._paused = True
        self._notify()

    def resume(self) -> None:
        self._rebase()
        self._paused = False
        self._notify()

    def step(self, ms: int) -> None:
        """Move simulated time forward by ``ms`` (paused or running)."""
        if ms < 0:
            raise ValueError("the clock never goes backwards")
        self._rebase()
        self._anchor_sim += int(ms)
        self._notify()

    def set_time(self, t_ms: int) -> None:
        """Jump forward to ``t_ms``; jumping backwards is refused."""
        gap = int(t_ms) - self.now_ms()
        if gap < 0:
            raise ValueError("the clock never goes backwards")
        self.step(gap)

    def set_speed(self, speed: float) -> None:
        if not speed > 0:
            raise ValueError(f"speed={speed!r} must be > 0")
        self._rebase()
        self._speed = float(speed)
        self._notify()

    # -- waiting
    def real_seconds_until(self, t_ms: int) -> float | None:
        """Real seconds until sim time ``t_ms`` at the current speed (None while paused)."""
        gap = t_ms - self.now_ms()
        if gap <= 0:
            return 0.0
        if self._paused:
            return None
        return gap / 1000 / self._speed

    async def sleep_until(self, t_ms: int) -> None:
        """Return once simulated time has reached ``t_ms``."""
        if self._changed is None:
            self._changed = asyncio.Event()
        while True:
            delay = self.real_seconds_until(t_ms)
            if delay == 0.0:
                return
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout=delay)

    def snapshot(self) -> dict:
        return {"now_ms": self.now_ms(), "speed": self._speed, "paused": self._paused}

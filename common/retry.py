"""Waiting before a retry: exponential backoff with jitter, and the rate-limit reset.

:class:`Backoff` is the one backoff of the project: the REST client asks it for the delay
of attempt ``k``; the bridge's websocket loop takes a fresh series of delays from
:meth:`Backoff.delays` on every reconnect cycle (that method is what ``websockets``'
``reconnect_delays`` wants). Pure functions of their inputs (attempt number, headers, the
injected clock and random generator), so tests can check every wait without sleeping.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

RATE_LIMIT_RESET_HEADER = "X-Ratelimit-Reset"
MAX_RATE_LIMIT_WAIT = 65.0
"""Longest wait a rate-limit reset header can impose (Alpaca's window is one minute)."""


@dataclass
class Backoff:
    """Exponential backoff with "equal jitter": attempt ``k`` (0-based) waits a random
    time in ``[d/2, d]`` where ``d = min(cap, base * 2**k)``."""

    base: float = 0.5
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.base) and self.base > 0):
            raise ValueError(f"backoff_base={self.base!r} must be a positive number of seconds")
        if not (math.isfinite(self.cap) and self.cap >= self.base):
            raise ValueError(
                f"backoff_cap={self.cap!r} must be a number of seconds >= backoff_base"
            )

    def ceiling(self, attempt: int) -> float:
        """The un-jittered delay of ``attempt``."""
        if attempt < 0:
            raise ValueError(f"attempt={attempt} must be >= 0")
        # 2**attempt overflows a float past ~1024; the cap is reached long before.
        return self.cap if attempt >= 64 else min(self.cap, self.base * 2.0**attempt)

    def delay(self, attempt: int) -> float:
        """The jittered delay of ``attempt``: uniform in ``[ceiling/2, ceiling]``."""
        d = self.ceiling(attempt)
        return d / 2 + self.rng.random() * d / 2

    def delays(self) -> Iterator[float]:
        """A fresh, endless series: the delays of attempts 0, 1, 2, ..."""
        attempt = 0
        while True:
            yield self.delay(attempt)
            attempt += 1


def rate_limit_wait(headers: Mapping[str, str], now: Callable[[], float]) -> float | None:
    """Seconds until the rate-limit window resets, from ``X-Ratelimit-Reset`` (epoch seconds).

    None when the header is missing, unreadable or already in the past (the caller then
    falls back to backoff). Never more than :data:`MAX_RATE_LIMIT_WAIT`.
    """
    text = headers.get(RATE_LIMIT_RESET_HEADER)
    if text is None:
        return None
    try:
        reset = float(text)
    except ValueError:
        return None
    if not math.isfinite(reset):
        return None
    wait = reset - now()
    if wait <= 0:
        return None
    return min(wait, MAX_RATE_LIMIT_WAIT)

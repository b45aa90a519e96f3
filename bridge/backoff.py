"""Reconnection delays: exponential backoff with jitter ("equal jitter").

Delay k is drawn uniformly from [b/2, b] with b = min(cap, initial × factor^k),
so clients restarted together spread out while each still waits at least half
the nominal delay. The random source is injectable for deterministic tests.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator


def jittered_backoff(
    initial: float = 1.0,
    factor: float = 2.0,
    cap: float = 60.0,
    rng: random.Random | None = None,
) -> Iterator[float]:
    """An endless series of delays in seconds."""
    if not (initial > 0 and factor >= 1 and cap >= initial):
        raise ValueError(f"bad backoff: initial={initial}, factor={factor}, cap={cap}")
    r = rng or random.Random()
    base = initial
    while True:
        yield r.uniform(base / 2, base)
        base = min(cap, base * factor)


def backoff_factory(
    initial: float = 1.0,
    factor: float = 2.0,
    cap: float = 60.0,
    rng: random.Random | None = None,
) -> Callable[[], Iterator[float]]:
    """A zero-argument factory of fresh series, as ``websockets``' ``reconnect_delays`` wants."""
    return lambda: jittered_backoff(initial, factor, cap, rng)


__all__ = ["backoff_factory", "jittered_backoff"]

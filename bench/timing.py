"""Helpers every benchmark uses: the best of several timed runs, and percentiles."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def best_of(fn: Callable[[], T], repeats: int) -> tuple[float, T]:
    """(the fastest wall time in seconds of ``repeats`` calls, the last call's result)."""
    if repeats < 1:
        raise ValueError(f"repeats={repeats!r} must be >= 1")
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - started)
    return best, out


def percentile(xs: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) of ``xs`` by rank: the sample at ``int(q * n)``, clamped."""
    if not xs:
        raise ValueError("percentile of no samples")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]

"""New York time of bar starts, as the feature engine consumes it.

``minute_info(t_ms)`` turns bar starts (Unix ms, UTC) into three arrays: ``mod`` (minute
of the New York day, 0..1439), ``dow`` (day of week, Monday = 0) and ``day`` (New York day
number: days since 1970-01-01 in New York). The New York UTC offset (DST included) comes
from zoneinfo, looked up once per distinct UTC hour (offsets change only on the hour), so
a whole history costs a few hundred look-ups, not one per bar. The per-bar and batch
entry points both go through this function, so they see the same values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from common.calendar import MINUTE_MS, NY

HOUR_MS = 3_600_000
DAY_MS = 86_400_000


class MinuteInfo(NamedTuple):
    mod: np.ndarray
    """int32 minute of the New York day, 0..1439."""
    dow: np.ndarray
    """int32 day of week in New York, Monday = 0."""
    day: np.ndarray
    """int64 New York day number (days since 1970-01-01); a change starts a new session."""


@lru_cache(maxsize=65536)
def _hour_offset_ms(hour: int) -> int:
    off = datetime.fromtimestamp(hour * 3600, tz=UTC).astimezone(NY).utcoffset()
    assert off is not None
    return int(off.total_seconds() * 1000)


def minute_fields(t_ms: int) -> tuple[int, int, int]:
    """(mod, dow, day) of one bar start: the scalar form of :func:`minute_info`."""
    t = int(t_ms)
    if t % MINUTE_MS:
        raise ValueError(f"t_ms={t} is not the start of a minute")
    local = t + _hour_offset_ms(t // HOUR_MS)
    day = local // DAY_MS
    return (local - day * DAY_MS) // MINUTE_MS, (day + 3) % 7, day


def minute_info(t_ms: np.ndarray | list[int] | int) -> MinuteInfo:
    """New York minute of day, day of week and day number of bar starts ``t_ms``."""
    t = np.atleast_1d(np.asarray(t_ms))
    if t.ndim != 1:
        raise ValueError(f"t_ms must be one-dimensional, got shape {t.shape}")
    if t.size and not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"t_ms must be integer Unix milliseconds, got dtype {t.dtype}")
    t = t.astype(np.int64, copy=False)
    bad = np.flatnonzero(t % MINUTE_MS)
    if bad.size:
        raise ValueError(f"t_ms[{bad[0]}]={t[bad[0]]} is not the start of a minute")
    hours, inverse = np.unique(t // HOUR_MS, return_inverse=True)
    offsets = np.array([_hour_offset_ms(int(h)) for h in hours], dtype=np.int64)
    local = t + offsets[inverse.reshape(-1)]
    day = local // DAY_MS
    mod = ((local - day * DAY_MS) // MINUTE_MS).astype(np.int32)
    dow = ((day + 3) % 7).astype(np.int32)  # 1970-01-01 was a Thursday
    return MinuteInfo(mod, dow, day.astype(np.int64))


def checked_minutes(
    t_ms: np.ndarray | list[int], n: int, last_t: int | None, info: MinuteInfo | None = None
) -> tuple[np.ndarray, MinuteInfo]:
    """``t_ms`` as int64 and its :func:`minute_info`, after the checks every batch entry makes.

    ``n`` minutes, integer Unix milliseconds, strictly increasing, after ``last_t`` (the last
    minute the state consumed, or None); ``info``, when given, must cover the same minutes.
    """
    t = np.asarray(t_ms)
    if t.shape != (n,):
        raise ValueError(f"t_ms has shape {t.shape}, expected ({n},)")
    if n and not np.issubdtype(t.dtype, np.integer):
        raise ValueError(f"t_ms must be integer Unix milliseconds, got dtype {t.dtype}")
    t = t.astype(np.int64, copy=False)
    if n > 1 and not (np.diff(t) > 0).all():
        k = int(np.flatnonzero(np.diff(t) <= 0)[0]) + 1
        raise ValueError(f"t_ms must be strictly increasing: t_ms[{k}]={t[k]} after {t[k - 1]}")
    if n and last_t is not None and t[0] <= last_t:
        raise ValueError(f"t_ms[0]={t[0]} is not after the last minute consumed ({last_t})")
    if info is None:
        info = minute_info(t)
    elif not isinstance(info, MinuteInfo) or any(len(a) != n for a in info):
        raise ValueError("info must be minute_info(t_ms) for the same minutes")
    return t, info

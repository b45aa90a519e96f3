"""The NYSE trading calendar (exchange_calendars XNYS) in New York time.

Sessions, half days and holidays come from exchange_calendars; this module
turns them into the session grid every process uses: a session's minutes are
the bar starts open..close-1 in Unix milliseconds.
"""

from __future__ import annotations

import bisect
import time as _time
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timezone
from functools import cache
from zoneinfo import ZoneInfo

import exchange_calendars as xcals

NY = ZoneInfo("America/New_York")
MINUTE_MS = 60_000


def to_ms(dt: datetime) -> int:
    """Unix milliseconds of an aware datetime."""
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: give a time zone")
    return int(round(dt.timestamp() * 1000))


def floor_minute(t_ms: int) -> int:
    """Start (Unix ms) of the minute holding the instant ``t_ms``."""
    return t_ms - t_ms % MINUTE_MS


def from_ms(ms: int, tz: ZoneInfo | timezone = NY) -> datetime:
    """Aware datetime (New York by default) of Unix milliseconds."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone(tz)


@dataclass(frozen=True, slots=True)
class Session:
    """One trading day: its date and its open/close as aware UTC datetimes."""

    date: date
    open: datetime
    close: datetime

    @property
    def open_ms(self) -> int:
        return to_ms(self.open)

    @property
    def close_ms(self) -> int:
        return to_ms(self.close)

    @property
    def n_minutes(self) -> int:
        """Minutes in the session grid: 390 on a full day, 210 on a half day."""
        return (self.close_ms - self.open_ms) // MINUTE_MS

    @property
    def is_half_day(self) -> bool:
        return self.n_minutes < 390

    def minutes(self) -> range:
        """Bar starts of the session grid, in Unix ms."""
        return range(self.open_ms, self.close_ms, MINUTE_MS)

    def minute_index(self, t_ms: int) -> int:
        """0-based minute of the session of a bar start (may fall outside 0..n-1)."""
        return (t_ms - self.open_ms) // MINUTE_MS

    def contains_minute(self, t_ms: int) -> bool:
        return self.open_ms <= t_ms < self.close_ms and t_ms % MINUTE_MS == 0

    def eod_ms(self, minutes_before_close: int = 2) -> int:
        """Start of the end-of-day minute: close − N minutes (15:58, or 12:58 on a half day)."""
        return self.close_ms - minutes_before_close * MINUTE_MS

    def open_ny(self) -> datetime:
        return self.open.astimezone(NY)

    def close_ny(self) -> datetime:
        return self.close.astimezone(NY)


class TradingCalendar:
    """NYSE sessions by date, with lookups by time. Build with :func:`nyse`."""

    def __init__(self, name: str = "XNYS") -> None:
        cal = xcals.get_calendar(name)
        sched = cal.schedule
        self._dates: list[date] = [ts.date() for ts in sched.index]
        self._sessions: dict[date, Session] = {}
        for d, o, c in zip(self._dates, sched["open"], sched["close"], strict=True):
            self._sessions[d] = Session(d, o.to_pydatetime(), c.to_pydatetime())
        self._opens_ms = [self._sessions[d].open_ms for d in self._dates]
        self.first = self._dates[0]
        self.last = self._dates[-1]

    def _check_range(self, d: date) -> None:
        if not (self.first <= d <= self.last):
            raise ValueError(f"{d} is outside the calendar's range {self.first}..{self.last}")

    def is_session(self, d: date) -> bool:
        return d in self._sessions

    def session(self, d: date) -> Session:
        """The session on date ``d``; ValueError if the market is closed that day."""
        self._check_range(d)
        s = self._sessions.get(d)
        if s is None:
            raise ValueError(f"{d} is not an NYSE session (weekend or holiday)")
        return s

    def sessions_between(self, start: date, end: date) -> list[Session]:
        """Sessions with start <= date <= end."""
        lo = bisect.bisect_left(self._dates, start)
        hi = bisect.bisect_right(self._dates, end)
        return [self._sessions[d] for d in self._dates[lo:hi]]

    def sessions_before(self, d: date, n: int) -> list[Session]:
        """The ``n`` sessions strictly before date ``d``, oldest first."""
        hi = bisect.bisect_left(self._dates, d)
        if hi - n < 0:
            raise ValueError(f"fewer than {n} sessions before {d} in the calendar")
        return [self._sessions[x] for x in self._dates[hi - n : hi]]

    def previous_session(self, d: date) -> Session:
        return self.sessions_before(d, 1)[0]

    def next_session(self, d: date) -> Session:
        """The first session strictly after date ``d``."""
        i = bisect.bisect_right(self._dates, d)
        if i >= len(self._dates):
            raise ValueError(f"no session after {d} in the calendar")
        return self._sessions[self._dates[i]]

    def session_at(self, t_ms: int) -> Session | None:
        """The session whose hours contain the instant ``t_ms``, else None."""
        i = bisect.bisect_right(self._opens_ms, t_ms) - 1
        if i < 0:
            return None
        s = self._sessions[self._dates[i]]
        return s if t_ms < s.close_ms else None

    def session_of_minute(self, t_ms: int) -> Session | None:
        """The session whose grid holds the bar starting at ``t_ms``, else None."""
        s = self.session_at(t_ms)
        return s if s is not None and s.contains_minute(t_ms) else None

    def last_session_on_or_before(self, d: date) -> Session:
        i = bisect.bisect_right(self._dates, d) - 1
        if i < 0:
            raise ValueError(f"no session on or before {d}")
        return self._sessions[self._dates[i]]

    def next_open_close(self, t_ms: int) -> tuple[bool, datetime, datetime]:
        """(is_open, next_open, next_close) at instant ``t_ms``, as Alpaca's clock reports them.

        While open, next_open is the following session's open and next_close today's close.
        """
        i = bisect.bisect_right(self._opens_ms, t_ms) - 1
        if i >= 0:
            cur = self._sessions[self._dates[i]]
            if t_ms < cur.close_ms:
                nxt = self._sessions[self._dates[i + 1]] if i + 1 < len(self._dates) else cur
                return True, nxt.open, cur.close
        if i + 1 >= len(self._dates):
            raise ValueError("instant is past the calendar's range")
        nxt = self._sessions[self._dates[i + 1]]
        return False, nxt.open, nxt.close


@cache
def nyse() -> TradingCalendar:
    """The process-wide NYSE calendar (built once; exchange_calendars is slow to build)."""
    return TradingCalendar("XNYS")


def ny_datetime(d: date, hhmm: str) -> datetime:
    """An aware New York datetime of a date and 'HH:MM'."""
    h, m = hhmm.split(":")
    return datetime.combine(d, time(int(h), int(m)), tzinfo=NY)


def ny_date(t_ms: int) -> date:
    return from_ms(t_ms).date()


def iso_ny(t_ms: int) -> str:
    """ISO-8601 with the New York offset, seconds precision: 2025-10-16T09:30:00-04:00."""
    return from_ms(t_ms).isoformat(timespec="seconds")


def rfc3339_utc(t_ms: int) -> str:
    """Alpaca's market-data time form, whole seconds: 2022-04-11T13:30:00Z."""
    return _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(t_ms // 1000))


def rfc3339_utc_us(t_ms: int) -> str:
    """Alpaca's order time form, with microseconds: 2024-01-02T14:30:00.123000Z."""
    return datetime.fromtimestamp(t_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_rfc3339(text: str, *, offset_required: bool = False) -> datetime:
    """Parse an RFC 3339 / ISO-8601 instant (Z or an offset; digits past microseconds are cut).

    A date alone is midnight New York and a time without an offset is UTC, unless
    ``offset_required``: then both are a ValueError.
    """
    s = text.strip()
    if len(s) == 10:
        if offset_required:
            raise ValueError(f"time {text!r} has no offset")
        return datetime.combine(date.fromisoformat(s), time(0), tzinfo=NY)
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        if offset_required:
            raise ValueError(f"time {text!r} has no offset")
        dt = dt.replace(tzinfo=UTC)
    return dt


__all__ = [
    "MINUTE_MS",
    "NY",
    "Session",
    "TradingCalendar",
    "floor_minute",
    "from_ms",
    "iso_ny",
    "ny_date",
    "ny_datetime",
    "nyse",
    "parse_rfc3339",
    "rfc3339_utc",
    "rfc3339_utc_us",
    "to_ms",
]

"""The walk-forward split: warm-up sessions, then scored sessions, then held-out sessions.

The optimizer works on the most recent closed sessions (counted on the trading calendar,
the rule of :func:`common.history_download.history_sessions`, so the launcher's download
and the optimizer agree on which sessions exist)::

    |<- warm-up ->|<---- scored ---->|<- held-out ->|   (oldest ... most recent)

- warm-up: the signals learn, nothing is scored;
- scored: every trial's objective (in-sample);
- held-out: never seen by a trial; the promotion gate compares the candidate with the
  current parameters there (:mod:`optimize.gate`).

Today's partial session (the midday re-optimization, ``today=True``): while a session is
open, the windows may end with today's morning, its bars from ``tmp/todays_bars/``, as the
last held-out session; every window then slides by one session (the oldest warm-up session
drops out, the oldest held-out one becomes the last scored one). So the data differ from
the morning's, the study is new (:func:`optimize.study.study_name` names the cut), and the
gate judges the candidate on the freshest minutes there are. How a partial session is
scored (:func:`cut_session`): as a session that closes one minute after its last bar, by
the same rules as a half day, so the strategy flattens two minutes before that cut, makes
no entry in its last 30 minutes, and every fill pays the same costs. Its net return counts
as one session in the mean daily return (a morning weighs as much as a whole day).

:data:`DEFAULT_WINDOWS` is the one place the counts are defined; the launcher downloads
:attr:`WindowSpec.total` sessions (with the engine's warm-up, whichever is larger).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC

from common.calendar import MINUTE_MS, Session, TradingCalendar, from_ms, iso_ny
from common.history_download import history_sessions, last_closed_minute


@dataclass(frozen=True)
class WindowSpec:
    """How many sessions each window holds."""

    warmup: int = 20
    scored: int = 20
    held_out: int = 10

    def __post_init__(self) -> None:
        for name, low in (("warmup", 0), ("scored", 1), ("held_out", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{name}={v!r} sessions must be a whole number >= {low}")

    @property
    def total(self) -> int:
        return self.warmup + self.scored + self.held_out

    def split(self, sessions: Sequence[Session]) -> Windows:
        """The windows of the last :attr:`total` of ``sessions`` (ascending, consecutive)."""
        if len(sessions) < self.total:
            raise ValueError(
                f"{len(sessions)} sessions for {self.warmup} warm-up + {self.scored} scored + "
                f"{self.held_out} held-out"
            )
        s = tuple(sessions[len(sessions) - self.total :])
        a, b = self.warmup, self.warmup + self.scored
        return Windows(s[:a], s[a:b], s[b:])

    def latest(self, calendar: TradingCalendar, now_ms: int, *, today: bool = False) -> Windows:
        """The windows ending with the last session closed at ``now_ms``; with ``today`` and a
        session open at ``now_ms`` (a minute of it closed), ending with that session, partial."""
        closed, current = history_sessions(calendar, now_ms, self.total)
        if today and current is not None and last_closed_minute(current, now_ms) is not None:
            return replace(self.split([*closed[1:], current]), partial=True)
        return self.split(closed)


DEFAULT_WINDOWS = WindowSpec()


@dataclass(frozen=True)
class Windows:
    """The sessions of each window, oldest first."""

    warmup: tuple[Session, ...]
    scored: tuple[Session, ...]
    held_out: tuple[Session, ...]
    partial: bool = False
    """The last held-out session is today's, partial: its bars from ``tmp/todays_bars/``
    (once loaded, :func:`cut_session` has set its close just after its last bar)."""

    @property
    def last(self) -> Session:
        return self.held_out[-1]

    def with_last(self, session: Session) -> Windows:
        """The same windows with the last session replaced (today's, cut)."""
        return replace(self, held_out=(*self.held_out[:-1], session))

    def end_label(self) -> str:
        """The data's end: a date, or today's date and its last minute (``2025-10-16T12:44``)."""
        last = self.last
        if not self.partial:
            return last.date.isoformat()
        return f"{last.date}T{iso_ny(last.close_ms - MINUTE_MS)[11:16]}"

    @property
    def sessions(self) -> tuple[Session, ...]:
        """Every session, in order: the grid the optimizer loads."""
        return (*self.warmup, *self.scored, *self.held_out)

    @property
    def scored_index(self) -> range:
        """Grid session indexes of the scored sessions."""
        return range(len(self.warmup), len(self.warmup) + len(self.scored))

    @property
    def held_out_index(self) -> range:
        start = len(self.warmup) + len(self.scored)
        return range(start, start + len(self.held_out))

    def describe(self) -> str:
        def span(s: tuple[Session, ...]) -> str:
            return f"{len(s)} ({s[0].date}..{s[-1].date})" if s else "0"

        cut = f", today's up to {self.end_label()[11:]} ET" if self.partial else ""
        return (
            f"warm-up {span(self.warmup)}, scored (in-sample) {span(self.scored)}, "
            f"held-out {span(self.held_out)}{cut}"
        )


def cut_session(session: Session, last_bar_ms: int) -> Session:
    """``session`` as the optimizer scores a partial one: closing one minute after the bar
    starting at ``last_bar_ms`` (module docstring)."""
    if not session.contains_minute(last_bar_ms):
        raise ValueError(f"{iso_ny(last_bar_ms)} is not a minute of the {session.date} session")
    return replace(session, close=from_ms(last_bar_ms + MINUTE_MS, UTC))


__all__ = ["DEFAULT_WINDOWS", "WindowSpec", "Windows", "cut_session"]

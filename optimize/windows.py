"""The walk-forward split: warm-up sessions, then scored sessions, then held-out sessions.

The optimizer works on the most recent closed sessions (counted on the trading calendar,
the rule of :func:`common.history_download.history_sessions`, so the launcher's download
and the optimizer agree on which sessions exist)::

    |<- warm-up ->|<---- scored ---->|<- held-out ->|   (oldest ... most recent)

- warm-up: the signals learn, nothing is scored;
- scored: every trial's objective (in-sample);
- held-out: never seen by a trial; the promotion gate compares the candidate with the
  current parameters there (:mod:`optimize.gate`).

:data:`DEFAULT_WINDOWS` is the one place the counts are defined; the launcher downloads
:attr:`WindowSpec.total` sessions (with the engine's warm-up, whichever is larger).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from common.calendar import Session, TradingCalendar
from common.history_download import history_sessions


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

    def latest(self, calendar: TradingCalendar, now_ms: int) -> Windows:
        """The windows ending with the last session closed at ``now_ms``."""
        closed, _ = history_sessions(calendar, now_ms, self.total)
        return self.split(closed)


DEFAULT_WINDOWS = WindowSpec()


@dataclass(frozen=True)
class Windows:
    """The sessions of each window, oldest first."""

    warmup: tuple[Session, ...]
    scored: tuple[Session, ...]
    held_out: tuple[Session, ...]

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

        return (
            f"warm-up {span(self.warmup)}, scored (in-sample) {span(self.scored)}, "
            f"held-out {span(self.held_out)}"
        )


__all__ = ["DEFAULT_WINDOWS", "WindowSpec", "Windows"]

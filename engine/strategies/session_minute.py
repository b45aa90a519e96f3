"""Where a minute sits in its session, from the calendar alone.

A minute batch for the bar starting at ``t`` is complete when the bar ends, at
``t + 1 min``: that is the *decision time*, the moment the engine acts on it. All
session rules compare the decision time with the calendar's close, so they hold after a
restart and on half days:

- end of day (``is_eod``): decision time >= close − ``eod_minutes_before_close`` (15:58,
  12:58 on a half day), i.e. from the bar starting at 15:57;
- no new entries (``entries_allowed`` false): decision time >= close −
  ``no_entry_minutes_before_close`` (from the bar starting at 15:29 by default);
- ``minutes_to_close``: whole minutes from the decision time to the close (2 at EOD).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from common.calendar import Session, iso_ny
from common.config import SessionConfig
from engine.strategies.base import MINUTE_MS, Holding, MinuteInput, Signal


@dataclass(frozen=True, slots=True)
class SessionMinute:
    """Calendar facts about one bar's minute."""

    session_date: date
    t_ms: int
    minute_index: int
    minutes_to_close: int
    is_eod: bool
    entries_allowed: bool


def session_minute(session: Session, t_ms: int, cfg: SessionConfig) -> SessionMinute:
    """Facts about the bar starting at ``t_ms`` in ``session``; ValueError if off the grid."""
    if not session.contains_minute(t_ms):
        raise ValueError(f"bar start {iso_ny(t_ms)} is not a minute of the {session.date} session")
    decided_at = t_ms + MINUTE_MS
    return SessionMinute(
        session_date=session.date,
        t_ms=t_ms,
        minute_index=session.minute_index(t_ms),
        minutes_to_close=(session.close_ms - decided_at) // MINUTE_MS,
        is_eod=decided_at >= session.eod_ms(cfg.eod_minutes_before_close),
        entries_allowed=decided_at
        < session.close_ms - cfg.no_entry_minutes_before_close * MINUTE_MS,
    )


def minute_input(
    session: Session,
    t_ms: int,
    cfg: SessionConfig,
    *,
    prices: Mapping[str, float],
    signals: Mapping[str, Signal],
    positions: Mapping[str, Holding],
    equity: float,
    round_trip_costs: Mapping[str, float] | None = None,
) -> MinuteInput:
    """The strategy input for one bar, with every session flag taken from the calendar."""
    sm = session_minute(session, t_ms, cfg)
    return MinuteInput(
        t_ms=t_ms,
        session_date=sm.session_date,
        minute_index=sm.minute_index,
        minutes_to_close=sm.minutes_to_close,
        prices=prices,
        signals=signals,
        positions=positions,
        equity=equity,
        entries_allowed=sm.entries_allowed,
        is_eod=sm.is_eod,
        round_trip_costs=round_trip_costs,
    )

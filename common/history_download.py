"""Minute-bar history a strategy needs, counted in trading sessions, fetched only where missing.

Two files per symbol (design.md §4), under ``<data-dir>``:

- ``equities/{SYMBOL}_RTH_NH.csv``: the ``n`` full sessions before the current one, counted on
  the calendar (a literal "30 calendar days" can hold as few as 17 sessions). Only sessions
  that have closed are written there, so a session with at least one bar of a symbol was
  downloaded whole: a session with none is missing and is asked for again (and named in a
  warning if the broker has nothing for it). Downloads merge, never truncate.
- ``tmp/todays_bars/{SYMBOL}_today.csv``: the current session from 09:30 to the last minute
  that has closed (by the broker's clock, never the machine's). A file left from an earlier
  session is replaced.

:func:`plan_download` is pure (what is on disk, the calendar and the broker's "now" in;
the requests out); :func:`scan` reads what is on disk; :func:`run_download` sends the
requests one by one (each paginated by ``get_bars``), merges the answers into the files and
reports, per request, to a progress callback.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Protocol

from common.bars import Bar
from common.calendar import (
    MINUTE_MS,
    Session,
    TradingCalendar,
    floor_minute,
    from_ms,
    iso_ny,
    ny_date,
)
from common.csvfiles import (
    CsvFormatError,
    history_path,
    history_times,
    read_today,
    today_path,
    write_history,
    write_today,
)
from common.errors import OperationalError

log = logging.getLogger(__name__)

EQUITIES = Path("equities")
TODAYS_BARS = Path("tmp") / "todays_bars"
SESSIONS_PER_REQUEST = 5
"""Sessions of history per request (a request is paginated; this sets the progress steps)."""


class HistoryFileError(OperationalError):
    """A bar file on disk cannot be read: it is left untouched, the message names file and line."""


class BarsApi(Protocol):
    """The market-data call of :class:`common.rest.AlpacaRestClient` a download uses."""

    def get_bars(
        self, symbols: Sequence[str], start: datetime, end: datetime
    ) -> Mapping[str, Sequence[Bar]]: ...


@dataclass(frozen=True)
class OnDisk:
    """What the files hold: the sessions each symbol's history has bars on, and the last
    minute of the current session in each symbol's today file (None: no usable bar)."""

    history: Mapping[str, frozenset[date]]
    today_last: Mapping[str, int | None]
    stale_today: frozenset[str] = frozenset()
    """Symbols whose today file holds bars of another session (replaced when written)."""


@dataclass(frozen=True)
class BarRequest:
    """One ``get_bars`` call: ``symbols`` from minute ``start_ms`` to minute ``end_ms`` inclusive."""

    kind: str
    """``"history"`` (merged into the history files) or ``"today"`` (into the today files)."""
    symbols: tuple[str, ...]
    start_ms: int
    end_ms: int
    sessions: tuple[date, ...]

    def describe(self) -> str:
        if self.kind == "today":
            return f"today {iso_ny(self.start_ms)[11:16]}..{iso_ny(self.end_ms)[11:16]}"
        first, last = self.sessions[0], self.sessions[-1]
        return f"history {first}" if first == last else f"history {first}..{last}"


@dataclass(frozen=True)
class DownloadPlan:
    history: tuple[Session, ...]
    """The sessions the history files must cover, oldest first."""
    current: Session | None
    """The session in progress (or about to open) whose bars go to the today files."""
    last_closed_ms: int | None
    """The last minute of ``current`` that has closed (None before its first minute closes)."""
    requests: tuple[BarRequest, ...]

    @property
    def up_to_date(self) -> bool:
        return not self.requests

    @property
    def steps(self) -> int:
        """Progress steps of :func:`run_download`: the requests, then the history merge."""
        return len(self.requests) + any(r.kind == "history" for r in self.requests)


@dataclass
class DownloadReport:
    plan: DownloadPlan
    history_rows: dict[str, int] = field(default_factory=dict)
    """Rows in each history file written."""
    today_rows: dict[str, int] = field(default_factory=dict)
    """Bars of the current session in each today file written."""
    missing: dict[str, list[date]] = field(default_factory=dict)
    """Sessions a symbol still has no bar on after the download."""
    today_empty: list[str] = field(default_factory=list)
    """Symbols with no bar at all today although minutes have closed."""

    def warnings(self) -> list[str]:
        out = [
            f"{sym}: no bars on {len(days)} session(s): {', '.join(map(str, days))}"
            for sym, days in sorted(self.missing.items())
        ]
        if self.today_empty:
            out.append(f"no bars today so far for: {', '.join(self.today_empty)}")
        return out


def history_sessions(calendar: TradingCalendar, now_ms: int, n: int) -> tuple[list[Session], Session | None]:
    """(the ``n`` closed sessions the history must hold, the current session or None).

    The current session is today's when today is a session that has not closed yet
    (before the open too); the history is then the ``n`` sessions before it. Otherwise
    (after the close, a weekend, a holiday) there is none, and the history ends with the
    last session that has closed.
    """
    if n < 1:
        raise ValueError(f"sessions={n!r} must be >= 1")
    day = ny_date(now_ms)
    if calendar.is_session(day) and now_ms < calendar.session(day).close_ms:
        return calendar.sessions_before(day, n), calendar.session(day)
    last = calendar.last_session_on_or_before(day)
    return [*calendar.sessions_before(last.date, n - 1), last], None


def last_closed_minute(session: Session, now_ms: int) -> int | None:
    """The last minute of ``session`` whose bar has closed at ``now_ms``."""
    if now_ms < session.open_ms + MINUTE_MS:
        return None
    return min(floor_minute(now_ms) - MINUTE_MS, session.close_ms - MINUTE_MS)


def plan_download(
    symbols: Sequence[str],
    on_disk: OnDisk,
    *,
    calendar: TradingCalendar,
    now_ms: int,
    sessions: int,
    per_request: int = SESSIONS_PER_REQUEST,
) -> DownloadPlan:
    """The requests that bring the files up to date: for history, runs of consecutive
    sessions that some symbol lacks (only those symbols, at most ``per_request`` sessions a
    request); for today, the minutes after the earliest of the symbols' last bars."""
    syms = tuple(dict.fromkeys(symbols))
    if not syms:
        raise ValueError("no symbols to download")
    wanted, current = history_sessions(calendar, now_ms, sessions)
    requests: list[BarRequest] = []
    run: list[Session] = []
    run_syms: set[str] = set()

    def close_run() -> None:
        if run:
            requests.append(BarRequest(
                "history", tuple(s for s in syms if s in run_syms), run[0].open_ms,
                run[-1].close_ms - MINUTE_MS, tuple(x.date for x in run),
            ))  # fmt: skip
            run.clear()
            run_syms.clear()

    for s in wanted:
        lacking = {sym for sym in syms if s.date not in on_disk.history.get(sym, frozenset())}
        if not lacking:
            close_run()
            continue
        run.append(s)
        run_syms.update(lacking)
        if len(run) >= per_request:
            close_run()
    close_run()

    last_closed = None if current is None else last_closed_minute(current, now_ms)
    if current is not None and last_closed is not None:
        lasts = [on_disk.today_last.get(sym) for sym in syms]
        have = [t for t in lasts if t is not None]
        start = current.open_ms if len(have) < len(syms) else min(have) + MINUTE_MS
        if start <= last_closed:
            requests.append(BarRequest("today", syms, start, last_closed, (current.date,)))
    return DownloadPlan(tuple(wanted), current, last_closed, tuple(requests))


def _times(path: Path) -> list[int]:
    try:
        return history_times(path)
    except CsvFormatError as e:
        raise HistoryFileError(f"cannot read {path} (left as it is; fix or remove it): {e}") from None


def sessions_with_bars(times: Sequence[int], sessions: Sequence[Session]) -> set[date]:
    """The sessions (of ``sessions``) that hold at least one of the sorted bar starts ``times``."""
    out = set()
    for s in sessions:
        i = bisect.bisect_left(times, s.open_ms)
        if i < len(times) and times[i] < s.close_ms:
            out.add(s.date)
    return out


def scan(
    data_dir: str | Path,
    symbols: Sequence[str],
    *,
    calendar: TradingCalendar,
    now_ms: int,
    sessions: int,
) -> OnDisk:
    """What ``data_dir``'s history and today files hold for ``symbols`` (of the sessions a
    download with these arguments wants); HistoryFileError if a file cannot be read."""
    data_dir = Path(data_dir)
    wanted, current = history_sessions(calendar, now_ms, sessions)
    history: dict[str, frozenset[date]] = {}
    today_last: dict[str, int | None] = {}
    stale: set[str] = set()
    for sym in symbols:
        hpath = history_path(data_dir / EQUITIES, sym)
        times = _times(hpath) if hpath.is_file() else []
        history[sym] = frozenset(sessions_with_bars(times, wanted))
        tpath = today_path(data_dir / TODAYS_BARS, sym)
        last = None
        if tpath.is_file():
            try:
                todays = read_today(tpath, sym)
            except CsvFormatError as e:
                log.warning("%s is unreadable and will be replaced: %s", tpath, e)
                todays = []
                stale.add(sym)
            ours = [b.t for b in todays if current is not None and current.contains_minute(b.t)]
            if len(ours) < len(todays):
                stale.add(sym)
            last = ours[-1] if ours else None
        today_last[sym] = last
    return OnDisk(history, today_last, frozenset(stale))


def run_download(
    plan: DownloadPlan,
    api: BarsApi,
    data_dir: str | Path,
    on_disk: OnDisk,
    *,
    calendar: TradingCalendar,
    on_step: Callable[[str], None] = lambda _what: None,
) -> DownloadReport:
    """Send ``plan``'s requests, merge the answers into the files, report what is still missing.

    History answers are collected and each symbol's file is merged once, after the last
    request (a file is rewritten whole: once per symbol, not once per request); today's bars
    are written as they come. ``on_step`` is called after each of :attr:`DownloadPlan.steps`
    steps with what was done (a progress bar).
    """
    data_dir = Path(data_dir)
    report = DownloadReport(plan)
    present = {sym: set(days) for sym, days in on_disk.history.items()}
    fetched: dict[str, list[Bar]] = {}
    for req in plan.requests:
        got = api.get_bars(list(req.symbols), from_ms(req.start_ms), from_ms(req.end_ms))
        for sym in req.symbols:
            bars = [b for b in got.get(sym, ()) if req.start_ms <= b.t <= req.end_ms]
            if req.kind == "history":
                fetched.setdefault(sym, []).extend(bars)
                sessions = [calendar.session(d) for d in req.sessions]
                present.setdefault(sym, set()).update(sessions_with_bars([b.t for b in bars], sessions))
            else:
                path = today_path(data_dir / TODAYS_BARS, sym)
                if sym in on_disk.stale_today:
                    log.info("replacing %s (it held bars of another session)", path)
                    path.unlink(missing_ok=True)
                report.today_rows[sym] = write_today(path, bars, calendar)
        on_step(req.describe())
    if any(r.kind == "history" for r in plan.requests):
        for sym, bars in fetched.items():
            if bars:
                path = history_path(data_dir / EQUITIES, sym)
                try:
                    report.history_rows[sym] = write_history(path, bars, calendar)
                except CsvFormatError as e:
                    raise HistoryFileError(f"cannot merge into {path} (left as it is; fix or remove "
                                           f"it): {e}") from None  # fmt: skip
        on_step(f"merged into {len(report.history_rows)} history file(s)")
    for sym in present:
        lacking = [s.date for s in plan.history if s.date not in present[sym]]
        if lacking:
            report.missing[sym] = lacking
    if plan.last_closed_ms is not None:
        report.today_empty = [
            sym for sym in on_disk.today_last
            if on_disk.today_last[sym] is None and not report.today_rows.get(sym)
        ]  # fmt: skip
    return report


__all__ = [
    "EQUITIES",
    "SESSIONS_PER_REQUEST",
    "TODAYS_BARS",
    "BarRequest",
    "BarsApi",
    "DownloadPlan",
    "DownloadReport",
    "HistoryFileError",
    "OnDisk",
    "history_sessions",
    "last_closed_minute",
    "plan_download",
    "run_download",
    "scan",
    "sessions_with_bars",
]

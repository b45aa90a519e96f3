"""``GET /v2/clock`` and ``GET /v2/calendar``, following the simulated clock.

The clock answers Alpaca's ``{timestamp, is_open, next_open, next_close}`` with
New York offsets; the calendar lists NYSE sessions in an inclusive date range with
``open``/``close`` as ``HH:MM`` (13:00 on half days) plus Alpaca's
``session_open``/``session_close`` (extended hours) and ``settlement_date`` (T+1).
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from common.calendar import Session, TradingCalendar, from_ms, iso_ny
from mockmarket.context import CTX
from mockmarket.http_errors import alpaca_error, json_response


def clock_json(calendar: TradingCalendar, now_ms: int) -> dict:
    is_open, next_open, next_close = calendar.next_open_close(now_ms)
    return {
        "timestamp": from_ms(now_ms).isoformat(timespec="milliseconds"),
        "is_open": is_open,
        "next_open": iso_ny(int(next_open.timestamp() * 1000)),
        "next_close": iso_ny(int(next_close.timestamp() * 1000)),
    }


def calendar_day_json(calendar: TradingCalendar, s: Session) -> dict:
    try:
        settlement = calendar.next_session(s.date).date.isoformat()
    except ValueError:
        settlement = s.date.isoformat()
    return {
        "date": s.date.isoformat(),
        "open": s.open_ny().strftime("%H:%M"),
        "close": s.close_ny().strftime("%H:%M"),
        "session_open": "0400",
        "session_close": "2000",
        "settlement_date": settlement,
    }


def _date_param(request: web.Request, name: str, default: date) -> date:
    text = request.query.get(name)
    if text is None or text == "":
        return default
    s = text.strip()
    if len(s) > 10 and s[10] in "Tt ":
        s = s[:10]  # an RFC 3339 instant: its date
    try:
        return date.fromisoformat(s)
    except ValueError:
        raise ValueError(f"invalid {name}: {text[:40]!r} (expected YYYY-MM-DD)") from None


async def get_clock(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    try:
        return json_response(clock_json(ctx.calendar, ctx.clock.now_ms()))
    except ValueError as e:
        return alpaca_error(500, f"clock: {e}")


async def get_calendar(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    cal = ctx.calendar
    try:
        start = _date_param(request, "start", cal.first)
        end = _date_param(request, "end", cal.last)
    except ValueError as e:
        return alpaca_error(400, str(e))
    return json_response([calendar_day_json(cal, s) for s in cal.sessions_between(start, end)])


def add_clock_routes(app: web.Application) -> None:
    app.router.add_get("/v2/clock", get_clock)
    app.router.add_get("/v2/calendar", get_calendar)

"""Admin API (same key auth as everything else, exempt from REST faults).

- ``GET /admin/clock`` → the clock: ``now`` (ISO, New York), ``now_ms``, ``speed``,
  ``paused``, ``real_monotonic`` (the server's ``time.monotonic()`` at ``now_ms``: on
  one machine a client can map simulated to real instants) and the replay date.
- ``POST /admin/clock`` ``{"action": "pause"|"resume"|"step"|"set_speed"|"set_time",
  "seconds": float, "speed": float, "time": ISO}`` → the clock after the action.
- ``GET /admin/faults`` / ``POST /admin/faults`` (a JSON object of Faults fields;
  unknown field or bad value → 400 naming it) → the faults now. ``silence_open`` is
  an action: it silences the data connections open now and reads back false;
  ``drop_trade_streams`` likewise closes the trade-updates connections open now.
- ``GET /admin/counters`` → the counters.
- ``GET /admin/market`` → replay date, symbols and session dates of the data.
- ``GET /admin/streams`` → the open market-data connections and their subscriptions.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from aiohttp import web

from common.calendar import from_ms, parse_rfc3339, to_ms
from mockmarket.context import CTX, MarketContext
from mockmarket.http_errors import alpaca_error, json_response
from mockmarket.trade_stream import apply_trade_stream_faults

CLOCK_ACTIONS = ("pause", "resume", "step", "set_speed", "set_time")
MAX_SPEED = 100_000.0
MAX_STEP_S = 400 * 86_400.0


class AdminError(ValueError):
    pass


def clock_state(ctx: MarketContext) -> dict:
    now = ctx.clock.now_ms()
    mono = time.monotonic()
    return {
        "now": from_ms(now).isoformat(timespec="milliseconds"),
        "now_ms": now,
        "speed": ctx.clock.speed,
        "paused": ctx.clock.paused,
        "real_monotonic": mono,
        "replay_date": ctx.store.replay_date.isoformat(),
    }


async def _json_object(request: web.Request) -> dict:
    try:
        body = json.loads(await request.text()) if request.can_read_body else {}
    except (ValueError, UnicodeDecodeError):
        raise AdminError("the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise AdminError("the body must be a JSON object")
    return body


def _number(body: dict, name: str, *, positive: bool) -> float:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AdminError(f"{name!r} must be a finite number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise AdminError(f"{name!r} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


def apply_clock_action(ctx: MarketContext, body: dict[str, Any]) -> None:
    action = body.get("action")
    clock = ctx.clock
    if action == "pause":
        clock.pause()
    elif action == "resume":
        clock.resume()
    elif action == "step":
        seconds = _number(body, "seconds", positive=False)
        if seconds > MAX_STEP_S:
            raise AdminError(f"'seconds' must be at most {MAX_STEP_S:g}, got {seconds!r}")
        clock.step(int(round(seconds * 1000)))
    elif action == "set_speed":
        speed = _number(body, "speed", positive=True)
        if speed > MAX_SPEED:
            raise AdminError(f"'speed' must be at most {MAX_SPEED:g}, got {speed!r}")
        clock.set_speed(speed)
    elif action == "set_time":
        text = body.get("time")
        if not isinstance(text, str):
            raise AdminError(f"'time' must be an ISO-8601 string, got {text!r}")
        try:
            t_ms = to_ms(parse_rfc3339(text))
        except (ValueError, OverflowError, OSError):
            raise AdminError(f"'time' {text[:60]!r} is not an ISO-8601 instant") from None
        now = clock.now_ms()
        if t_ms < now:
            raise AdminError(
                f"'time' {text[:60]} is before the simulated now {from_ms(now).isoformat()}: "
                "the clock never goes backwards"
            )
        clock.set_time(t_ms)
    else:
        raise AdminError(f"'action' must be one of {', '.join(CLOCK_ACTIONS)}, got {action!r}")


async def get_clock(request: web.Request) -> web.Response:
    return json_response(clock_state(request.app[CTX]))


async def post_clock(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    try:
        apply_clock_action(ctx, await _json_object(request))
    except AdminError as e:
        return alpaca_error(400, str(e))
    return json_response(clock_state(ctx))


def _check_faults(body: dict) -> None:
    status = body.get("rest_5xx_status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 500 <= status <= 599
    ):
        raise AdminError(f"fault 'rest_5xx_status' must be an integer 500..599, got {status!r}")
    for name, value in body.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise AdminError(f"fault {name!r} must be finite, got {value!r}")


async def get_faults(request: web.Request) -> web.Response:
    return json_response(request.app[CTX].faults.to_json())


async def post_faults(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    try:
        body = await _json_object(request)
        _check_faults(body)
        trial = type(ctx.faults)(**ctx.faults.to_json())
        trial.update(body)  # validate everything before touching the live faults
    except (AdminError, ValueError) as e:
        return alpaca_error(400, str(e))
    ctx.faults.update(body)
    ctx.stream.apply_faults()
    apply_trade_stream_faults(ctx.broker, ctx.counters)
    return json_response(ctx.faults.to_json())


async def get_counters(request: web.Request) -> web.Response:
    return json_response(request.app[CTX].counters.to_json())


async def get_streams(request: web.Request) -> web.Response:
    hub = request.app[CTX].stream
    return json_response({"data": [c.info() for c in hub.connections]})


async def get_market(request: web.Request) -> web.Response:
    store = request.app[CTX].store
    return json_response(
        {
            "replay_date": store.replay_date.isoformat(),
            "symbols": list(store.symbols),
            "sessions": [d.isoformat() for d in store.session_dates()],
            "bars": len(store),
        }
    )


def add_admin_routes(app: web.Application) -> None:
    app.router.add_get("/admin/clock", get_clock)
    app.router.add_post("/admin/clock", post_clock)
    app.router.add_get("/admin/faults", get_faults)
    app.router.add_post("/admin/faults", post_faults)
    app.router.add_get("/admin/counters", get_counters)
    app.router.add_get("/admin/market", get_market)
    app.router.add_get("/admin/streams", get_streams)

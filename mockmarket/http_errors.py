"""Alpaca-shaped HTTP errors: JSON ``{"code": int, "message": str}`` plus rate-limit headers."""

from __future__ import annotations

import json
import time

from aiohttp import web

RATE_LIMIT = 200

# Alpaca's codes for the errors the market answers.
CODES = {
    400: 40010000,
    401: 40110000,
    403: 40310000,
    404: 40410000,
    405: 40510000,
    422: 42210000,
    429: 42910000,
    500: 50010000,
    502: 50210000,
    503: 50310000,
    504: 50410000,
}


def rate_limit_headers(remaining: int = RATE_LIMIT - 1, reset_epoch: int | None = None) -> dict[str, str]:
    reset = int(time.time()) + 1 if reset_epoch is None else reset_epoch
    return {
        "X-Ratelimit-Limit": str(RATE_LIMIT),
        "X-Ratelimit-Remaining": str(max(0, remaining)),
        "X-Ratelimit-Reset": str(reset),
    }


def alpaca_error(status: int, message: str, code: int | None = None, headers: dict[str, str] | None = None) -> web.Response:
    """An error response as Alpaca sends it."""
    body = {"code": CODES.get(status, status * 100000) if code is None else code, "message": message}
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/json",
        headers={**rate_limit_headers(), **(headers or {})},
    )


def json_response(data: object, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data), content_type="application/json", headers=rate_limit_headers())

"""REST middlewares: Alpaca-shaped errors for anything that goes wrong, key auth, REST faults.

- :func:`error_middleware` (outermost): an HTTP exception (unknown path, wrong
  method, bad upgrade...) becomes Alpaca's ``{"code", "message"}`` JSON; any other
  exception is logged and answered 500, never a traceback page.
- :func:`auth_middleware`: every REST request must carry the market's
  ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` (401 otherwise), admin included.
  Non-admin requests are counted and may meet the injected faults ``rest_429_count``
  (429 with rate-limit headers) and ``rest_5xx_count``. Websocket paths
  authenticate inside their own protocol and skip both.
"""

from __future__ import annotations

import logging
import math
import time

from aiohttp import web
from aiohttp.typedefs import Handler

from common.rest_models import KEY_HEADER, SECRET_HEADER
from mockmarket.context import CTX
from mockmarket.http_errors import alpaca_error, rate_limit_headers

log = logging.getLogger(__name__)

WEBSOCKET_PATHS = frozenset({"/v2/iex", "/v2/sip", "/v2/test", "/stream", "/stream/"})
ADMIN_PREFIX = "/admin"
RATE_LIMIT_RESET_S = 2.0
"""A 429 fault tells the client to wait this many (real) seconds."""

SERVER_ERROR_MESSAGES = {
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
}


def is_admin(path: str) -> bool:
    return path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/")


def _http_error_message(request: web.Request, exc: web.HTTPException) -> str:
    if exc.status == 404:
        return f"endpoint not found: {request.method} {request.path}"
    if exc.status == 405:
        return f"method {request.method} not allowed on {request.path}"
    text = exc.text or ""
    default = f"{exc.status}: {exc.reason}"
    return text if text and text != default else exc.reason.lower()


def _transport_closed(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return alpaca_error(exc.status, _http_error_message(request, exc), headers=headers)
    except Exception:
        if _transport_closed(request):
            # A handler dropped the connection on purpose (a lost order response): no answer.
            log.info("%s %s: connection dropped, no response sent", request.method, request.path)
            raise
        log.exception("unexpected error on %s %s", request.method, request.path)
        return alpaca_error(500, "internal server error")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in WEBSOCKET_PATHS:
        return await handler(request)
    ctx = request.app[CTX]
    key = request.headers.get(KEY_HEADER)
    secret = request.headers.get(SECRET_HEADER)
    if not ctx.keys_match(key, secret):
        return alpaca_error(401, "request is not authorized", code=40110000)
    if not is_admin(request.path):
        ctx.counters.rest_requests += 1
        if ctx.faults.take("rest_429_count"):
            reset = math.ceil(time.time() + RATE_LIMIT_RESET_S)
            log.info("fault: 429 for %s %s", request.method, request.path)
            return alpaca_error(
                429, "rate limit exceeded", headers=rate_limit_headers(0, reset_epoch=reset)
            )
        if ctx.faults.take("rest_5xx_count"):
            status = ctx.faults.rest_5xx_status
            log.info("fault: %d for %s %s", status, request.method, request.path)
            return alpaca_error(status, SERVER_ERROR_MESSAGES.get(status, "server error"))
    response = await handler(request)
    if isinstance(response, web.Response) and not response.prepared:
        for name, value in rate_limit_headers().items():
            response.headers.setdefault(name, value)
    return response

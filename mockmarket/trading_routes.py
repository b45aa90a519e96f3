"""Trading REST of the paper market (alpaca-protocol.md §2–§3), on top of :class:`PaperBroker`.

Routes need no auth code: the server's middleware checks the keys first.
Refusals are Alpaca-shaped ``{"code", "message"}`` errors; multi-status answers
(DELETE /v2/orders, DELETE /v2/positions) are 207 with one entry per item.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from mockmarket.broker import PaperBroker
from mockmarket.http_errors import alpaca_error, json_response, rate_limit_headers
from mockmarket.order_requests import parse_bool
from mockmarket.trading_errors import TradingError, bad_request, invalid

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _alpaca_errors(handler: Handler) -> Handler:
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except TradingError as e:
            return alpaca_error(e.status, e.message, code=e.code)

    wrapped.__name__ = handler.__name__
    return wrapped


async def _json_body(request: web.Request) -> object:
    raw = await request.read()
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("request body format is invalid: expected a JSON object") from None


def _query_bool(request: web.Request, name: str) -> bool:
    text = request.query.get(name)
    return False if text is None or text == "" else parse_bool(text, name)


def add_trading_routes(app: web.Application, broker: PaperBroker) -> None:
    """/v2/account, /v2/account/activities, /v2/positions..., /v2/orders...,
    /v2/orders:by_client_order_id, /v2/assets/{symbol}."""

    async def get_account(request: web.Request) -> web.Response:
        return json_response(broker.account())

    async def get_positions(request: web.Request) -> web.Response:
        return json_response(broker.positions())

    async def close_all_positions(request: web.Request) -> web.Response:
        cancel = _query_bool(request, "cancel_orders")
        return json_response(broker.close_all_positions(cancel_orders=cancel), status=207)

    async def get_position(request: web.Request) -> web.Response:
        return json_response(broker.position(request.match_info["symbol_or_asset_id"]))

    async def close_position(request: web.Request) -> web.Response:
        q = request.query
        order = broker.close_position(
            request.match_info["symbol_or_asset_id"],
            qty=q.get("qty"),
            percentage=q.get("percentage"),
        )
        return json_response(order)

    async def submit_order(request: web.Request) -> web.Response:
        submission = broker.submit(await _json_body(request))
        response = json_response(submission.order)
        if submission.lose_response and request.transport is not None:
            # Fault: the order stands, but the client never hears of it.
            request.transport.close()
        return response

    async def list_orders(request: web.Request) -> web.Response:
        return json_response(broker.list_orders(request.query))

    async def cancel_all_orders(request: web.Request) -> web.Response:
        return json_response(broker.cancel_all_orders(), status=207)

    async def get_order_by_client_id(request: web.Request) -> web.Response:
        client_order_id = request.query.get("client_order_id")
        if not client_order_id:
            raise invalid("client_order_id is required")
        return json_response(broker.get_order_by_client_id(client_order_id))

    async def get_order(request: web.Request) -> web.Response:
        return json_response(broker.get_order(request.match_info["order_id"]))

    async def cancel_order(request: web.Request) -> web.Response:
        broker.cancel_order(request.match_info["order_id"])
        return web.Response(status=204, headers=rate_limit_headers())

    async def replace_order(request: web.Request) -> web.Response:
        order = broker.replace_order(request.match_info["order_id"], await _json_body(request))
        return json_response(order)

    async def get_activities(request: web.Request) -> web.Response:
        return json_response(broker.account_activities(request.query))

    async def get_activities_of_type(request: web.Request) -> web.Response:
        kind = request.match_info["activity_type"]
        return json_response(broker.account_activities(request.query, kind))

    async def get_asset(request: web.Request) -> web.Response:
        return json_response(broker.asset(request.match_info["symbol_or_asset_id"]))

    r = app.router
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/v2/account", get_account),
        ("GET", "/v2/positions", get_positions),
        ("DELETE", "/v2/positions", close_all_positions),
        ("GET", "/v2/positions/{symbol_or_asset_id}", get_position),
        ("DELETE", "/v2/positions/{symbol_or_asset_id}", close_position),
        ("POST", "/v2/orders", submit_order),
        ("GET", "/v2/orders", list_orders),
        ("DELETE", "/v2/orders", cancel_all_orders),
        # the literal colon path goes before /v2/orders/{order_id}
        ("GET", "/v2/orders:by_client_order_id", get_order_by_client_id),
        ("GET", "/v2/orders/{order_id}", get_order),
        ("DELETE", "/v2/orders/{order_id}", cancel_order),
        ("PATCH", "/v2/orders/{order_id}", replace_order),
        ("GET", "/v2/assets/{symbol_or_asset_id}", get_asset),
        ("GET", "/v2/account/activities", get_activities),
        ("GET", "/v2/account/activities/{activity_type}", get_activities_of_type),
    ]
    for method, path, handler in routes:
        r.add_route(method, path, _alpaca_errors(handler))

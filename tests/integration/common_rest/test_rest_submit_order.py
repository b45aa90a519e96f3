"""submit_order never blindly resends: recovery by client_order_id over real HTTP."""

from __future__ import annotations

import logging

import pytest

from common.errors import (
    DuplicateClientOrderIdError,
    ForbiddenError,
    NetworkError,
    ServerError,
)

COID = "rot-20251016-0931-TQQQ-buy-0"
LOOKUP = "/v2/orders:by_client_order_id"


def submit(client, **kw):
    args = {"symbol": "TQQQ", "qty": 10, "side": "buy", "client_order_id": COID}
    args.update(kw)
    return client.submit_order(**args)


def posts(server):
    return server.requests("POST", "/v2/orders")


def test_plain_submit_sends_strings_and_parses_the_order(server, book, make_client, clock):
    book.route()
    order = submit(make_client(), qty=12.5, type="limit", limit_price=101.25)
    (post,) = posts(server)
    assert post.body == {
        "symbol": "TQQQ",
        "qty": "12.5",
        "side": "buy",
        "type": "limit",
        "time_in_force": "day",
        "client_order_id": COID,
        "extended_hours": False,
        "limit_price": "101.25",
    }
    assert order.client_order_id == COID and order.qty == 12.5 and order.limit_price == 101.25
    assert order.filled_qty == 0.0 and order.filled_avg_price is None and order.filled_at is None
    assert server.requests("GET", LOOKUP) == []
    assert clock.sleeps == []


def test_timeout_after_acceptance_is_recovered_without_a_second_post(
    server, book, make_client, wire
):
    book.route(book.accept_then(wire.Stall()))
    order = submit(make_client(timeout=0.3))
    assert order.id == book.orders[COID]["id"]
    assert len(posts(server)) == 1
    assert len(server.requests("GET", LOOKUP)) == 1
    assert server.requests("GET", LOOKUP)[0].query == {"client_order_id": COID}


def test_dropped_connection_after_acceptance_is_recovered_without_a_second_post(
    server, book, make_client, clock, caplog, wire
):
    book.route(book.accept_then(wire.Drop()))
    with caplog.at_level(logging.WARNING, logger="common.rest"):
        order = submit(make_client())
    assert order.id == book.orders[COID]["id"]
    assert len(posts(server)) == 1
    assert len(clock.sleeps) == 1
    assert COID in caplog.text and "asking the broker" in caplog.text
    assert wire.KEY not in caplog.text and wire.SECRET not in caplog.text


def test_dropped_before_acceptance_is_sent_again_once_with_the_same_id(
    server, book, make_client, wire
):
    book.route(wire.Drop())
    order = submit(make_client())
    sent = posts(server)
    assert len(sent) == 2
    assert sent[0].body == sent[1].body
    assert order.id == book.orders[COID]["id"]
    assert len(book.orders) == 1
    lookups = server.requests("GET", LOOKUP)
    assert len(lookups) == 1  # the 404 that allowed the resend


def test_5xx_then_not_found_is_resent(server, book, make_client, clock, wire):
    book.route(wire.error(503, "upstream timeout"), wire.error(504, "gateway timeout"))
    order = submit(make_client())
    assert len(posts(server)) == 3
    assert len(server.requests("GET", LOOKUP)) == 2
    assert len(clock.sleeps) == 2
    assert order.client_order_id == COID


def test_5xx_after_acceptance_returns_the_accepted_order(server, book, make_client, wire):
    def accept_then_fail(seen):
        book.accept(seen)
        return wire.error(500, "internal error")

    book.route(accept_then_fail)
    order = submit(make_client())
    assert order.id == book.orders[COID]["id"]
    assert len(posts(server)) == 1


def test_429_waits_for_the_reset_then_asks_then_resends(server, book, make_client, clock, wire):
    limited = wire.Json(
        429,
        {"code": 42910000, "message": "rate limit exceeded"},
        {"X-Ratelimit-Reset": str(int(clock.t) + 2)},
    )
    book.route(limited)
    submit(make_client())
    assert clock.sleeps == [pytest.approx(2.0)]
    assert len(posts(server)) == 2
    assert len(server.requests("GET", LOOKUP)) == 1


def test_422_duplicate_returns_the_existing_order(server, book, make_client, clock, wire):
    existing = wire.order_json(
        {"client_order_id": COID, "symbol": "TQQQ", "qty": "10", "side": "buy"}, status="filled"
    )
    existing.update(filled_qty="10", filled_avg_price="55.01", filled_at="2025-10-16T13:31:00Z")
    book.orders[COID] = existing
    book.route()
    order = submit(make_client())
    assert order.id == existing["id"] and order.status == "filled"
    assert order.filled_qty == 10.0 and order.filled_avg_price == 55.01
    assert len(posts(server)) == 1
    assert len(server.requests("GET", LOOKUP)) == 1
    assert clock.sleeps == []


def test_422_duplicate_of_a_different_order_is_an_error(server, book, make_client, wire):
    book.orders[COID] = wire.order_json(
        {"client_order_id": COID, "symbol": "SQQQ", "qty": "10", "side": "buy"}
    )
    book.route()
    with pytest.raises(DuplicateClientOrderIdError, match="SQQQ"):
        submit(make_client())


def test_422_duplicate_not_visible_yet_is_looked_up_again_never_resent(
    server, book, make_client, clock, wire
):
    dup = wire.error(422, "client_order_id must be unique", 40010001)
    order = wire.order_json({"client_order_id": COID, "symbol": "TQQQ", "qty": "10", "side": "buy"})
    server.on("POST", "/v2/orders", then=dup)
    server.on("GET", LOOKUP, wire.error(404, "order not found"), then=wire.Json(200, order))
    assert submit(make_client()).id == order["id"]
    assert len(posts(server)) == 1
    assert len(server.requests("GET", LOOKUP)) == 2


def test_422_duplicate_never_found_raises_without_resending(server, make_client, clock, wire):
    server.on("POST", "/v2/orders", then=wire.error(422, "client_order_id must be unique"))
    server.on("GET", LOOKUP, then=wire.error(404, "order not found"))
    with pytest.raises(DuplicateClientOrderIdError):
        submit(make_client(max_retries=2))
    assert len(posts(server)) == 1
    assert len(server.requests("GET", LOOKUP)) == 3


def test_never_reaching_the_broker_gives_up_after_max_retries(server, make_client, clock, wire):
    server.on("POST", "/v2/orders", then=wire.Drop())
    server.on("GET", LOOKUP, then=wire.error(404, "order not found"))
    with pytest.raises(NetworkError, match="POST /v2/orders"):
        submit(make_client(max_retries=2))
    assert len(posts(server)) == 3
    assert len(server.requests("GET", LOOKUP)) == 3
    assert len(clock.sleeps) == 3


def test_5xx_forever_raises_server_error(server, make_client, wire):
    server.on("POST", "/v2/orders", then=wire.error(503, "unavailable", 50310000))
    server.on("GET", LOOKUP, then=wire.error(404, "order not found"))
    with pytest.raises(ServerError) as ei:
        submit(make_client(max_retries=1))
    assert ei.value.code == 50310000
    assert len(posts(server)) == 2


def test_403_is_raised_at_once_without_lookup(server, make_client, clock, wire):
    server.on("POST", "/v2/orders", then=wire.error(403, "insufficient buying power", 40310000))
    with pytest.raises(ForbiddenError, match="insufficient buying power"):
        submit(make_client())
    assert len(posts(server)) == 1
    assert server.requests("GET", LOOKUP) == []
    assert clock.sleeps == []


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"side": "hold"}, "side"),
        ({"type": "stop"}, "type"),
        ({"type": "limit"}, "limit_price"),
        ({"limit_price": 10.0}, "limit_price"),
        ({"qty": 0}, "qty"),
        ({"qty": float("nan")}, "qty"),
        ({"qty": True}, "qty"),
        ({"time_in_force": "forever"}, "time_in_force"),
        ({"client_order_id": ""}, "client_order_id"),
        ({"client_order_id": "x" * 49}, "client_order_id"),
        ({"symbol": " "}, "symbol"),
    ],
)
def test_bad_order_arguments_are_refused_before_sending(server, make_client, kw, match):
    with pytest.raises(ValueError, match=match):
        submit(make_client(), **kw)
    assert server.requests() == []

"""Retries, waits and typed errors of AlpacaRestClient over real HTTP to a scripted server."""

from __future__ import annotations

import logging
import socket

import pytest

from common.env import AlpacaEndpoints
from common.errors import (
    AuthError,
    ForbiddenError,
    NetworkError,
    NotFoundError,
    OperationalError,
    RateLimitError,
    ServerError,
    TemporaryError,
    UnprocessableError,
)
from common.rest import AlpacaRestClient

ACCOUNT = {"id": "acct", "status": "ACTIVE", "cash": "100000", "equity": "100000"}


def test_sends_the_auth_headers_to_base_plus_v2(server, make_client, wire):
    server.on("GET", "/v2/account", wire.Json(200, ACCOUNT))
    assert make_client().get_account().raw == ACCOUNT
    (seen,) = server.requests("GET", "/v2/account")
    assert seen.headers["APCA-API-KEY-ID"] == wire.KEY
    assert seen.headers["APCA-API-SECRET-KEY"] == wire.SECRET


def test_429_waits_until_the_reset_header(server, make_client, clock, caplog, wire):
    reset = int(clock.t) + 3
    limited = wire.Json(
        429,
        {"code": 42910000, "message": "rate limit exceeded"},
        {"X-Ratelimit-Limit": "200", "X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": str(reset)},
    )
    server.on("GET", "/v2/account", limited, wire.Json(200, ACCOUNT))
    with caplog.at_level(logging.WARNING, logger="common.rest"):
        assert make_client().get_account().raw == ACCOUNT
    assert clock.sleeps == [pytest.approx(reset - 1_760_000_000.0)]
    assert len(server.requests("GET", "/v2/account")) == 2
    (rec,) = [r for r in caplog.records if r.name == "common.rest"]
    msg = rec.getMessage()
    assert "GET /v2/account" in msg and "429" in msg and "3.00 s" in msg
    assert wire.KEY not in caplog.text and wire.SECRET not in caplog.text


def test_429_with_reset_in_the_past_or_missing_falls_back_to_backoff(
    server, make_client, clock, wire
):
    past = wire.Json(
        429, {"code": 42910000, "message": "rate limit exceeded"}, {"X-Ratelimit-Reset": "5"}
    )
    bare = wire.Json(429, {"code": 42910000, "message": "rate limit exceeded"})
    server.on("GET", "/v2/account", past, bare, wire.Json(200, ACCOUNT))
    make_client(backoff_base=0.5).get_account()
    assert len(clock.sleeps) == 2
    assert 0.25 <= clock.sleeps[0] <= 0.5
    assert 0.5 <= clock.sleeps[1] <= 1.0


def test_429_forever_raises_rate_limit_error_after_max_retries(server, make_client, clock, wire):
    limited = wire.Json(
        429,
        {"code": 42910000, "message": "rate limit exceeded"},
        {"X-Ratelimit-Reset": str(int(clock.t) + 1)},
    )
    server.on("GET", "/v2/account", then=limited)
    with pytest.raises(RateLimitError) as ei:
        make_client(max_retries=2).get_account()
    assert isinstance(ei.value, TemporaryError)
    assert (ei.value.status, ei.value.code, ei.value.message) == (
        429,
        42910000,
        "rate limit exceeded",
    )
    assert len(server.requests("GET", "/v2/account")) == 3
    assert len(clock.sleeps) == 2


def test_5xx_burst_backs_off_exponentially_then_succeeds(server, make_client, clock, wire):
    burst = [wire.error(503, "service unavailable")] * 3
    server.on("GET", "/v2/account", *burst, wire.Json(200, ACCOUNT))
    assert make_client(max_retries=5, backoff_base=0.5, backoff_cap=30).get_account().raw == ACCOUNT
    assert len(clock.sleeps) == 3
    for k, wait in enumerate(clock.sleeps):
        ceiling = 0.5 * 2**k
        assert ceiling / 2 <= wait <= ceiling


def test_backoff_is_capped(server, make_client, clock, wire):
    server.on("GET", "/v2/account", *[wire.error(500, "boom")] * 6, wire.Json(200, ACCOUNT))
    make_client(max_retries=6, backoff_base=1.0, backoff_cap=4.0).get_account()
    assert max(clock.sleeps) <= 4.0
    assert all(2.0 <= w <= 4.0 for w in clock.sleeps[2:])


def test_backoff_jitter_is_reproducible_with_a_seeded_rng(server, make_client, clock, wire):
    import random

    server.on("GET", "/v2/account", then=wire.error(502, "bad gateway"))
    for _ in range(2):
        with pytest.raises(ServerError):
            make_client(rng=random.Random(42)).get_account()
    first, second = clock.sleeps[:3], clock.sleeps[3:]
    assert first == second
    assert len(set(first)) == 3


def test_5xx_forever_raises_server_error_with_code_and_message(server, make_client, clock, wire):
    server.on("GET", "/v2/clock", then=wire.error(503, "maintenance", 50310000))
    with pytest.raises(ServerError) as ei:
        make_client(max_retries=3).get_clock()
    err = ei.value
    assert (err.status, err.code, err.message) == (503, 50310000, "maintenance")
    assert "GET /v2/clock" in str(err)
    assert len(server.requests("GET", "/v2/clock")) == 4
    assert len(clock.sleeps) == 3


def test_non_json_error_body_still_gives_a_clear_error(server, make_client, wire):
    server.on("GET", "/v2/account", then=wire.Raw(502, "<html><body>Bad Gateway</body></html>"))
    with pytest.raises(ServerError) as ei:
        make_client(max_retries=1).get_account()
    assert ei.value.status == 502 and ei.value.code is None
    assert "not an Alpaca error object" in str(ei.value) and "Bad Gateway" in str(ei.value)


def test_non_json_success_body_is_a_response_format_error(server, make_client, wire):
    from common.errors import ResponseFormatError

    server.on("GET", "/v2/account", wire.Raw(200, "<html>login</html>"))
    with pytest.raises(ResponseFormatError, match="not JSON"):
        make_client().get_account()


def test_401_is_an_auth_error_at_once_without_secrets(server, make_client, clock, caplog, wire):
    server.on(
        "GET",
        "/v2/account",
        then=wire.error(401, f"request is not authorized (key {wire.KEY})", 40110000),
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(AuthError) as ei:
        make_client().get_account()
    err = ei.value
    assert isinstance(err, OperationalError)
    assert (err.status, err.code) == (401, 40110000)
    text = f"{err} {err.message} {err!r}"
    assert wire.KEY not in text and wire.SECRET not in text and "***" in text
    assert wire.KEY not in caplog.text and wire.SECRET not in caplog.text
    assert clock.sleeps == []
    assert len(server.requests()) == 1


@pytest.mark.parametrize(
    ("status", "cls"),
    [(403, ForbiddenError), (404, NotFoundError), (422, UnprocessableError)],
)
def test_other_4xx_raise_the_typed_error_at_once(server, make_client, clock, status, cls, wire):
    server.on("GET", "/v2/orders/abc", then=wire.error(status, "nope", status * 100000 + 1))
    with pytest.raises(cls) as ei:
        make_client().get_order("abc")
    assert (ei.value.status, ei.value.code, ei.value.message) == (
        status,
        status * 100000 + 1,
        "nope",
    )
    assert clock.sleeps == []


def test_dropped_connection_on_a_get_is_retried(server, make_client, clock, wire):
    server.on("GET", "/v2/account", wire.Drop(), wire.Drop(), wire.Json(200, ACCOUNT))
    assert make_client().get_account().raw == ACCOUNT
    assert len(clock.sleeps) == 2


def test_timeout_on_a_get_is_retried(server, make_client, clock, wire):
    server.on("GET", "/v2/account", wire.Stall(), wire.Json(200, ACCOUNT))
    assert make_client(timeout=0.3).get_account().raw == ACCOUNT
    assert len(clock.sleeps) == 1


def test_connection_refused_raises_network_error_after_retries(clock, wire):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    ep = AlpacaEndpoints(key_id=wire.KEY, secret=wire.SECRET, trading_url=url, data_url=url)
    with (
        AlpacaRestClient(ep, max_retries=2, sleep=clock.sleep, now=clock.now, timeout=1.0) as c,
        pytest.raises(NetworkError) as ei,
    ):
        c.get_account()
    assert isinstance(ei.value, TemporaryError)
    assert "GET /v2/account" in str(ei.value) and "no answer" in str(ei.value)
    assert wire.KEY not in str(ei.value) and wire.SECRET not in str(ei.value)
    assert len(clock.sleeps) == 2


def test_redirects_are_not_followed(server, make_client, wire):
    other = wire.ScriptedServer().start()
    try:
        other.on("GET", "/v2/account", then=wire.Json(200, ACCOUNT))
        server.on(
            "GET", "/v2/account", wire.Json(302, None, {"Location": other.url + "/v2/account"})
        )
        with pytest.raises(Exception, match="302"):
            make_client().get_account()
        assert other.requests() == []
    finally:
        other.stop()


def test_repr_and_endpoints_never_show_secrets(make_client, wire):
    c = make_client()
    assert wire.KEY not in repr(c) and wire.SECRET not in repr(c)


@pytest.mark.parametrize(
    "kw",
    [
        {"timeout": 0},
        {"timeout": float("nan")},
        {"max_retries": -1},
        {"backoff_base": 0},
        {"backoff_cap": 0.1},
    ],
)
def test_bad_settings_are_refused_by_name(kw, wire):
    ep = AlpacaEndpoints(key_id=wire.KEY, secret=wire.SECRET)
    name = next(iter(kw))
    with pytest.raises(ValueError, match=name):
        AlpacaRestClient(ep, **kw)

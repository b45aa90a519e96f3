"""The Alpaca REST client (trading and market data) on ``requests``.

- Auth by the ``APCA-API-KEY-ID`` / ``APCA-API-SECRET-KEY`` headers; redirects are
  never followed (they would carry the keys to another host).
- 429 waits until ``X-Ratelimit-Reset``; 5xx, timeouts and dropped connections
  back off exponentially with jitter; after ``max_retries`` retries the typed error
  (RateLimitError, ServerError, NetworkError: all TemporaryError) is raised. Any other
  error answer raises at once, typed by :func:`common.errors.error_for_status`: a
  RefusedError (400, 403, 404, 422, other 4xx) or an OperationalError (401, a redirect).
- ``submit_order`` never blindly resends: after an uncertain outcome it asks the
  broker by ``client_order_id`` and resends (same id) only if the order never arrived.

One client per thread: it keeps a ``requests.Session`` (a connection pool).

Neither logs nor error messages ever contain the keys.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from common.bars import Bar, BarError
from common.calendar import rfc3339_utc, to_ms
from common.env import AlpacaEndpoints
from common.errors import (
    AlpacaAPIError,
    DuplicateClientOrderIdError,
    NetworkError,
    NotFoundError,
    RateLimitError,
    ResponseFormatError,
    TemporaryError,
    TraderError,
    UnprocessableError,
    error_for_status,
)
from common.logs import Redactor
from common.rest_models import (
    ORDER_SIDES,
    TIMES_IN_FORCE,
    Account,
    BrokerClock,
    Order,
    Position,
    auth_headers,
    bar_from_alpaca,
)
from common.retry import Backoff, rate_limit_wait

log = logging.getLogger(__name__)

NETWORK_ERRORS = (
    requests.Timeout,
    requests.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
)
ORDER_TYPES = ("market", "limit")
"""The order types this client sends."""
ORDER_STATUS_FILTERS = ("open", "closed", "all")
MAX_CLIENT_ORDER_ID = 48
MAX_BAR_PAGES = 100_000
_NO_RECOVERY = object()


def _decimal_text(x: float, name: str) -> str:
    """A positive finite number as Alpaca's decimal string, without exponent."""
    if isinstance(x, bool) or not isinstance(x, int | float) or not math.isfinite(x) or x <= 0:
        raise ValueError(f"{name}={x!r} must be a positive finite number")
    return f"{float(x):.9f}".rstrip("0").rstrip(".")


def _instant_text(value: datetime | str, name: str) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, datetime):
        raise ValueError(f"{name}={value!r} must be an aware datetime or an RFC 3339 string")
    if value.tzinfo is None:
        raise ValueError(f"{name}={value!r} is naive: give it a time zone")
    return rfc3339_utc(to_ms(value))


def _retryable(err: TraderError) -> bool:
    """No answer, 429 or 5xx: the temporary errors of one attempt."""
    return isinstance(err, TemporaryError)


def _reason(err: TraderError) -> str:
    """What went wrong, for a log line: 'HTTP 503' or the network exception's class."""
    if isinstance(err, AlpacaAPIError):
        return f"HTTP {err.status}"
    return type(err.__cause__ or err).__name__


class AlpacaRestClient:
    """Trading (``endpoints.trading_url``) and market data (``endpoints.data_url``) over REST."""

    def __init__(
        self,
        endpoints: AlpacaEndpoints,
        *,
        timeout: float = 10.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
        session: requests.Session | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout={timeout!r} must be a positive number of seconds")
        if not (isinstance(max_retries, int) and max_retries >= 0):
            raise ValueError(f"max_retries={max_retries!r} must be a whole number >= 0")
        self.endpoints = endpoints
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self._backoff = Backoff(backoff_base, backoff_cap, rng or random.Random())
        self._sleep = sleep
        self._now = now
        self._owns_session = session is None
        self._session = session or requests.Session()
        self._headers = {**auth_headers(endpoints.key_id, endpoints.secret), "Accept": "application/json"}
        self._scrub = Redactor(endpoints.secrets())

    def __repr__(self) -> str:
        return f"AlpacaRestClient({self.endpoints!r})"

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> AlpacaRestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing
    def _send(
        self, method: str, base: str, path: str, params: Mapping[str, Any] | None, body: Any
    ) -> requests.Response:
        return self._session.request(
            method,
            base + path,
            params=params,
            json=body,
            headers=self._headers,
            timeout=self.timeout,
            allow_redirects=False,
        )

    def _network_error(self, exc: Exception, method: str, path: str) -> NetworkError:
        err = NetworkError(self._scrub(f"{method} {path}: no answer ({type(exc).__name__}: {exc})"))
        err.__cause__ = exc
        return err

    def _api_error(self, resp: requests.Response, method: str, path: str) -> AlpacaAPIError:
        code: int | None = None
        try:
            data = resp.json()
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
            data = None
        if isinstance(data, dict) and ("message" in data or "code" in data):
            message = str(data.get("message", ""))
            raw_code = data.get("code")
            try:
                code = None if raw_code is None or isinstance(raw_code, bool) else int(raw_code)
            except (TypeError, ValueError):
                code = None
        else:
            kind = resp.headers.get("Content-Type", "no content type")
            snippet = resp.text[:200].strip() if resp.content else ""
            message = f"{resp.reason or 'error'} (not an Alpaca error object; {kind}: {snippet!r})"
        return error_for_status(
            resp.status_code, code, self._scrub(message), method=method, path=path
        )

    def _decode(self, resp: requests.Response, method: str, path: str) -> Any:
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
            snippet = self._scrub(resp.text[:200])
            raise ResponseFormatError(
                f"{method} {path}: HTTP {resp.status_code} answer is not JSON: {snippet!r}"
            ) from None

    def _attempt(
        self, method: str, base: str, path: str, params: Mapping[str, Any] | None, body: Any
    ) -> tuple[Any, TraderError | None, float]:
        """One request: (decoded answer, None, 0) on success, else (None, error, wait), where
        wait is the rate-limit reset wait of a 429, or -1 (use backoff)."""
        try:
            resp = self._send(method, base, path, params, body)
        except NETWORK_ERRORS as e:
            return None, self._network_error(e, method, path), -1.0
        if resp.status_code < 300:
            return self._decode(resp, method, path), None, 0.0
        err = self._api_error(resp, method, path)
        wait = rate_limit_wait(resp.headers, self._now) if resp.status_code == 429 else None
        return None, err, -1.0 if wait is None else wait

    def _log_retry(
        self, method: str, path: str, err: TraderError, attempt: int, wait: float
    ) -> None:
        log.warning(
            "%s %s: %s; retry %d/%d in %.2f s",
            method,
            path,
            _reason(err),
            attempt + 1,
            self.max_retries,
            wait,
        )

    def _request(
        self,
        method: str,
        base: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        recover: Callable[[AlpacaAPIError], Any] | None = None,
    ) -> Any:
        """Send with retries; return the decoded JSON answer (None for an empty one).

        ``recover`` is consulted for a non-retryable error that follows an uncertain
        attempt (timeout, dropped connection, 5xx): the earlier attempt may have taken
        effect. It returns the value to use, or ``_NO_RECOVERY`` to raise.
        """
        uncertain = False
        attempt = 0
        while True:
            data, err, wait = self._attempt(method, base, path, params, body)
            if err is None:
                return data
            if not _retryable(err):
                if uncertain and recover is not None and isinstance(err, AlpacaAPIError):
                    value = recover(err)
                    if value is not _NO_RECOVERY:
                        return value
                raise err
            uncertain = uncertain or not isinstance(err, RateLimitError)
            if attempt >= self.max_retries:
                raise err
            if wait < 0:
                wait = self._backoff.delay(attempt)
            self._log_retry(method, path, err, attempt, wait)
            self._sleep(wait)
            attempt += 1

    def _trading(self, method: str, path: str, **kw: Any) -> Any:
        return self._request(method, self.endpoints.trading_url, path, **kw)

    def _data(self, path: str, params: Mapping[str, Any]) -> Any:
        return self._request("GET", self.endpoints.data_url, path, params=params)

    @staticmethod
    def _list(data: Any, what: str) -> list:
        if not isinstance(data, list):
            raise ResponseFormatError(f"{what}: expected a JSON array, got {type(data).__name__}")
        return data

    @staticmethod
    def _dict(data: Any, what: str) -> dict:
        if not isinstance(data, dict):
            raise ResponseFormatError(f"{what}: expected a JSON object, got {type(data).__name__}")
        return data

    # ------------------------------------------------------------------ trading
    def get_account(self) -> Account:
        return Account.from_json(self._dict(self._trading("GET", "/v2/account"), "GET /v2/account"))

    def get_clock(self) -> BrokerClock:
        return BrokerClock.from_json(self._dict(self._trading("GET", "/v2/clock"), "GET /v2/clock"))

    def get_positions(self) -> list[Position]:
        data = self._list(self._trading("GET", "/v2/positions"), "GET /v2/positions")
        return [Position.from_json(p) for p in data]

    def list_orders(
        self,
        status: str = "open",
        limit: int = 500,
        symbols: Sequence[str] | None = None,
        after: datetime | str | None = None,
        until: datetime | str | None = None,
        direction: str = "desc",
    ) -> list[Order]:
        if status not in ORDER_STATUS_FILTERS:
            raise ValueError(f"status={status!r} must be one of {', '.join(ORDER_STATUS_FILTERS)}")
        if not (isinstance(limit, int) and 1 <= limit <= 500):
            raise ValueError(f"limit={limit!r} must be a whole number in 1..500")
        if direction not in ("asc", "desc"):
            raise ValueError(f"direction={direction!r} must be 'asc' or 'desc'")
        params: dict[str, Any] = {"status": status, "limit": limit, "direction": direction}
        if symbols:
            params["symbols"] = ",".join(symbols)
        if after is not None:
            params["after"] = _instant_text(after, "after")
        if until is not None:
            params["until"] = _instant_text(until, "until")
        data = self._list(self._trading("GET", "/v2/orders", params=params), "GET /v2/orders")
        return [Order.from_json(o) for o in data]

    def get_order(self, order_id: str) -> Order:
        path = f"/v2/orders/{quote(order_id, safe='')}"
        return Order.from_json(self._dict(self._trading("GET", path), f"GET {path}"))

    def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        """The order with this ``client_order_id``, or None if the broker has none (404)."""
        path = "/v2/orders:by_client_order_id"
        try:
            data = self._trading("GET", path, params={"client_order_id": client_order_id})
        except NotFoundError:
            return None
        return Order.from_json(self._dict(data, f"GET {path}"))

    def submit_order(
        self,
        *,
        symbol: str,
        qty: float,
        side: str,
        type: str = "market",
        time_in_force: str = "day",
        client_order_id: str,
        limit_price: float | None = None,
        extended_hours: bool = False,
    ) -> Order:
        """Submit an order; safe to call again with the same ``client_order_id``.

        After a timeout, a dropped connection, a 5xx or a 429 the broker is asked for
        the order by ``client_order_id``; it is returned if it exists, and the same
        request is resent only if the broker has never seen it. A 422 duplicate
        returns the order that already has this id (DuplicateClientOrderIdError if
        that order is for another symbol or side). A TemporaryError out of here means
        the outcome is still unknown: ask by ``client_order_id`` before deciding again.
        """
        body = self._order_body(
            symbol, qty, side, type, time_in_force, client_order_id, limit_price, extended_hours
        )
        method, path = "POST", "/v2/orders"
        attempt = 0
        resend = True  # False once the broker said the id exists: then only look it up
        while True:
            if resend:
                data, err, wait = self._attempt(
                    method, self.endpoints.trading_url, path, None, body
                )
                if err is None:
                    return Order.from_json(self._dict(data, f"{method} {path}"))
                if isinstance(err, DuplicateClientOrderIdError):
                    resend, wait = False, 0.0  # it exists: fetch it at once
                elif not _retryable(err):
                    raise err
                last_err: TraderError = err
            else:
                wait = -1.0
            if wait < 0:
                wait = self._backoff.delay(attempt)
            if wait > 0:
                log.warning(
                    "%s %s client_order_id=%s: %s; asking the broker for it in %.2f s",
                    method,
                    path,
                    client_order_id,
                    _reason(last_err),
                    wait,
                )
                self._sleep(wait)
            existing = self.get_order_by_client_id(client_order_id)
            if existing is not None:
                if attempt or wait:
                    log.info(
                        "order %s found by client_order_id: %s", client_order_id, existing.status
                    )
                return self._same_order(existing, body)
            if attempt >= self.max_retries:
                raise last_err
            attempt += 1
            if resend:
                log.warning(
                    "order %s never reached the broker; sending it again (%d/%d)",
                    client_order_id,
                    attempt,
                    self.max_retries,
                )

    @staticmethod
    def _order_body(
        symbol: str,
        qty: float,
        side: str,
        type_: str,
        time_in_force: str,
        client_order_id: str,
        limit_price: float | None,
        extended_hours: bool,
    ) -> dict[str, Any]:
        if not (isinstance(symbol, str) and symbol.strip()):
            raise ValueError(f"symbol={symbol!r} must be a non-empty string")
        if side not in ORDER_SIDES:
            raise ValueError(f"side={side!r} must be 'buy' or 'sell'")
        if type_ not in ORDER_TYPES:
            raise ValueError(f"type={type_!r} must be one of {', '.join(ORDER_TYPES)}")
        if time_in_force not in TIMES_IN_FORCE:
            raise ValueError(
                f"time_in_force={time_in_force!r} must be one of {', '.join(TIMES_IN_FORCE)}"
            )
        if not (
            isinstance(client_order_id, str) and 0 < len(client_order_id) <= MAX_CLIENT_ORDER_ID
        ):
            raise ValueError(
                f"client_order_id={client_order_id!r} must be 1..{MAX_CLIENT_ORDER_ID} characters"
            )
        body: dict[str, Any] = {
            "symbol": symbol,
            "qty": _decimal_text(qty, "qty"),
            "side": side,
            "type": type_,
            "time_in_force": time_in_force,
            "client_order_id": client_order_id,
            "extended_hours": bool(extended_hours),
        }
        if type_ == "limit":
            if limit_price is None:
                raise ValueError("a limit order needs limit_price")
            body["limit_price"] = _decimal_text(limit_price, "limit_price")
        elif limit_price is not None:
            raise ValueError(f"limit_price is only for limit orders, not type={type_!r}")
        return body

    @staticmethod
    def _same_order(existing: Order, body: Mapping[str, Any]) -> Order:
        """The order found by client_order_id, if it is the one we meant to send."""
        if existing.symbol != body["symbol"] or existing.side != body["side"]:
            raise DuplicateClientOrderIdError(
                422,
                None,
                f"client_order_id {body['client_order_id']!r} already belongs to a {existing.side} order "
                f"for {existing.symbol}, not {body['side']} {body['symbol']}",
                method="POST",
                path="/v2/orders",
            )
        return existing

    def cancel_order(self, order_id: str) -> None:
        """Cancel an open order. A 422 (not open any more) raises UnprocessableError,
        unless an earlier attempt of this very call may have canceled it already."""
        path = f"/v2/orders/{quote(order_id, safe='')}"

        def recover(err: AlpacaAPIError) -> Any:
            if isinstance(err, UnprocessableError):
                order = self.get_order(order_id)
                if order.status in ("canceled", "pending_cancel"):
                    return None
            return _NO_RECOVERY

        self._trading("DELETE", path, recover=recover)

    # ------------------------------------------------------------------ market data
    def get_bars(
        self,
        symbols: Sequence[str],
        start: datetime,
        end: datetime,
        *,
        feed: str = "iex",
        limit: int = 10000,
        timeframe: str = "1Min",
    ) -> dict[str, list[Bar]]:
        """Bars of every symbol in [start, end], all pages, each list sorted by time.

        Every requested symbol is a key (an empty list when it has no bar). Bars that
        fail :meth:`Bar.validate` are dropped with a warning.
        """
        syms = list(dict.fromkeys(symbols))
        if isinstance(symbols, str) or not all(isinstance(s, str) and s for s in syms):
            raise ValueError(f"symbols={symbols!r} must be a sequence of non-empty strings")
        if not (isinstance(limit, int) and 1 <= limit <= 10000):
            raise ValueError(f"limit={limit!r} must be a whole number in 1..10000")
        params: dict[str, Any] = {
            "symbols": ",".join(syms),
            "timeframe": timeframe,
            "start": _instant_text(start, "start"),
            "end": _instant_text(end, "end"),
            "limit": limit,
            "feed": feed,
            "adjustment": "raw",
            "sort": "asc",
        }
        if isinstance(start, datetime) and isinstance(end, datetime) and start > end:
            raise ValueError(f"start {start} is after end {end}")
        if not syms:
            return {}
        merged: dict[str, dict[int, Bar]] = {s: {} for s in syms}
        seen_tokens: set[str] = set()
        for _ in range(MAX_BAR_PAGES):
            page = self._dict(self._data("/v2/stocks/bars", params), "GET /v2/stocks/bars")
            bars = page.get("bars")
            if bars is None:
                bars = {}
            if not isinstance(bars, dict):
                raise ResponseFormatError(
                    f"GET /v2/stocks/bars: 'bars' is {type(bars).__name__}, expected an object"
                )
            for sym, items in bars.items():
                for b in self._list(items, f"GET /v2/stocks/bars: bars of {sym}"):
                    bar = self._valid_bar(sym, b)
                    if bar is not None:
                        merged.setdefault(sym, {})[bar.t] = bar
            token = page.get("next_page_token")
            if not token:
                break
            if not isinstance(token, str):
                raise ResponseFormatError(
                    f"GET /v2/stocks/bars: next_page_token {token!r} is not a string"
                )
            if token in seen_tokens:
                raise ResponseFormatError(f"GET /v2/stocks/bars: next_page_token {token!r} repeats")
            seen_tokens.add(token)
            params["page_token"] = token
        else:
            raise ResponseFormatError(f"GET /v2/stocks/bars: more than {MAX_BAR_PAGES} pages")
        return {s: [by_t[t] for t in sorted(by_t)] for s, by_t in merged.items()}

    def get_latest_bars(self, symbols: Sequence[str], *, feed: str = "iex") -> dict[str, Bar]:
        """The latest bar of each symbol that has one."""
        syms = list(dict.fromkeys(symbols))
        if isinstance(symbols, str) or not all(isinstance(s, str) and s for s in syms):
            raise ValueError(f"symbols={symbols!r} must be a sequence of non-empty strings")
        if not syms:
            return {}
        page = self._dict(
            self._data("/v2/stocks/bars/latest", {"symbols": ",".join(syms), "feed": feed}),
            "GET /v2/stocks/bars/latest",
        )
        bars = page.get("bars") or {}
        if not isinstance(bars, dict):
            raise ResponseFormatError(
                f"GET /v2/stocks/bars/latest: 'bars' is {type(bars).__name__}, expected an object"
            )
        out: dict[str, Bar] = {}
        for sym, b in bars.items():
            bar = self._valid_bar(sym, b)
            if bar is not None:
                out[sym] = bar
        return out

    @staticmethod
    def _valid_bar(symbol: str, obj: Any) -> Bar | None:
        bar = bar_from_alpaca(symbol, obj)
        try:
            return bar.validate()
        except BarError as e:
            log.warning("dropping an invalid bar from the broker: %s", e)
            return None

"""Market-data REST: historical and latest minute bars (alpaca-protocol.md §4).

Routes: ``GET /v2/stocks/bars`` (multi-symbol, what alpaca-py uses),
``GET /v2/stocks/{symbol}/bars``, ``GET /v2/stocks/bars/latest`` and
``GET /v2/stocks/{symbol}/bars/latest``. Only 1-minute bars. A bar is visible once
its minute has closed on the simulated clock (``t + 60 s <= now``). Pages hold at
most ``limit`` bars counted across symbols, sorted by symbol then time; a page may
split a symbol; the last page has ``"next_page_token": null``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from aiohttp import web

from common.bars import MINUTE_MS
from common.calendar import NY, from_ms, parse_rfc3339, to_ms
from mockmarket.context import CTX
from mockmarket.http_errors import alpaca_error, json_response
from mockmarket.store import MarketStore
from mockmarket.wire import rest_bar, rest_bar_text

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
TIMEFRAMES = frozenset({"1min", "1t"})
FEEDS = frozenset({"iex", "sip", "otc", "boats", "delayed_sip"})
ADJUSTMENTS = frozenset({"raw", "split", "dividend", "spin-off", "all"})
QUERY_SYMBOL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./-]{0,20}$")
"""What the data API accepts as a symbol in a query: deliberately wider than
``common.symbols.SYMBOL_RE`` (what this system trades); a well-formed unknown symbol gets no bars."""
MAX_SYMBOLS = 500


class QueryError(ValueError):
    """A query parameter the market cannot accept; becomes an Alpaca-shaped error answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class BarsQuery:
    symbols: tuple[str, ...]
    start_ms: int
    end_ms: int
    limit: int
    descending: bool
    cursor: tuple[str, int] | None


# -- query parsing ---------------------------------------------------------------------------


def parse_symbols(text: str | None) -> tuple[str, ...]:
    """Comma-separated symbols, deduplicated and sorted."""
    if text is None or not text.strip():
        raise QueryError(400, "symbols is required (comma-separated, e.g. symbols=SPY,TQQQ)")
    out = set()
    for raw in text.split(","):
        s = raw.strip()
        if not s:
            continue
        if not QUERY_SYMBOL_RE.match(s):
            raise QueryError(400, f"invalid symbol: {s[:40]!r}")
        out.add(s)
    if not out:
        raise QueryError(400, "symbols is required (comma-separated, e.g. symbols=SPY,TQQQ)")
    if len(out) > MAX_SYMBOLS:
        raise QueryError(400, f"too many symbols: {len(out)} (at most {MAX_SYMBOLS})")
    return tuple(sorted(out))


def parse_symbol(text: str) -> str:
    if not QUERY_SYMBOL_RE.match(text):
        raise QueryError(400, f"invalid symbol: {text[:40]!r}")
    return text


def parse_instant(text: str, name: str, *, end: bool) -> int:
    """RFC 3339 or YYYY-MM-DD to Unix ms; a date alone as ``end`` means the end of that day."""
    s = text.strip()
    try:
        if len(s) == 10 and end:
            day = datetime.strptime(s, "%Y-%m-%d").date()
            return to_ms(datetime.combine(day + timedelta(days=1), time(0), tzinfo=NY)) - 1
        return to_ms(parse_rfc3339(s))
    except (ValueError, OverflowError, OSError):
        raise QueryError(
            400,
            f"invalid {name}: {text[:60]!r} "
            "(expected RFC 3339, e.g. 2024-01-02T14:30:00Z, or YYYY-MM-DD)",
        ) from None


def parse_limit(text: str | None) -> int:
    if text is None or text == "":
        return DEFAULT_LIMIT
    try:
        n = int(text)
    except ValueError:
        raise QueryError(422, f"invalid limit: {text[:40]!r} (an integer 1..{MAX_LIMIT})") from None
    if not 1 <= n <= MAX_LIMIT:
        raise QueryError(422, f"invalid limit: {n} (must be 1..{MAX_LIMIT})")
    return n


def check_timeframe(text: str | None) -> None:
    if text is None or text == "":
        raise QueryError(400, "timeframe is required (mockmarket serves 1Min bars)")
    if text.strip().lower() not in TIMEFRAMES:
        raise QueryError(
            422, f"unsupported timeframe: {text[:40]!r} (mockmarket serves 1Min bars only)"
        )


def check_choice(query: Mapping[str, str], name: str, allowed: frozenset[str]) -> str | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    if value.lower() not in allowed:
        raise QueryError(
            400, f"invalid {name}: {value[:40]!r} (one of {', '.join(sorted(allowed))})"
        )
    return value.lower()


def encode_token(symbol: str, t_ms: int) -> str:
    return base64.urlsafe_b64encode(f"{symbol}|{t_ms}".encode()).decode().rstrip("=")


def decode_token(token: str) -> tuple[str, int]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        symbol, t_text = raw.split("|")
        t = int(t_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise QueryError(400, f"invalid page_token: {token[:60]!r}") from None
    if not QUERY_SYMBOL_RE.match(symbol):
        raise QueryError(400, f"invalid page_token: {token[:60]!r}")
    return symbol, t


def parse_bars_query(query: Mapping[str, str], symbols: tuple[str, ...], now_ms: int) -> BarsQuery:
    check_timeframe(query.get("timeframe"))
    check_choice(query, "feed", FEEDS)
    check_choice(query, "adjustment", ADJUSTMENTS)
    sort = check_choice(query, "sort", frozenset({"asc", "desc"}))
    limit = parse_limit(query.get("limit"))
    start_text = query.get("start")
    end_text = query.get("end")
    if start_text:
        start = parse_instant(start_text, "start", end=False)
    else:
        start = to_ms(datetime.combine(from_ms(now_ms).date(), time(0), tzinfo=NY))
    end = parse_instant(end_text, "end", end=True) if end_text else now_ms
    cursor = None
    token = query.get("page_token")
    if token:
        cursor = decode_token(token)
        if cursor[0] not in symbols:
            raise QueryError(400, f"invalid page_token: {token[:60]!r} (not from this query)")
    return BarsQuery(symbols, start, end, limit, sort == "desc", cursor)


# -- paging ----------------------------------------------------------------------------------


class BarPager:
    """Cuts the store's bars into pages, with each bar's JSON text made once and cached."""

    def __init__(self, store: MarketStore) -> None:
        self.store = store
        self._text: dict[str, list[str | None]] = {
            s: [None] * len(store.bars(s)) for s in store.symbols
        }

    def _texts(self, symbol: str, lo: int, hi: int, descending: bool) -> list[str]:
        cache = self._text[symbol]
        bars = self.store.bars(symbol)
        out = []
        indexes = range(hi - 1, lo - 1, -1) if descending else range(lo, hi)
        for i in indexes:
            text = cache[i]
            if text is None:
                text = cache[i] = rest_bar_text(bars[i])
            out.append(text)
        return out

    def page(self, q: BarsQuery, now_ms: int) -> tuple[list[tuple[str, list[str]]], str | None]:
        """([(symbol, [bar JSON texts])...], next_page_token) for ``q`` at sim time ``now_ms``."""
        visible_end = min(q.end_ms, now_ms - MINUTE_MS)
        symbols = q.symbols
        first = 0
        if q.cursor is not None:
            first = symbols.index(q.cursor[0])
        remaining = q.limit
        out: list[tuple[str, list[str]]] = []
        for k in range(first, len(symbols)):
            symbol = symbols[k]
            if not self.store.has_symbol(symbol):
                continue
            start, end = q.start_ms, visible_end
            if k == first and q.cursor is not None:
                if q.descending:
                    end = min(end, q.cursor[1])
                else:
                    start = max(start, q.cursor[1])
            lo, hi = self.store.index_range(symbol, start, end)
            if lo >= hi:
                continue
            bars = self.store.bars(symbol)
            if remaining == 0:
                return out, encode_token(symbol, bars[hi - 1 if q.descending else lo].t)
            take = min(remaining, hi - lo)
            if q.descending:
                out.append((symbol, self._texts(symbol, hi - take, hi, True)))
                if take < hi - lo:
                    return out, encode_token(symbol, bars[hi - take - 1].t)
            else:
                out.append((symbol, self._texts(symbol, lo, lo + take, False)))
                if take < hi - lo:
                    return out, encode_token(symbol, bars[lo + take].t)
            remaining -= take
        return out, None


def _raw_json(text: str, status: int = 200) -> web.Response:
    return web.Response(status=status, text=text, content_type="application/json")


def _error(e: QueryError) -> web.Response:
    return alpaca_error(e.status, e.message)


# -- handlers --------------------------------------------------------------------------------

PAGER = web.AppKey("mockmarket_bar_pager", BarPager)


async def multi_bars(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    now = ctx.clock.now_ms()
    try:
        q = parse_bars_query(request.query, parse_symbols(request.query.get("symbols")), now)
    except QueryError as e:
        return _error(e)
    pages, token = request.app[PAGER].page(q, now)
    body = ",".join(f"{json.dumps(s)}:[{','.join(texts)}]" for s, texts in pages)
    return _raw_json(f'{{"bars":{{{body}}},"next_page_token":{json.dumps(token)}}}')


async def symbol_bars(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    now = ctx.clock.now_ms()
    try:
        symbol = parse_symbol(request.match_info["symbol"])
        q = parse_bars_query(request.query, (symbol,), now)
    except QueryError as e:
        return _error(e)
    pages, token = request.app[PAGER].page(q, now)
    texts = pages[0][1] if pages else []
    return _raw_json(
        f'{{"bars":[{",".join(texts)}],"symbol":{json.dumps(symbol)},"next_page_token":{json.dumps(token)}}}'
    )


def _latest(store: MarketStore, symbol: str, now_ms: int) -> dict | None:
    bar = store.last_bar_before(symbol, now_ms - MINUTE_MS + 1)
    return None if bar is None else rest_bar(bar)


async def multi_latest(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    now = ctx.clock.now_ms()
    try:
        symbols = parse_symbols(request.query.get("symbols"))
        check_choice(request.query, "feed", FEEDS)
    except QueryError as e:
        return _error(e)
    bars = {}
    for s in symbols:
        bar = _latest(ctx.store, s, now)
        if bar is not None:
            bars[s] = bar
    return json_response({"bars": bars})


async def symbol_latest(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    now = ctx.clock.now_ms()
    try:
        symbol = parse_symbol(request.match_info["symbol"])
        check_choice(request.query, "feed", FEEDS)
    except QueryError as e:
        return _error(e)
    bar = _latest(ctx.store, symbol, now)
    if bar is None:
        return alpaca_error(404, f"no bar found for {symbol}")
    return json_response({"symbol": symbol, "bar": bar})


def add_data_routes(app: web.Application, store: MarketStore) -> None:
    app[PAGER] = BarPager(store)
    app.router.add_get("/v2/stocks/bars", multi_bars)
    app.router.add_get("/v2/stocks/bars/latest", multi_latest)
    app.router.add_get("/v2/stocks/{symbol}/bars", symbol_bars)
    app.router.add_get("/v2/stocks/{symbol}/bars/latest", symbol_latest)

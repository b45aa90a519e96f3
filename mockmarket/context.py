"""The objects one mockmarket server shares between its routes, streams and minute loop."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from aiohttp import web

from common.calendar import TradingCalendar
from mockmarket.clock import SimClock
from mockmarket.corrections import CorrectionPolicy
from mockmarket.counters import Counters
from mockmarket.faults import Faults
from mockmarket.store import MarketStore

if TYPE_CHECKING:
    from mockmarket.broker import PaperBroker
    from mockmarket.data_stream import DataStreamHub


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def keys_equal(key: object, secret: object, expected_key: str, expected_secret: str) -> bool:
    """True if ``key``/``secret`` are strings equal to the expected ones (constant-time compare)."""
    if not isinstance(key, str) or not isinstance(secret, str):
        return False
    ok_key = hmac.compare_digest(_utf8(key), _utf8(expected_key))
    ok_secret = hmac.compare_digest(_utf8(secret), _utf8(expected_secret))
    return ok_key and ok_secret


@dataclass
class MarketContext:
    """One of each per server; stored on the aiohttp app under :data:`CTX`."""

    clock: SimClock
    store: MarketStore
    faults: Faults
    counters: Counters
    calendar: TradingCalendar
    key: str = field(repr=False)
    secret: str = field(repr=False)
    broker: PaperBroker
    stream: DataStreamHub
    corrections: CorrectionPolicy

    def keys_match(self, key: object, secret: object) -> bool:
        """True if ``key``/``secret`` are this market's keys (constant-time compare)."""
        return keys_equal(key, secret, self.key, self.secret)


CTX = web.AppKey("mockmarket_context", MarketContext)
"""``app[CTX]``: the server's :class:`MarketContext`."""

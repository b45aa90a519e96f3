"""A bar in Alpaca's wire forms: REST JSON, websocket JSON and websocket msgpack.

The CSV has no trade count or VWAP, but Alpaca's bars always carry ``n`` and
``vw``; :func:`derived_n_vw` makes them up deterministically, and every form
goes through it, so REST and the websocket always agree on a bar.
"""

from __future__ import annotations

import json

import msgpack

from common.bars import Bar
from common.calendar import rfc3339_utc

TRADE_SIZE = 100
"""Shares per trade assumed when deriving ``n`` from the volume."""


def volume_value(volume: float) -> int | float:
    """Alpaca sends volume as an integer; keep a fractional CSV volume as it is."""
    return int(volume) if float(volume).is_integer() else float(volume)


def derived_n_vw(bar: Bar) -> tuple[int, float]:
    """(trade count, VWAP) of a bar: its own if it has them, else derived from the CSV fields.

    ``n`` is the volume over :data:`TRADE_SIZE` (at least 1 when anything traded);
    ``vw`` is the typical price (h+l+c)/3 rounded to 4 decimals, kept within [low, high].
    """
    if bar.trade_count is not None:
        n = int(bar.trade_count)
    else:
        n = 0 if bar.volume <= 0 else max(1, int(bar.volume // TRADE_SIZE))
    if bar.vwap is not None:
        vw = float(bar.vwap)
    else:
        vw = min(max(round((bar.high + bar.low + bar.close) / 3, 4), bar.low), bar.high)
    return n, vw


def rest_bar(bar: Bar) -> dict:
    """The REST form: ``{"t": "...Z", "o", "h", "l", "c", "v", "n", "vw"}``."""
    n, vw = derived_n_vw(bar)
    return {
        "t": rfc3339_utc(bar.t),
        "o": bar.open,
        "h": bar.high,
        "l": bar.low,
        "c": bar.close,
        "v": volume_value(bar.volume),
        "n": n,
        "vw": vw,
    }


def rest_bar_text(bar: Bar) -> str:
    """:func:`rest_bar` serialized as compact JSON (formatted directly: REST paging's hot path)."""
    n, vw = derived_n_vw(bar)
    t = rfc3339_utc(bar.t)
    v = volume_value(bar.volume)
    return (
        f'{{"t":"{t}","o":{float(bar.open)!r},"h":{float(bar.high)!r},"l":{float(bar.low)!r},'
        f'"c":{float(bar.close)!r},"v":{v!r},"n":{n},"vw":{float(vw)!r}}}'
    )


def stream_bar(bar: Bar, kind: str = "b") -> dict:
    """The websocket JSON form: ``{"T": kind, "S", "o", "h", "l", "c", "v", "t", "n", "vw"}``."""
    n, vw = derived_n_vw(bar)
    return {
        "T": kind,
        "S": bar.symbol,
        "o": bar.open,
        "h": bar.high,
        "l": bar.low,
        "c": bar.close,
        "v": volume_value(bar.volume),
        "t": rfc3339_utc(bar.t),
        "n": n,
        "vw": vw,
    }


def stream_bar_text(bar: Bar, kind: str = "b") -> str:
    return json.dumps(stream_bar(bar, kind), separators=(",", ":"))


def stream_bar_msgpack(bar: Bar, kind: str = "b") -> bytes:
    """The websocket msgpack form (alpaca-py): :func:`stream_bar` with ``t`` a msgpack Timestamp."""
    obj = stream_bar(bar, kind)
    obj["t"] = msgpack.Timestamp.from_unix_nano(bar.t * 1_000_000)
    return msgpack.packb(obj)


def json_array(items: list[str]) -> str:
    """A JSON array of already-serialized items."""
    return "[" + ",".join(items) + "]"


_PACKER = msgpack.Packer()


def msgpack_array(items: list[bytes]) -> bytes:
    """A msgpack array of already-packed items."""
    return _PACKER.pack_array_header(len(items)) + b"".join(items)

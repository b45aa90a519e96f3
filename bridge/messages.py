"""Parsing the market-data websocket's JSON frames (alpaca-protocol.md §5).

A frame is a JSON array of messages, each an object with a ``T`` tag. Bars
(``T:"b"``) and updated bars (``T:"u"``) become :class:`StreamBar`; control
messages become :class:`Control`. A malformed message is reported as
:class:`Malformed` (with the reason) so one bad bar never costs the others.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from common.bars import Bar
from common.calendar import parse_rfc3339, to_ms


@dataclass(frozen=True, slots=True)
class StreamBar:
    """A bar from the stream; ``updated`` for an ``updatedBars`` correction."""

    bar: Bar
    updated: bool = False


@dataclass(frozen=True, slots=True)
class Control:
    """``success``, ``error``, ``subscription`` or another non-data message."""

    kind: str
    code: int | None = None
    msg: str = ""
    raw: dict | None = None


@dataclass(frozen=True, slots=True)
class Malformed:
    """A message that could not be understood, and why."""

    reason: str


Message = StreamBar | Control | Malformed

@lru_cache(maxsize=1024)
def parse_time_ms(text: str) -> int:
    """Unix ms of an RFC 3339 instant as the stream sends it (``2022-04-11T13:30:00Z``).

    An instant without an offset is refused; digits past microseconds (Alpaca may send
    nanoseconds) are cut. Cached: every bar of a minute carries the same time.
    """
    return to_ms(parse_rfc3339(text, offset_required=True))


def _num(m: dict, key: str) -> float:
    v = m[key]
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise TypeError(f"{key}={v!r} is not a number")
    return float(v)


def parse_bar(m: dict) -> Bar:
    """A stream bar message as a validated :class:`Bar`; raises ValueError/KeyError/TypeError."""
    sym = m["S"]
    if not isinstance(sym, str) or not sym:
        raise TypeError(f"S={sym!r} is not a symbol")
    t = m["t"]
    if not isinstance(t, str):
        raise TypeError(f"t={t!r} is not an RFC 3339 string")
    n = m.get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int)):
        raise TypeError(f"n={n!r} is not an integer")
    vw = m.get("vw")
    return Bar(
        symbol=sym,
        t=parse_time_ms(t),
        open=_num(m, "o"),
        high=_num(m, "h"),
        low=_num(m, "l"),
        close=_num(m, "c"),
        volume=_num(m, "v"),
        vwap=None if vw is None else _num(m, "vw"),
        trade_count=n,
    ).validate()


def parse_message(m: object) -> Message:
    if not isinstance(m, dict):
        return Malformed(f"message is not an object: {m!r:.80}")
    tag = m.get("T")
    if tag in ("b", "u"):
        try:
            return StreamBar(parse_bar(m), updated=tag == "u")
        except (KeyError, TypeError, ValueError) as e:  # BarError is a ValueError
            what = f"missing {e}" if isinstance(e, KeyError) else str(e)
            return Malformed(f"bar {m.get('S')!r} t={m.get('t')!r}: {what}")
    if not isinstance(tag, str):
        return Malformed(f"message without a T tag: {m!r:.80}")
    code = m.get("code")
    return Control(
        kind=tag,
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        msg=str(m.get("msg", "")),
        raw=m,
    )


def parse_frame(frame: str | bytes) -> list[Message]:
    """All messages of one frame (a JSON array, or a lone object)."""
    try:
        data = json.loads(frame)
    except (ValueError, RecursionError) as e:
        return [Malformed(f"frame is not JSON: {e}")]
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return [Malformed(f"frame is a JSON {type(data).__name__}, not an array")]
    return [parse_message(m) for m in data]


__all__ = ["Control", "Malformed", "Message", "StreamBar", "parse_bar", "parse_frame", "parse_message", "parse_time_ms"]

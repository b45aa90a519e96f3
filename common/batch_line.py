"""The FIFO line protocol between the bridge and the engine (design.md §3): the wire codec.

One UTF-8 JSON object per line, every line (newline included) at most
:data:`MAX_LINE_BYTES` bytes so that a single ``write`` to a pipe is atomic:

- a minute batch ``{"type":"bars","t":<minute start, Unix ms>,"bars":[{...}, ...]}``
  where each bar is ``{"symbol","open","high","low","close","volume","vwap","trade_count","filled"}``;
- a heartbeat ``{"type":"heartbeat","ts":<Unix ms>,"connected":<bool>,"last_t":<ms|null>}``.

:func:`encode_minute` writes a :class:`~common.minute.Minute`; its bars were validated
where they entered the bridge, so only the line's shape is checked here.
:func:`decode_line` is the engine's process boundary: it parses and validates every
field once (each bar through :meth:`common.bars.Bar.validate`) and raises
:class:`LineError` (naming what was wrong) on a line it cannot accept; what it returns
is trusted downstream. A well-formed object of an unknown ``type`` decodes to ``None``
so that readers can ignore it, as the protocol requires.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from common.bars import MINUTE_MS, Bar, BarError
from common.minute import Minute

MAX_LINE_BYTES = 4096
"""PIPE_BUF on Linux: the largest write a pipe guarantees not to interleave."""

BARS_TYPE = "bars"
HEARTBEAT_TYPE = "heartbeat"

_NUMBER_FIELDS = ("open", "high", "low", "close", "volume")
_WORST_FLOAT = 1.2345678901234567e300
"""A positive float whose JSON form is as long as any positive float's (23 characters)."""
_WORST_COUNT = 2**63 - 1


class LineError(ValueError):
    """A FIFO line that cannot be encoded or accepted; the message says why."""


class LineTooLongError(LineError):
    """An encoded line would exceed :data:`MAX_LINE_BYTES` and so could not be written atomically."""


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The bridge is alive; ``connected`` tells whether its market-data socket is up."""

    ts: int
    connected: bool
    last_t: int | None


def _dump(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _check_size(line: str) -> str:
    size = len(line.encode("utf-8")) + 1
    if size > MAX_LINE_BYTES:
        raise LineTooLongError(f"line of {size} bytes exceeds the FIFO limit of {MAX_LINE_BYTES} bytes")
    return line


def _bar_object(b: Bar) -> dict:
    """A bar's per-symbol object on the wire."""
    return {
        "symbol": b.symbol,
        "open": b.open,
        "high": b.high,
        "low": b.low,
        "close": b.close,
        "volume": b.volume,
        "vwap": b.vwap,
        "trade_count": b.trade_count,
        "filled": b.filled,
    }


def encode_minute(minute: Minute) -> str:
    """The batch line of ``minute`` (no trailing newline); LineError if it cannot be one."""
    t = _check_minute("t", minute.t)
    if not minute.bars:
        raise LineError(f"batch t={t}: no bars")
    seen: set[str] = set()
    for sym, b in minute.bars.items():
        if b.t != t:
            raise LineError(f"batch t={t}: bar {b.symbol} has t={b.t}")
        if b.symbol in seen:
            raise LineError(f"batch t={t}: symbol {b.symbol} appears twice")
        if b.symbol != sym:
            raise LineError(f"batch t={t}: the bar of {b.symbol} is filed under {sym}")
        seen.add(sym)
    try:
        line = _dump({"type": BARS_TYPE, "t": t, "bars": [_bar_object(b) for b in minute.bars.values()]})
    except ValueError as e:  # NaN or infinity: JSON has no such number
        raise LineError(f"batch t={t}: {e}") from None
    return _check_size(line)


def encode_heartbeat(ts: int, connected: bool, last_t: int | None) -> str:
    """The heartbeat line (no trailing newline)."""
    if isinstance(ts, bool) or not isinstance(ts, int) or ts < 0:
        raise LineError(f"heartbeat: ts={ts!r} is not a non-negative integer of Unix ms")
    if last_t is not None:
        _check_minute("last_t", last_t)
    return _dump({"type": HEARTBEAT_TYPE, "ts": ts, "connected": bool(connected), "last_t": last_t})


def worst_case_batch_bytes(symbols: Iterable[str]) -> int:
    """Bytes (newline included) of the longest batch line any valid bars of ``symbols`` can make."""
    t = 9_999_999 * MINUTE_MS  # 13 digits, as every minute until the year 2286
    w = _WORST_FLOAT
    bars = [Bar(s, t, w, w, w, w, w, w, _WORST_COUNT, False) for s in symbols]
    return len(_dump({"type": BARS_TYPE, "t": t, "bars": [_bar_object(b) for b in bars]}).encode()) + 1


def check_symbols_fit(symbols: Sequence[str]) -> None:
    """LineTooLongError if a batch of ``symbols`` could ever exceed :data:`MAX_LINE_BYTES`."""
    n = worst_case_batch_bytes(symbols)
    if n > MAX_LINE_BYTES:
        raise LineTooLongError(
            f"{len(symbols)} symbols make batch lines of up to {n} bytes, over the FIFO's atomic "
            f"limit of {MAX_LINE_BYTES}: subscribe fewer symbols"
        )


# -- decoding


def _check_minute(name: str, v: object) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v % MINUTE_MS:
        raise LineError(f"{name}={v!r} is not a minute start in Unix ms")
    return v


def _number(where: str, name: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise LineError(f"{where}: {name}={v!r} is not a number")
    try:
        return float(v)
    except OverflowError:
        raise LineError(f"{where}: {name}={v!r} is not a finite number") from None


def _decode_bar(t: int, i: int, obj: object) -> Bar:
    """One bar object: its types here, its values by :meth:`Bar.validate` (once)."""
    where = f"bars[{i}]"
    if not isinstance(obj, dict):
        raise LineError(f"{where} is not an object")
    sym = obj.get("symbol")
    if not isinstance(sym, str) or not sym:
        raise LineError(f"{where}: symbol={sym!r} is not a non-empty string")
    where = f"bars[{i}] ({sym})"
    missing = [k for k in _NUMBER_FIELDS if k not in obj]
    if missing:
        raise LineError(f"{where}: missing {', '.join(missing)}")
    nums = {k: _number(where, k, obj[k]) for k in _NUMBER_FIELDS}
    vwap = obj.get("vwap")
    if vwap is not None:
        vwap = _number(where, "vwap", vwap)
    n = obj.get("trade_count")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise LineError(f"{where}: trade_count={n!r} is not a non-negative integer")
    filled = obj.get("filled", False)
    if not isinstance(filled, bool):
        raise LineError(f"{where}: filled={filled!r} is not true or false")
    try:
        return Bar(sym, t, vwap=vwap, trade_count=n, filled=filled, **nums).validate()
    except BarError as e:
        raise LineError(f"{where}: {e}") from None


def _decode_batch(obj: dict, source: str) -> Minute:
    t = _check_minute("t", obj.get("t"))
    raw = obj.get("bars")
    if not isinstance(raw, list) or not raw:
        raise LineError(f"batch t={t}: bars is not a non-empty list")
    bars: dict[str, Bar] = {}
    for i, item in enumerate(raw):
        b = _decode_bar(t, i, item)
        if b.symbol in bars:
            raise LineError(f"batch t={t}: symbol {b.symbol} appears more than once")
        bars[b.symbol] = b
    return Minute(t, bars, source)


def _decode_heartbeat(obj: dict) -> Heartbeat:
    ts = obj.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int) or ts < 0:
        raise LineError(f"heartbeat: ts={ts!r} is not a non-negative integer")
    connected = obj.get("connected")
    if not isinstance(connected, bool):
        raise LineError(f"heartbeat: connected={connected!r} is not true or false")
    last_t = obj.get("last_t")
    if last_t is not None:
        last_t = _check_minute("heartbeat last_t", last_t)
    return Heartbeat(ts, connected, last_t)


def decode_line(line: str | bytes, *, source: str = "fifo") -> Minute | Heartbeat | None:
    """Parse and validate one line; ``None`` for an object of unknown ``type``.

    A batch becomes a :class:`Minute` of the bars as written (filled ones marked), with
    ``source``.

    Raises :class:`LineError` for anything else: too long, not UTF-8, not JSON,
    not an object, no ``type``, or a field that is missing or invalid.
    """
    raw = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else bytes(line)
    raw = raw.rstrip(b"\r\n")
    if len(raw) + 1 > MAX_LINE_BYTES:
        raise LineTooLongError(f"line of {len(raw) + 1} bytes exceeds {MAX_LINE_BYTES}")
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise LineError(f"line is not UTF-8: {e}") from None
    except (json.JSONDecodeError, RecursionError) as e:
        raise LineError(f"line is not JSON: {e}") from None
    if not isinstance(obj, dict):
        raise LineError(f"line is a JSON {type(obj).__name__}, not an object")
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise LineError(f"line has no string 'type' (got {kind!r})")
    if kind == BARS_TYPE:
        return _decode_batch(obj, source)
    if kind == HEARTBEAT_TYPE:
        return _decode_heartbeat(obj)
    return None


__all__ = [
    "MAX_LINE_BYTES",
    "Heartbeat",
    "LineError",
    "LineTooLongError",
    "check_symbols_fit",
    "decode_line",
    "encode_minute",
    "encode_heartbeat",
    "worst_case_batch_bytes",
]

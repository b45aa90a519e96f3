"""Websocket frames: the bridge's market-data frames (JSON: the bridge sends no msgpack
content type, so it is never answered in msgpack) and the engine's trade-updates messages,
fed anything through the shells' own frame handlers. Never an exception other than the
documented ones; each skipped message logged with its reason; the good messages of a frame
kept whatever surrounds them."""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager

from hypothesis import given
from hypothesis import strategies as st

from bridge import stream as bridge_stream
from bridge.messages import Control, Malformed, StreamBar, parse_frame
from bridge.stream import MarketDataStream, StreamFatalError
from common.calendar import rfc3339_utc
from engine import trade_stream
from engine.trade_events import TradeEvent
from engine.trade_stream import TradeStream
from tests.fuzz.fuzzing import bent, count, fuzz, json_values

T0 = 1_760_621_400_000  # 2025-10-16 09:30 ET


def bar_msg(sym: str, i: int) -> dict:
    c = 10.0 + i
    return {"T": "b", "S": sym, "o": c, "h": c + 0.5, "l": c - 0.5, "c": c, "v": 100,
            "t": rfc3339_utc(T0 + i * 60_000), "n": 3, "vw": c}  # fmt: skip


GOOD_BAR = bar_msg("AAA", 0)
CONTROL = {"T": "success", "msg": "authenticated"}
ERROR = {"T": "error", "code": 406, "msg": "connection limit exceeded"}

bad_messages = st.one_of(
    bent(GOOD_BAR, ("T", "S", "t")),
    bent(CONTROL, ("T", "code")),
    bent(ERROR, ("code",)),
    json_values,
)


@contextmanager
def captured(logger: str):
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    log = logging.getLogger(logger)
    log.addHandler(handler)
    old = log.level
    log.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        log.removeHandler(handler)
        log.setLevel(old)


frames = st.one_of(
    st.lists(bad_messages, max_size=5).map(json.dumps),
    bad_messages.map(json.dumps),
    st.text(max_size=100),
    st.binary(max_size=100),
    st.just("[" * 3000 + "]" * 3000),
)


@fuzz
@given(frames)
def test_bridge_parse_frame_never_raises(frame: str | bytes) -> None:
    count("ws frame: bridge.messages.parse_frame")
    for m in parse_frame(frame):
        assert isinstance(m, StreamBar | Control | Malformed)
        if isinstance(m, Malformed):
            assert m.reason
        if isinstance(m, StreamBar):
            m.bar.validate()


@fuzz
@given(st.lists(bad_messages, max_size=4), st.lists(st.integers(0, 30), min_size=1, max_size=4, unique=True), st.booleans())
def test_bridge_keeps_the_good_bars_of_a_frame_and_logs_the_rest(bad: list, minutes: list[int], as_bytes: bool) -> None:
    count("ws frame: bridge.stream.MarketDataStream._dispatch")
    delivered = []
    ms = MarketDataStream("ws://127.0.0.1:1/v2/iex", "k", "s", ["AAA"],
                          on_frame=lambda bars, now: delivered.extend(bars), monotonic=lambda: 0.0)  # fmt: skip
    messages = []
    for i, m in enumerate(minutes):
        messages += bad[i : i + 1] + [bar_msg("AAA", m)]
    messages += bad[len(minutes) :]
    frame = json.dumps(messages)
    with captured(bridge_stream.__name__) as records:
        try:
            ms._dispatch(frame.encode() if as_bytes else frame)
        except StreamFatalError as e:  # an error message the bridge cannot recover from
            assert str(e)
        except bridge_stream._Reconnect as e:  # an error message: reconnect
            assert e.reason is not None
    goods = [sb.bar.t for sb in delivered if sb.bar.symbol == "AAA" and sb.bar.close == 10.0 + (sb.bar.t - T0) // 60_000]
    for m in minutes:
        assert T0 + m * 60_000 in goods
    skipped = [r for r in records if r.getMessage().startswith("skipped a malformed stream message: ")]
    assert len(skipped) == ms.stats.malformed
    for r in skipped:
        assert r.getMessage().removeprefix("skipped a malformed stream message: ").strip()


def order(i: int) -> dict:
    return {
        "id": f"61e69015-8549-4bfd-b9c3-01e75843f4{i:02d}", "client_order_id": f"it-rot-20251016-1000-TQQQ-b-{i}",
        "created_at": "2025-10-16T14:00:01.000000Z", "updated_at": "2025-10-16T14:00:02.000000Z",
        "submitted_at": "2025-10-16T14:00:01.000000Z", "filled_at": None, "symbol": "TQQQ",
        "qty": "100", "filled_qty": "40", "filled_avg_price": "50.25", "order_type": "market",
        "type": "market", "side": "buy", "time_in_force": "day", "status": "partially_filled",
    }  # fmt: skip


def update(i: int) -> dict:
    return {"stream": "trade_updates", "data": {
        "event": "partial_fill", "execution_id": f"ex-{i}", "order": order(i), "timestamp": "2025-10-16T14:00:02.123456Z",
        "position_qty": "40", "price": "50.25", "qty": "40"}}  # fmt: skip


GOOD_UPDATE = update(0)
bad_updates = st.one_of(
    st.builds(lambda d: {"stream": "trade_updates", "data": d}, bent(GOOD_UPDATE["data"], ("event",))),
    st.builds(lambda o: {"stream": "trade_updates", "data": {**GOOD_UPDATE["data"], "order": o}},
              bent(order(0), ("id", "status"))),  # fmt: skip
    bent(GOOD_UPDATE, ("stream",)),
    json_values,
)


@fuzz
@given(st.lists(bad_updates, max_size=4), st.lists(st.integers(1, 60), min_size=1, max_size=3, unique=True),
       st.sampled_from(["array", "single", "bytes", "junk"]), st.text(max_size=40))  # fmt: skip
def test_trade_stream_keeps_the_good_events_and_logs_the_rest(bad: list, good: list[int], shape: str, junk: str) -> None:
    count("ws frame: engine.trade_stream.TradeStream (trade_events.parse_frame)")
    ts = TradeStream("ws://127.0.0.1:1/stream", "k", "s")
    frames: list[str | bytes] = []
    if shape == "array":
        msgs = []
        for i, g in enumerate(good):
            msgs += bad[i : i + 1] + [update(g)]
        frames.append(json.dumps(msgs + bad[len(good) :]))
    else:
        for i, g in enumerate(good):
            frames += [json.dumps(m) for m in bad[i : i + 1]] + [json.dumps(update(g))]
        frames += [json.dumps(m) for m in bad[len(good) :]]
        if shape == "bytes":
            frames = [f.encode() for f in frames]
        elif shape == "junk":
            frames.insert(0, junk)
    with captured(trade_stream.__name__) as records:
        for f in frames:
            ts._frame(f)
    events = []
    while not ts.items.empty():
        events.append(ts.items.get_nowait())
    assert all(isinstance(e, TradeEvent) for e in events)
    ids = [e.execution_id for e in events]
    for g in good:
        assert f"ex-{g}" in ids
    skipped = [r for r in records if r.getMessage().startswith("trade-updates message skipped: ")]
    assert len(skipped) == ts.stats.malformed
    for r in skipped:
        assert r.getMessage().removeprefix("trade-updates message skipped: ").strip()


def test_regression_an_error_message_does_not_cost_the_bars_of_its_frame() -> None:
    """Found by the fuzzer: a 406 before a bar in one frame raised before the bar was delivered."""
    delivered = []
    ms = MarketDataStream("ws://127.0.0.1:1/v2/iex", "k", "s", ["AAA"],
                          on_frame=lambda bars, now: delivered.extend(bars), monotonic=lambda: 0.0)  # fmt: skip
    frame = json.dumps([ERROR, bar_msg("AAA", 0), bar_msg("AAA", 1)])
    try:
        ms._dispatch(frame)
    except bridge_stream._Reconnect as e:
        assert "connection limit" in e.reason
    else:
        raise AssertionError("the 406 was not acted on")
    assert [sb.bar.t for sb in delivered] == [T0, T0 + 60_000]

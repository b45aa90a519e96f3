"""Trade-updates messages read defensively: Alpaca's shapes (numbers as strings), protocol
replies, and anything else named as malformed — never an exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from engine.trade_events import Malformed, Reply, TradeEvent, parse_frame, parse_message


def order(**over: Any) -> dict:
    o = {
        "id": "61e69015-8549-4bfd-b9c3-01e75843f47d",
        "client_order_id": "it-rot-20251016-1000-TQQQ-b-0",
        "created_at": "2025-10-16T14:00:01.000000Z",
        "updated_at": "2025-10-16T14:00:02.000000Z",
        "submitted_at": "2025-10-16T14:00:01.000000Z",
        "filled_at": None,
        "symbol": "TQQQ",
        "qty": "100",
        "filled_qty": "40",
        "filled_avg_price": "50.25",
        "order_type": "market",
        "type": "market",
        "side": "buy",
        "time_in_force": "day",
        "status": "partially_filled",
    }
    o.update(over)
    return o


def update(event: str = "partial_fill", **over: Any) -> dict:
    data = {"event": event, "execution_id": "ex-1", "order": order(), "timestamp":
            "2025-10-16T14:00:02.123456Z", "position_qty": "40", "price": "50.25", "qty": "40"}  # fmt: skip
    data.update(over)
    return {"stream": "trade_updates", "data": data}


def test_a_fill_with_numbers_as_strings() -> None:
    (ev,) = parse_frame(json.dumps(update()).encode())  # Alpaca's paper stream: binary frames
    assert isinstance(ev, TradeEvent) and ev.is_fill
    assert (ev.event, ev.execution_id, ev.qty, ev.price, ev.position_qty) == ("partial_fill", "ex-1", 40.0, 50.25, 40.0)
    assert ev.order.filled_qty == 40.0 and ev.order.filled_avg_price == 50.25
    assert ev.t_ms == 1_760_623_202_123
    assert ev.execution is not None and (ev.execution.qty, ev.execution.price) == (40.0, 50.25)


def test_numbers_as_numbers_and_events_without_an_execution() -> None:
    (ev,) = parse_frame(json.dumps(update("fill", qty=60, price=50.5, order=order(filled_qty=100))))
    assert isinstance(ev, TradeEvent) and ev.execution is not None and ev.execution.qty == 60.0
    (new,) = parse_frame(json.dumps(update("new", qty=None, price=None, execution_id=None)))
    assert isinstance(new, TradeEvent) and not new.is_fill and new.execution is None
    (bare,) = parse_frame(json.dumps({"stream": "trade_updates", "data": {"event": "fill", "order": order()}}))
    assert isinstance(bare, TradeEvent) and bare.execution is None and bare.t_ms is None


def test_protocol_replies() -> None:
    (auth,) = parse_frame('{"stream":"authorization","data":{"status":"authorized","action":"authenticate"}}')
    assert auth == Reply("authorization", {"status": "authorized", "action": "authenticate"})
    many = parse_frame(json.dumps([{"stream": "listening", "data": {"streams": ["trade_updates"]}}, update()]))
    assert isinstance(many[0], Reply) and isinstance(many[1], TradeEvent)


def test_what_cannot_be_used_is_named() -> None:
    cases = {
        b"\xff\xfe": "not JSON",
        "[]": "empty array",
        "42": "JSON object",
        '{"data": {}}': "no 'stream'",
        '{"stream": "trade_updates", "data": []}': "'data' is not an object",
        json.dumps(update(order=None)): "without an order",
        json.dumps(update(event="")): "without an event name",
        json.dumps(update(order=order(id=None))): "id=None is not a string",
        json.dumps(update(order=order(filled_qty="lots"))): "filled_qty='lots' is not a number",
        json.dumps(update(qty="-3")): "qty=-3.0 is not a positive number",
        json.dumps(update(price="NaN")): "price='NaN' is not finite",
        json.dumps(update(timestamp="yesterday")): "not an RFC 3339 time",
        json.dumps(update(execution_id=7)): "execution_id=7",
    }
    for raw, why in cases.items():
        (item,) = parse_frame(raw)
        assert isinstance(item, Malformed) and why in item.reason, (raw, item)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=20,
)
field_values = st.one_of(json_values, st.sampled_from(["10", "0", "-1", "1e400", "abc", "", "2025-10-16T14:00:00Z"]))


@given(st.one_of(st.binary(max_size=200), st.text(max_size=200), json_values.map(json.dumps)))
def test_any_frame_parses_without_raising(raw) -> None:
    for item in parse_frame(raw):
        assert isinstance(item, TradeEvent | Reply | Malformed)


@given(st.dictionaries(st.sampled_from(["event", "execution_id", "qty", "price", "timestamp", "position_qty"]),
                       field_values),
       st.dictionaries(st.sampled_from(list(order())), field_values))  # fmt: skip
def test_any_trade_update_shape_parses_without_raising(fields, order_fields) -> None:
    msg = update()
    msg["data"].update(fields)
    msg["data"]["order"].update(order_fields)
    item = parse_message(json.loads(json.dumps(msg, default=str)))
    assert isinstance(item, TradeEvent | Malformed)

"""Trading and market-data endpoints of AlpacaRestClient over real HTTP: paths, params, parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from common.bars import Bar
from common.calendar import to_ms
from common.errors import NotFoundError, ResponseFormatError, UnprocessableError

START = datetime(2025, 10, 16, 13, 30, tzinfo=UTC)
END = datetime(2025, 10, 16, 20, 0, tzinfo=UTC)
T0 = to_ms(START)


def abar(minute: int, price: float, **kw) -> dict:
    t = datetime.fromtimestamp((T0 + minute * 60_000) / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    bar = {
        "t": t,
        "o": price,
        "h": price + 0.5,
        "l": price - 0.5,
        "c": price + 0.1,
        "v": 1200,
        "n": 17,
        "vw": price + 0.05,
    }
    bar.update(kw)
    return bar


def page(bars: dict, token: str | None) -> dict:
    return {"bars": bars, "next_page_token": token}


def test_get_bars_follows_every_page_and_merges_symbols_split_across_pages(
    server, make_client, wire
):
    server.on(
        "GET",
        "/v2/stocks/bars",
        wire.Json(200, page({"AAA": [abar(0, 10), abar(1, 11)]}, "p2")),
        wire.Json(200, page({"AAA": [abar(2, 12)], "BBB": [abar(0, 50)]}, "p3")),
        wire.Json(200, page({"BBB": [abar(1, 51), abar(2, 52)]}, None)),
    )
    out = make_client().get_bars(["AAA", "BBB", "CCC"], START, END, limit=3)
    assert sorted(out) == ["AAA", "BBB", "CCC"]
    assert out["CCC"] == []
    assert [b.t for b in out["AAA"]] == [T0, T0 + 60_000, T0 + 120_000]
    assert [b.open for b in out["BBB"]] == [50, 51, 52]
    first = out["AAA"][0]
    assert first == Bar("AAA", T0, 10.0, 10.5, 9.5, 10.1, 1200.0, 10.05, 17)
    seen = server.requests("GET", "/v2/stocks/bars")
    assert len(seen) == 3
    assert seen[0].query == {
        "symbols": "AAA,BBB,CCC",
        "timeframe": "1Min",
        "start": "2025-10-16T13:30:00Z",
        "end": "2025-10-16T20:00:00Z",
        "limit": "3",
        "feed": "iex",
        "adjustment": "raw",
        "sort": "asc",
    }
    assert "page_token" not in seen[0].query
    assert [s.query.get("page_token") for s in seen[1:]] == ["p2", "p3"]
    assert seen[0].headers["APCA-API-KEY-ID"] == wire.KEY


def test_get_bars_sorts_and_dedupes_within_a_symbol(server, make_client, wire):
    server.on(
        "GET",
        "/v2/stocks/bars",
        wire.Json(200, page({"AAA": [abar(2, 12), abar(0, 10)]}, "x")),
        wire.Json(200, page({"AAA": [abar(2, 13), abar(1, 11)]}, None)),
    )
    bars = make_client().get_bars(["AAA"], START, END)["AAA"]
    assert [b.open for b in bars] == [10, 11, 13]


def test_get_bars_with_no_data_gives_empty_lists(server, make_client, wire):
    server.on("GET", "/v2/stocks/bars", wire.Json(200, {"bars": {}, "next_page_token": None}))
    assert make_client().get_bars(["AAA", "BBB"], START, END) == {"AAA": [], "BBB": []}


def test_get_bars_tolerates_null_vwap_and_count_and_drops_invalid_bars(
    server, make_client, wire, caplog
):
    server.on(
        "GET",
        "/v2/stocks/bars",
        wire.Json(200, page({"AAA": [abar(0, 10, n=None, vw=None), abar(1, 10, h=1.0)]}, None)),
    )
    (bar,) = make_client().get_bars(["AAA"], START, END)["AAA"]
    assert bar.vwap is None and bar.trade_count is None
    assert "dropping an invalid bar" in caplog.text


def test_get_bars_with_a_malformed_bar_names_it(server, make_client, wire):
    server.on("GET", "/v2/stocks/bars", wire.Json(200, page({"AAA": [{"t": "x"}]}, None)))
    with pytest.raises(ResponseFormatError, match="bar of AAA"):
        make_client().get_bars(["AAA"], START, END)


def test_get_bars_refuses_a_repeating_page_token(server, make_client, wire):
    server.on("GET", "/v2/stocks/bars", then=wire.Json(200, page({"AAA": [abar(0, 10)]}, "same")))
    with pytest.raises(ResponseFormatError, match="repeats"):
        make_client().get_bars(["AAA"], START, END)
    assert len(server.requests()) == 2


def test_get_bars_retries_a_5xx_page_and_keeps_the_token(server, make_client, clock, wire):
    server.on(
        "GET",
        "/v2/stocks/bars",
        wire.Json(200, page({"AAA": [abar(0, 10)]}, "p2")),
        wire.error(503, "busy"),
        wire.Json(200, page({"AAA": [abar(1, 11)]}, None)),
    )
    assert len(make_client().get_bars(["AAA"], START, END)["AAA"]) == 2
    assert [s.query.get("page_token") for s in server.requests()] == [None, "p2", "p2"]
    assert len(clock.sleeps) == 1


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("AAA", START, END), "symbols"),
        ((["AAA"], datetime(2025, 10, 16, 9, 30), END), "naive"),
        ((["AAA"], END, START), "after"),
    ],
)
def test_get_bars_bad_arguments(make_client, server, args, match):
    with pytest.raises(ValueError, match=match):
        make_client().get_bars(*args)
    assert server.requests() == []


def test_get_bars_of_no_symbols_asks_nothing(make_client, server):
    assert make_client().get_bars([], START, END) == {}
    assert server.requests() == []


def test_get_latest_bars(server, make_client, wire):
    server.on(
        "GET",
        "/v2/stocks/bars/latest",
        wire.Json(200, {"bars": {"AAA": abar(5, 10), "BBB": abar(4, 20)}}),
    )
    out = make_client().get_latest_bars(["AAA", "BBB", "CCC"])
    assert {s: b.t for s, b in out.items()} == {"AAA": T0 + 300_000, "BBB": T0 + 240_000}
    assert server.requests()[0].query == {"symbols": "AAA,BBB,CCC", "feed": "iex"}


def test_get_clock_parses_aware_datetimes(server, make_client, wire):
    server.on(
        "GET",
        "/v2/clock",
        wire.Json(
            200,
            {
                "timestamp": "2025-10-16T10:15:30.123456-04:00",
                "is_open": True,
                "next_open": "2025-10-17T09:30:00-04:00",
                "next_close": "2025-10-16T16:00:00-04:00",
            },
        ),
    )
    clk = make_client().get_clock()
    assert clk.is_open is True
    assert clk.timestamp == datetime(2025, 10, 16, 14, 15, 30, 123456, tzinfo=UTC)
    assert clk.timestamp_ms == to_ms(clk.timestamp)
    assert clk.next_close == datetime(2025, 10, 16, 20, 0, tzinfo=UTC)


def test_get_clock_with_a_bad_field_names_it(server, make_client, wire):
    server.on("GET", "/v2/clock", wire.Json(200, {"timestamp": "x", "is_open": "yes"}))
    with pytest.raises(ResponseFormatError, match="is_open"):
        make_client().get_clock()


def position_json(symbol: str, qty: str, side: str = "long") -> dict:
    return {
        "asset_id": "a1",
        "symbol": symbol,
        "exchange": "NASDAQ",
        "asset_class": "us_equity",
        "avg_entry_price": "55.5",
        "qty": qty,
        "qty_available": qty,
        "side": side,
        "market_value": "560",
        "cost_basis": "555",
        "unrealized_pl": "5",
        "unrealized_plpc": "0.009",
        "unrealized_intraday_pl": "5",
        "unrealized_intraday_plpc": "0.009",
        "current_price": "56",
        "lastday_price": "54",
        "change_today": "0.037",
    }


def test_positions_parse_strings_to_floats(server, make_client, wire):
    server.on(
        "GET",
        "/v2/positions",
        wire.Json(200, [position_json("TQQQ", "10"), position_json("SQQQ", "-3", "short")]),
    )
    long_, short = make_client().get_positions()
    assert (long_.symbol, long_.qty, long_.avg_entry_price, long_.current_price) == (
        "TQQQ",
        10.0,
        55.5,
        56.0,
    )
    assert (short.qty, short.side) == (-3.0, "short")
    assert long_.raw["exchange"] == "NASDAQ"


def test_list_orders_sends_the_filters(server, make_client, wire):
    o = wire.order_json({"client_order_id": "c1", "symbol": "TQQQ", "qty": "1", "side": "sell"})
    server.on("GET", "/v2/orders", wire.Json(200, [o]))
    (order,) = make_client().list_orders(
        status="all",
        limit=50,
        symbols=["TQQQ", "SQQQ"],
        after=START,
        until="2025-10-17T00:00:00Z",
        direction="asc",
    )
    assert order.side == "sell" and order.type == "market" and order.is_open
    assert server.requests()[0].query == {
        "status": "all",
        "limit": "50",
        "direction": "asc",
        "symbols": "TQQQ,SQQQ",
        "after": "2025-10-16T13:30:00Z",
        "until": "2025-10-17T00:00:00Z",
    }


@pytest.mark.parametrize(
    ("kw", "match"),
    [({"status": "x"}, "status"), ({"limit": 501}, "limit"), ({"direction": "up"}, "direction")],
)
def test_list_orders_bad_filters(make_client, server, kw, match):
    with pytest.raises(ValueError, match=match):
        make_client().list_orders(**kw)


def test_get_order_and_by_client_id(server, make_client, wire):
    o = wire.order_json(
        {"client_order_id": "c 1/x", "symbol": "TQQQ", "qty": "1", "side": "buy"}, order_id="id-1"
    )
    server.on("GET", "/v2/orders/id-1", wire.Json(200, o))
    server.on(
        "GET",
        "/v2/orders:by_client_order_id",
        wire.Json(200, o),
        wire.error(404, "order not found"),
    )
    c = make_client()
    assert c.get_order("id-1").client_order_id == "c 1/x"
    assert c.get_order_by_client_id("c 1/x").id == "id-1"
    assert c.get_order_by_client_id("nope") is None
    assert server.requests("GET", "/v2/orders:by_client_order_id")[0].query == {
        "client_order_id": "c 1/x"
    }
    with pytest.raises(NotFoundError):
        c.get_order("missing")


def test_cancel_order_204_and_422(server, make_client, wire):
    server.on("DELETE", "/v2/orders/o1", wire.Json(204, None))
    server.on(
        "DELETE", "/v2/orders/o2", wire.error(422, 'order is already in "filled" state', 42210000)
    )
    server.on(
        "GET",
        "/v2/orders/o2",
        wire.Json(
            200,
            wire.order_json(
                {"client_order_id": "c", "symbol": "A", "qty": "1", "side": "buy"}, status="filled"
            ),
        ),
    )
    c = make_client()
    assert c.cancel_order("o1") is None
    with pytest.raises(UnprocessableError) as ei:
        c.cancel_order("o2")
    assert (ei.value.code, ei.value.message) == (42210000, 'order is already in "filled" state')
    assert server.requests("GET") == []  # a first-try 422 is the broker's final word


def test_cancel_order_retried_after_a_dropped_answer_that_canceled_it(server, make_client, wire):
    canceled = wire.order_json(
        {"client_order_id": "c", "symbol": "A", "qty": "1", "side": "buy"}, status="canceled"
    )
    server.on(
        "DELETE",
        "/v2/orders/o3",
        wire.Drop(),
        wire.error(422, 'order is already in "canceled" state'),
    )
    server.on("GET", "/v2/orders/o3", wire.Json(200, canceled))
    assert make_client().cancel_order("o3") is None
    assert len(server.requests("DELETE")) == 2


def test_cancel_retried_after_a_drop_still_raises_when_the_order_filled(server, make_client, wire):
    filled = wire.order_json(
        {"client_order_id": "c", "symbol": "A", "qty": "1", "side": "buy"}, status="filled"
    )
    server.on(
        "DELETE",
        "/v2/orders/o4",
        wire.Drop(),
        wire.error(422, 'order is already in "filled" state'),
    )
    server.on("GET", "/v2/orders/o4", wire.Json(200, filled))
    with pytest.raises(UnprocessableError, match="filled"):
        make_client().cancel_order("o4")


def test_a_list_endpoint_answering_an_object_is_a_format_error(server, make_client, wire):
    server.on("GET", "/v2/positions", wire.Json(200, {"oops": 1}))
    with pytest.raises(ResponseFormatError, match="JSON array"):
        make_client().get_positions()

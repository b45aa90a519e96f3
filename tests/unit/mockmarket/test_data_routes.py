from __future__ import annotations

from datetime import date

import pytest

from common.calendar import ny_date, parse_rfc3339, to_ms
from mockmarket.wire import rest_bar

DAY1 = date(2025, 10, 15)


def expected(facts, symbol, start_ms, end_ms):
    return [rest_bar(b) for b in facts.csv_bars(symbol) if start_ms <= b.t <= end_ms]


def page_through(server, path, **params):
    """All pages of a bars query: ({symbol: [bars]}, number of pages)."""
    out: dict[str, list] = {}
    token = None
    pages = 0
    while True:
        q = dict(params, **({"page_token": token} if token else {}))
        r = server.get(path, **q)
        assert r.status_code == 200, r.text
        body = r.json()
        pages += 1
        for s, bars in body["bars"].items():
            out.setdefault(s, []).extend(bars)
        token = body["next_page_token"]
        assert token != ""
        if token is None:
            return out, pages


def test_only_closed_minutes_are_served(server, facts):
    # paused at 10:00:00 New York: the 09:59 bar has just closed, 10:00 has not
    r = server.get("/v2/stocks/bars", symbols="AAA", timeframe="1Min", start="2025-10-16")
    bars = r.json()["bars"]["AAA"]
    assert bars[-1]["t"] == "2025-10-16T13:59:00Z"
    server.step(59.999)
    assert (
        server.get("/v2/stocks/bars", symbols="AAA", timeframe="1Min", start="2025-10-16").json()[
            "bars"
        ]["AAA"][-1]["t"]
        == "2025-10-16T13:59:00Z"
    )
    server.step(0.001)
    assert (
        server.get("/v2/stocks/bars", symbols="AAA", timeframe="1Min", start="2025-10-16").json()[
            "bars"
        ]["AAA"][-1]["t"]
        == "2025-10-16T14:00:00Z"
    )


def test_history_across_sessions_equals_the_csv(server, facts):
    now = server.admin("GET", "/admin/clock")["now_ms"]
    got, pages = page_through(
        server,
        "/v2/stocks/bars",
        symbols="THIN,AAA,BBB",
        timeframe="1Min",
        start="2025-10-15T00:00:00Z",
        limit=250,
    )
    assert list(got) == ["AAA", "BBB", "THIN"]  # sorted by symbol
    for s in facts.symbols:
        assert got[s] == expected(facts, s, 0, now - 60_000)
    total = sum(len(v) for v in got.values())
    assert pages == -(-total // 250)


def test_page_boundaries_can_split_a_symbol_and_limit_counts_across_symbols(server):
    r = server.get(
        "/v2/stocks/bars",
        symbols="AAA,BBB",
        timeframe="1Min",
        start="2025-10-16T13:30:00Z",
        limit=20,
    )
    body = r.json()
    # 30 bars of AAA by 10:00, so the first page holds 20 AAA bars and no BBB
    assert list(body["bars"]) == ["AAA"] and len(body["bars"]["AAA"]) == 20
    r2 = server.get(
        "/v2/stocks/bars",
        symbols="AAA,BBB",
        timeframe="1Min",
        start="2025-10-16T13:30:00Z",
        limit=20,
        page_token=body["next_page_token"],
    )
    b2 = r2.json()["bars"]
    assert len(b2["AAA"]) == 10 and len(b2["BBB"]) == 10
    assert b2["AAA"][0]["t"] == "2025-10-16T13:50:00Z"


def test_a_page_ending_exactly_at_a_symbol_end_points_at_the_next_symbol(server):
    r = server.get(
        "/v2/stocks/bars",
        symbols="AAA,BBB",
        timeframe="1Min",
        start="2025-10-16T13:30:00Z",
        limit=30,
    )
    body = r.json()
    assert len(body["bars"]["AAA"]) == 30 and body["next_page_token"] is not None
    r2 = server.get(
        "/v2/stocks/bars",
        symbols="AAA,BBB",
        timeframe="1Min",
        start="2025-10-16T13:30:00Z",
        limit=30,
        page_token=body["next_page_token"],
    )
    assert list(r2.json()["bars"]) == ["BBB"] and r2.json()["next_page_token"] is None


def test_descending_order_pages(server, facts):
    now = server.admin("GET", "/admin/clock")["now_ms"]
    got, _ = page_through(
        server,
        "/v2/stocks/bars",
        symbols="AAA,THIN",
        timeframe="1Min",
        start="2025-10-16",
        sort="desc",
        limit=7,
    )
    for s in ("AAA", "THIN"):
        assert got[s] == list(
            reversed(expected(facts, s, to_ms(parse_rfc3339("2025-10-16")), now - 60_000))
        )


def test_start_end_are_inclusive_and_accept_dates(server, facts):
    body = server.get(
        "/v2/stocks/bars",
        symbols="AAA",
        timeframe="1Min",
        start="2025-10-15T14:00:00Z",
        end="2025-10-15T14:03:00Z",
    ).json()
    assert [b["t"] for b in body["bars"]["AAA"]] == [f"2025-10-15T14:0{i}:00Z" for i in range(4)]
    whole_day = server.get(
        "/v2/stocks/bars",
        symbols="AAA",
        timeframe="1T",
        start="2025-10-15",
        end="2025-10-15",
        limit=10000,
    ).json()["bars"]["AAA"]
    assert len(whole_day) == 390
    assert {ny_date(to_ms(parse_rfc3339(b["t"]))) for b in whole_day} == {DAY1}


def test_default_start_is_the_simulated_day(server):
    bars = server.get("/v2/stocks/bars", symbols="AAA", timeframe="1Min").json()["bars"]["AAA"]
    assert bars[0]["t"] == "2025-10-16T13:30:00Z" and len(bars) == 30


def test_no_data_gives_an_empty_object_and_unknown_symbols_are_skipped(server):
    body = server.get("/v2/stocks/bars", symbols="ZZZ", timeframe="1Min").json()
    assert body == {"bars": {}, "next_page_token": None}
    body = server.get(
        "/v2/stocks/bars", symbols="ZZZ,AAA", timeframe="1Min", start="2025-10-17"
    ).json()
    assert body == {"bars": {}, "next_page_token": None}


def test_single_symbol_route(server, facts):
    body = server.get(
        "/v2/stocks/BBB/bars", timeframe="1Min", start="2025-10-16T13:30:00Z", limit=5
    ).json()
    assert body["symbol"] == "BBB" and len(body["bars"]) == 5 and body["next_page_token"]
    assert body["bars"][0] == rest_bar(facts.csv_bars("BBB")[390])
    empty = server.get("/v2/stocks/ZZZ/bars", timeframe="1Min").json()
    assert empty == {"bars": [], "symbol": "ZZZ", "next_page_token": None}


def test_latest_bars_are_the_last_closed_minute(server):
    body = server.get("/v2/stocks/bars/latest", symbols="AAA,THIN,ZZZ", feed="iex").json()
    assert set(body["bars"]) == {"AAA", "THIN"}
    assert body["bars"]["AAA"]["t"] == "2025-10-16T13:59:00Z"
    one = server.get("/v2/stocks/AAA/bars/latest").json()
    assert one["symbol"] == "AAA" and one["bar"] == body["bars"]["AAA"]
    r = server.get("/v2/stocks/ZZZ/bars/latest")
    assert r.status_code == 404 and "ZZZ" in r.json()["message"]


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"timeframe": "1Min"}, 400, "symbols is required"),
        ({"symbols": " , ", "timeframe": "1Min"}, 400, "symbols is required"),
        ({"symbols": "AAA"}, 400, "timeframe is required"),
        ({"symbols": "AAA", "timeframe": "5Min"}, 422, "unsupported timeframe"),
        ({"symbols": "AAA", "timeframe": "1Day"}, 422, "unsupported timeframe"),
        ({"symbols": "AAA", "timeframe": "1Min", "limit": "0"}, 422, "invalid limit"),
        ({"symbols": "AAA", "timeframe": "1Min", "limit": "10001"}, 422, "invalid limit"),
        ({"symbols": "AAA", "timeframe": "1Min", "limit": "ten"}, 422, "invalid limit"),
        ({"symbols": "AAA", "timeframe": "1Min", "start": "yesterday"}, 400, "invalid start"),
        ({"symbols": "AAA", "timeframe": "1Min", "end": "2025-13-01"}, 400, "invalid end"),
        ({"symbols": "AAA", "timeframe": "1Min", "sort": "up"}, 400, "invalid sort"),
        ({"symbols": "AAA", "timeframe": "1Min", "feed": "nasdaq"}, 400, "invalid feed"),
        ({"symbols": "AAA", "timeframe": "1Min", "adjustment": "magic"}, 400, "invalid adjustment"),
        ({"symbols": "AAA", "timeframe": "1Min", "page_token": "%%%"}, 400, "invalid page_token"),
        ({"symbols": "A A", "timeframe": "1Min"}, 400, "invalid symbol"),
    ],
)
def test_bad_queries_get_alpaca_shaped_errors_naming_the_parameter(server, params, status, needle):
    r = server.get("/v2/stocks/bars", **params)
    assert r.status_code == status
    body = r.json()
    assert set(body) == {"code", "message"} and isinstance(body["code"], int)
    assert needle in body["message"]


def test_a_page_token_from_another_query_is_refused(server):
    token = server.get("/v2/stocks/bars", symbols="AAA,BBB", timeframe="1Min", limit=3).json()[
        "next_page_token"
    ]
    r = server.get("/v2/stocks/bars", symbols="THIN", timeframe="1Min", page_token=token)
    assert r.status_code == 400 and "page_token" in r.json()["message"]


def test_feed_and_adjustment_are_accepted(server):
    r = server.get(
        "/v2/stocks/bars", symbols="AAA", timeframe="1Min", feed="sip", adjustment="raw", sort="asc"
    )
    assert r.status_code == 200 and len(r.json()["bars"]["AAA"]) == 30

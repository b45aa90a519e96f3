"""Contract: alpaca-py's market-data clients, unmodified, against a real mockmarket process."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

from alpaca.data.enums import DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.live import StockDataStream
from alpaca.data.requests import StockBarsRequest, StockLatestBarRequest
from alpaca.data.timeframe import TimeFrame

from common.calendar import ny_datetime, to_ms
from mockmarket.wire import derived_n_vw

REPLAY = date(2025, 10, 16)


def as_tuple(symbol, t_ms, o, h, low, c, v, n, vw):
    return (symbol, t_ms, o, h, low, c, float(v), float(n), float(vw))


def csv_tuple(b):
    n, vw = derived_n_vw(b)
    return as_tuple(b.symbol, b.t, b.open, b.high, b.low, b.close, b.volume, n, vw)


def sdk_tuple(b):
    return as_tuple(
        b.symbol,
        to_ms(b.timestamp),
        b.open,
        b.high,
        b.low,
        b.close,
        b.volume,
        b.trade_count,
        b.vwap,
    )


def test_get_stock_bars_over_several_symbols_across_page_boundaries(start_market, csv_bars):
    market = start_market(
        start_time="16:30", extra_args=["--paused"]
    )  # the whole replay day has closed
    symbols = market.state["symbols"]
    client = StockHistoricalDataClient(market.key, market.secret, url_override=market.base_url)
    start = datetime(2025, 10, 14, tzinfo=UTC)
    barset = client.get_stock_bars(
        StockBarsRequest(
            symbol_or_symbols=symbols, timeframe=TimeFrame.Minute, start=start, feed=DataFeed.IEX
        )
    )
    expected = {
        s: [csv_tuple(b) for b in csv_bars(market, s) if b.t >= to_ms(start)] for s in symbols
    }
    total = sum(len(v) for v in expected.values())
    assert total > 10_000, "the query must need more than one page of alpaca-py's 10,000"
    assert market.admin("GET", "/admin/counters")["rest_requests"] == -(-total // 10_000)
    assert sorted(barset.data) == sorted(symbols)
    for s in symbols:
        assert [sdk_tuple(b) for b in barset.data[s]] == expected[s], s


def test_latest_bar(start_market, csv_bars):
    market = start_market(start_time="10:00", extra_args=["--paused"])
    client = StockHistoricalDataClient(market.key, market.secret, url_override=market.base_url)
    latest = client.get_stock_latest_bar(StockLatestBarRequest(symbol_or_symbols=["SPY", "TQQQ"]))
    for s in ("SPY", "TQQQ"):
        want = [b for b in csv_bars(market, s) if b.t <= to_ms(ny_datetime(REPLAY, "09:59"))][-1]
        assert sdk_tuple(latest[s]) == csv_tuple(want)


def test_stock_data_stream_gets_every_subscribed_bar_each_minute_over_msgpack(
    start_market, csv_bars
):
    market = start_market(
        start_time="09:29", speed=300.0, extra_args=["--paused", "--correction-rate", "0"]
    )
    symbols = market.state["symbols"]
    received: dict[int, dict[str, tuple]] = {}
    lock = threading.Lock()

    async def on_bar(bar):
        with lock:
            received.setdefault(to_ms(bar.timestamp), {})[bar.symbol] = sdk_tuple(bar)

    stream = StockDataStream(
        market.key, market.secret, feed=DataFeed.IEX, url_override=market.stream_url
    )
    stream.subscribe_bars(on_bar, *symbols)
    thread = threading.Thread(target=stream.run, name="alpaca-py-stream", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while True:  # alpaca-py connected, authenticated (msgpack) and subscribed
            conns = market.admin("GET", "/admin/streams")["data"]
            if conns and sorted(conns[0]["subscriptions"]["bars"]) == sorted(symbols):
                assert conns[0]["msgpack"] is True
                break
            assert time.monotonic() < deadline, "alpaca-py did not subscribe"
            time.sleep(0.02)
        market.admin("POST", "/admin/clock", {"action": "resume"})
        first = to_ms(ny_datetime(REPLAY, "09:30"))
        minutes = [first + i * 60_000 for i in range(20)]
        market.wait_until(minutes[-1] + 61_000 + 2_000, timeout=30)
        deadline = time.monotonic() + 10
        while True:
            with lock:
                if minutes[-1] in received:
                    break
            assert time.monotonic() < deadline, "the last minute's bars never arrived"
            time.sleep(0.02)
    finally:
        stream.stop()
        thread.join(15)
    expected: dict[int, dict[str, tuple]] = {}
    for s in symbols:
        for b in csv_bars(market, s):
            if first <= b.t <= minutes[-1]:
                expected.setdefault(b.t, {})[s] = csv_tuple(b)
    with lock:
        got = {t: received.get(t, {}) for t in minutes}
    for t in minutes:
        assert got[t] == expected.get(t, {}), f"minute {datetime.fromtimestamp(t / 1000, UTC)}"
    assert sum(len(v) for v in got.values()) > 15 * 15

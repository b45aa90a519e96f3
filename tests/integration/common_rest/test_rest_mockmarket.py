"""AlpacaRestClient against a real mockmarket server process (real HTTP, real broker).

One market per module, its simulated clock paused mid-session so every answer is
deterministic; each test uses its own symbols and client order ids.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
import requests

from common.calendar import NY, from_ms, nyse, to_ms
from common.csvfiles import history_path, read_history
from common.env import AlpacaEndpoints
from common.errors import AuthError, UnprocessableError
from common.rest import AlpacaRestClient
from mockmarket.harness import run_market

SYMBOLS = ["ERX", "FAS", "SPY", "SQQQ", "TQQQ", "UVXY"]


class Sleeps:
    """Injected sleep: records the waits, never sleeps (the faults are one-shot)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    with run_market(tmp_path_factory.mktemp("mm"), sessions=3, start_time="10:30", speed=60) as m:
        m.admin("POST", "/admin/clock", {"action": "pause"})
        replay = datetime.fromisoformat(m.admin("GET", "/admin/clock")["replay_date"]).date()
        at = datetime(replay.year, replay.month, replay.day, 11, 15, 30, tzinfo=NY)
        m.admin("POST", "/admin/clock", {"action": "set_time", "time": at.isoformat()})
        yield m


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(market, sleeps):
    ep = AlpacaEndpoints(
        key_id=market.key,
        secret=market.secret,
        trading_url=market.base_url,
        data_url=market.base_url,
    )
    with AlpacaRestClient(ep, timeout=10, max_retries=4, sleep=sleeps) as c:
        yield c


def counters(market) -> dict:
    return market.admin("GET", "/admin/counters")


def test_clock_and_account(client, market):
    clk = client.get_clock()
    now_ms = market.now_ms()
    assert clk.timestamp_ms == now_ms
    assert clk.is_open
    assert clk.next_close == nyse().session(from_ms(now_ms).date()).close
    acct = client.get_account()
    assert acct.status == "ACTIVE" and acct.cash > 0


def test_calendar_matches_the_nyse_calendar(market):
    today = from_ms(market.now_ms()).date()
    r = requests.get(
        market.base_url + "/v2/calendar",
        params={"start": (today - timedelta(days=10)).isoformat(), "end": today.isoformat()},
        headers=market.headers(),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    days = r.json()
    want = nyse().sessions_between(today - timedelta(days=10), today)
    assert [d["date"] for d in days] == [s.date.isoformat() for s in want]
    assert [d["close"] for d in days] == [s.close_ny().strftime("%H:%M") for s in want]


def test_get_bars_equals_the_csv_files_it_serves(client, market):
    now = market.now_ms()
    sessions = nyse().sessions_before(from_ms(now).date(), 2)
    start = sessions[0].open
    got = client.get_bars(SYMBOLS, start, from_ms(now), limit=700)  # several pages, symbols split
    for sym in SYMBOLS:
        csv = [
            b
            for b in read_history(history_path(market.data_dir, sym))
            if to_ms(start) <= b.t and b.t + 60_000 <= now
        ]
        assert [b.t for b in got[sym]] == [b.t for b in csv], sym
        assert [(b.open, b.high, b.low, b.close, b.volume) for b in got[sym]] == [
            (b.open, b.high, b.low, b.close, b.volume) for b in csv
        ], sym
        assert got[sym], sym
    assert max(b.t for bars in got.values() for b in bars) + 60_000 <= now


def test_latest_bars_are_the_last_closed_minute(client, market):
    now = market.now_ms()
    latest = client.get_latest_bars(["SPY", "TQQQ"])
    for sym, bar in latest.items():
        closed = [
            b for b in read_history(history_path(market.data_dir, sym)) if b.t + 60_000 <= now
        ]
        assert bar.t == closed[-1].t and bar.close == closed[-1].close


def test_order_round_trip_fill_position_close(client, market):
    order = client.submit_order(symbol="FAS", qty=7, side="buy", client_order_id="it-rt-1")
    assert order.client_order_id == "it-rt-1" and order.symbol == "FAS"
    filled = client.get_order(order.id)
    assert filled.status == "filled" and filled.filled_qty == 7.0 and filled.filled_avg_price > 0
    assert client.get_order_by_client_id("it-rt-1").id == order.id
    assert client.get_order_by_client_id("never-sent") is None
    (pos,) = [p for p in client.get_positions() if p.symbol == "FAS"]
    assert pos.qty == 7.0 and pos.side == "long"
    assert any(o.id == order.id for o in client.list_orders(status="closed", symbols=["FAS"]))
    sold = client.submit_order(symbol="FAS", qty=7, side="sell", client_order_id="it-rt-2")
    assert client.get_order(sold.id).status == "filled"
    assert "FAS" not in {p.symbol for p in client.get_positions()}


def test_resting_limit_order_cancel_and_cancel_again(client, market):
    price = client.get_latest_bars(["ERX"])["ERX"].close
    order = client.submit_order(
        symbol="ERX",
        qty=3,
        side="buy",
        type="limit",
        limit_price=round(price * 0.5, 2),
        client_order_id="it-lim-1",
    )
    assert order.is_open
    assert order.id in {o.id for o in client.list_orders(status="open")}
    client.cancel_order(order.id)
    assert client.get_order(order.id).status == "canceled"
    with pytest.raises(UnprocessableError) as ei:
        client.cancel_order(order.id)
    assert ei.value.status == 422 and "canceled" in ei.value.message


def test_duplicate_client_order_id_returns_the_first_order(client, market):
    before = counters(market)
    first = client.submit_order(symbol="SPY", qty=1, side="buy", client_order_id="it-dup-1")
    again = client.submit_order(symbol="SPY", qty=1, side="buy", client_order_id="it-dup-1")
    assert again.id == first.id
    after = counters(market)
    assert after["orders_accepted"] - before["orders_accepted"] == 1
    assert after["duplicates_rejected"] - before["duplicates_rejected"] == 1


def test_rest_429_burst_waits_for_the_reset_and_succeeds(client, market, sleeps):
    market.admin("POST", "/admin/faults", {"rest_429_count": 2})
    acct = client.get_account()
    assert acct.status == "ACTIVE"
    assert len(sleeps.waits) == 2
    for w in sleeps.waits:  # the reset header is a real epoch second a little ahead
        assert 0 < w <= 65
    assert market.admin("GET", "/admin/faults")["rest_429_count"] == 0


def test_rest_5xx_burst_is_retried(client, market, sleeps):
    market.admin("POST", "/admin/faults", {"rest_5xx_count": 3})
    assert client.get_clock().is_open
    assert len(sleeps.waits) == 3


def test_lost_order_response_is_recovered_without_a_duplicate(client, market, sleeps, caplog):
    before = counters(market)
    market.admin("POST", "/admin/faults", {"lose_order_response_count": 1})
    with caplog.at_level(logging.INFO, logger="common.rest"):
        order = client.submit_order(symbol="TQQQ", qty=5, side="buy", client_order_id="it-lost-1")
    assert "asking the broker" in caplog.text and "found by client_order_id" in caplog.text
    assert len(sleeps.waits) == 1
    assert order.client_order_id == "it-lost-1" and order.symbol == "TQQQ"
    after = counters(market)
    assert after["orders_accepted"] - before["orders_accepted"] == 1
    assert after["duplicates_rejected"] == before["duplicates_rejected"]
    assert after["orders_submitted"] - before["orders_submitted"] == 1
    assert [o.client_order_id for o in client.list_orders(status="all", symbols=["TQQQ"])].count(
        "it-lost-1"
    ) == 1


def test_5xx_on_submit_is_resent_once_the_broker_says_it_never_arrived(client, market, caplog):
    before = counters(market)
    market.admin("POST", "/admin/faults", {"rest_5xx_count": 1})
    with caplog.at_level(logging.WARNING, logger="common.rest"):
        order = client.submit_order(symbol="SQQQ", qty=2, side="buy", client_order_id="it-5xx-1")
    assert "never reached the broker" in caplog.text
    assert order.client_order_id == "it-5xx-1"
    after = counters(market)
    assert after["orders_accepted"] - before["orders_accepted"] == 1
    assert after["duplicates_rejected"] == before["duplicates_rejected"]


def test_wrong_keys_are_an_auth_error_without_the_secret(market):
    ep = AlpacaEndpoints(
        key_id="wrong-key-id",
        secret="wrong-secret-value",
        trading_url=market.base_url,
        data_url=market.base_url,
    )
    with AlpacaRestClient(ep, max_retries=0) as c, pytest.raises(AuthError) as ei:
        c.get_account()
    assert ei.value.code == 40110000
    assert "wrong-secret-value" not in str(ei.value)

"""Costs and the no-bar rule through a real ``python -m mockmarket serve`` process and its REST:
a market order in a minute with no bar rests until the symbol's next bar; the fees of a sell
leave cash by the documented amount and show as a FEE activity. Default costs throughout."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from common.bars import Bar
from common.calendar import MINUTE_MS, from_ms, nyse, parse_rfc3339, to_ms
from common.csvfiles import history_path, write_history
from mockmarket.harness import RunningMarket, run_market
from tests.support.processes import poll

D = Decimal
DAY = date(2024, 3, 12)
CAL = nyse()
SESSION = CAL.session(DAY)
THIN_BAR = SESSION.open_ms + 35 * MINUTE_MS  # THIN trades once today, at 10:05


def _write_market(directory: Path) -> None:
    """LIQ: every minute at $50, 1,000 shares ($50,000 a minute); THIN: a bar in ten at $10,
    100 shares, on the three sessions before; today LIQ at 50 and THIN once, at 10:05."""
    liq: list[Bar] = []
    thin: list[Bar] = []
    for s in CAL.sessions_before(DAY, 3):
        liq += [Bar("LIQ", t, 50.0, 50.0, 50.0, 50.0, 1000.0) for t in s.minutes()]
        thin += [Bar("THIN", t, 10.0, 10.0, 10.0, 10.0, 100.0) for t in list(s.minutes())[::10]]
    liq += [Bar("LIQ", t, 50.0, 50.05, 49.95, 50.0, 1000.0) for t in SESSION.minutes()]
    thin.append(Bar("THIN", THIN_BAR, 10.2, 10.3, 10.2, 10.3, 100.0))
    for sym, bars in (("LIQ", liq), ("THIN", thin)):
        write_history(history_path(directory, sym), bars)


@pytest.fixture
def market(tmp_path: Path) -> Iterator[RunningMarket]:
    data = tmp_path / "equities"
    data.mkdir()
    _write_market(data)
    with run_market(
        tmp_path / "market",
        synthetic=False,
        data_dir=data,
        date=DAY.isoformat(),
        start_time="10:00",
        extra_args=["--paused", "--correction-rate", "0"],
    ) as running:
        yield running


class Api:
    def __init__(self, market: RunningMarket) -> None:
        self.m = market
        self.http = requests.Session()
        self.http.headers.update(market.headers())

    def get(self, path: str, **params: str) -> object:
        r = self.http.get(self.m.base_url + path, params=params, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def order(self, symbol: str, qty: int, side: str) -> dict:
        body = {"symbol": symbol, "qty": str(qty), "side": side, "type": "market", "time_in_force": "day"}
        r = self.http.post(self.m.base_url + "/v2/orders", json=body, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def clock_to(self, t_ms: int) -> None:
        self.m.admin("POST", "/admin/clock", json={"action": "set_time", "time": from_ms(t_ms).isoformat()})

    def filled(self, order_id: str) -> dict:
        return poll(
            lambda: (o := self.get(f"/v2/orders/{order_id}"))["status"] == "filled" and o,
            timeout=30,
            what=f"order {order_id} to fill",
        )


def test_a_market_order_in_a_minute_without_a_bar_rests_until_the_next_bar(market):
    api = Api(market)
    api.clock_to(SESSION.open_ms + 30 * MINUTE_MS + 30_000)  # 10:00:30; THIN's next bar: 10:05
    order = api.order("THIN", 10, "buy")
    assert (order["status"], order["filled_qty"]) == ("new", "0")
    api.clock_to(THIN_BAR - 1_000)  # the minute loop walks 10:01..10:04: no bar, no fill
    market.wait_until(THIN_BAR - 1_000)
    assert api.get(f"/v2/orders/{order['id']}")["status"] == "new"
    api.clock_to(THIN_BAR + 30_000)
    got = api.filled(order["id"])
    filled_at = to_ms(parse_rfc3339(got["filled_at"]))
    assert filled_at - filled_at % MINUTE_MS == THIN_BAR
    # THIN trades $100 a minute before today: half-spread 1 bp × sqrt(100,000 / 100) = 31.6 bp,
    # capped at 25 bp; 10.2 + 0.0255 + 1 bp slippage (0.00102) = 10.22652 → 10.2265
    assert got["filled_avg_price"] == "10.2265"
    assert [p["symbol"] for p in api.get("/v2/positions")] == ["THIN"]


def test_fees_of_a_sell_leave_cash_by_the_documented_amount(market):
    api = Api(market)
    api.clock_to(SESSION.open_ms + 30 * MINUTE_MS + 30_000)
    cash0 = D(api.get("/v2/account")["cash"])
    buy = api.filled(api.order("LIQ", 1000, "buy")["id"])
    # LIQ trades $50,000 a minute: half-spread 1 bp × sqrt(2) = 1.414 bp of $50 = 0.00708 → 0.0071,
    # plus 1 bp slippage (0.005)
    assert buy["filled_avg_price"] == "50.0121"
    after_buy = D(api.get("/v2/account")["cash"])
    assert after_buy == cash0 - D("50012.10") - D("0.05")  # CAT 1000 × 0.000046 = 0.046 → 0.05
    sell = api.filled(api.order("LIQ", 1000, "sell")["id"])
    assert sell["filled_avg_price"] == "49.9879"
    # SEC 49,987.90 × 27.80 / 1e6 = 1.38966 + TAF 0.166 + CAT 0.046 = 1.60166; the day has
    # accrued 1.64766, charged rounded up: 1.65 in all, so 1.60 with the sell
    account = api.get("/v2/account")
    assert D(account["cash"]) == after_buy + D("49987.90") - D("1.60")
    assert D(account["cash"]) == cash0 - D("24.20") - D("1.65")
    assert account["accrued_fees"] == "1.65"
    fees = api.get("/v2/account/activities/FEE")
    assert [(a["activity_type"], a["date"], a["net_amount"]) for a in fees] == [("FEE", "2024-03-12", "-1.65")]
    fills = api.get("/v2/account/activities", activity_types="FILL", direction="asc")
    assert [(a["side"], a["qty"], a["price"]) for a in fills] == [("buy", "1000", "50.0121"), ("sell", "1000", "49.9879")]

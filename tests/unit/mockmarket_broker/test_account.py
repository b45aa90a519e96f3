"""Cash, equity, buying power, shorts and positions, exact to the cent."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.bars import MINUTE_MS
from mockmarket.trading_errors import TradingError

D = Decimal


def test_a_fresh_account(market):
    acct = market.broker.account()
    assert (
        acct["cash"] == acct["equity"] == acct["portfolio_value"] == acct["last_equity"] == "100000"
    )
    assert acct["buying_power"] == "200000"
    assert acct["status"] == "ACTIVE" and acct["currency"] == "USD" and acct["multiplier"] == "2"
    assert acct["long_market_value"] == acct["short_market_value"] == "0"
    numbers = {
        k: v
        for k, v in acct.items()
        if k
        not in (
            "id",
            "account_number",
            "status",
            "crypto_status",
            "currency",
            "created_at",
            "balance_asof",
        )
    }
    for key, val in numbers.items():
        assert isinstance(val, str | bool | int), key
        if isinstance(val, str):
            D(val)  # every money field is a decimal string


def test_cash_and_equity_are_exact_through_a_sequence_of_trades(make_market, session):
    mk = make_market(session.open_ms + 10_000, fee_per_share=0.01, cash=25_000.55)
    prices = [50.01, 50.37, 49.99, 51.13]
    for i, p in enumerate(prices):
        mk.prices.add("AAA", session.open_ms + i * MINUTE_MS, p, c=p + 0.02)
    cash = D("25000.55")
    mk.order(symbol="AAA", qty=37, side="buy")  # 50.01
    cash -= D("1850.37") + D("0.37")
    mk.minute(session.open_ms + MINUTE_MS)
    mk.order(symbol="AAA", qty=13, side="buy")  # 50.37
    cash -= D("654.81") + D("0.13")
    mk.minute(session.open_ms + 2 * MINUTE_MS)
    mk.order(symbol="AAA", qty=20, side="sell")  # 49.99
    cash += D("999.80") - D("0.20")
    assert mk.broker.portfolio.cash == cash
    mk.minute(session.open_ms + 3 * MINUTE_MS)
    acct = mk.broker.account()
    # marked at the close of the last closed minute (minute 2: 49.99 + 0.02 = 50.01)
    assert acct["cash"] == str(cash)
    assert D(acct["long_market_value"]) == 30 * D("50.01")
    assert D(acct["equity"]) == cash + 30 * D("50.01")
    pos = mk.broker.position("AAA")
    avg = (37 * D("50.01") + 13 * D("50.37")) / 50
    assert pos["qty"] == "30" and D(pos["avg_entry_price"]) == avg.quantize(D("0.000001"))
    assert pos["current_price"] == "50.01"
    assert D(pos["cost_basis"]) == (avg * 30).quantize(D("0.01"))


def test_shorts_have_negative_qty_and_net_against_longs(market):
    market.order(symbol="AAA", qty=10, side="sell")
    pos = market.broker.position("AAA")
    assert (pos["qty"], pos["side"], pos["market_value"]) == ("-10", "short", "-500")
    acct = market.broker.account()
    assert acct["cash"] == "100500" and acct["short_market_value"] == "-500"
    assert acct["equity"] == "100000"
    market.order(symbol="AAA", qty=15, side="buy")
    pos = market.broker.position("AAA")
    assert (pos["qty"], pos["side"], pos["avg_entry_price"]) == ("5", "long", "50")
    assert market.broker.account()["cash"] == "99750"


def test_short_profit_when_price_falls(market, session):
    market.order(symbol="AAA", qty=10, side="sell")  # at 50
    m = session.open_ms + 31 * MINUTE_MS
    market.prices.add("AAA", m - MINUTE_MS, 50.0, c=48.0)
    market.minute(m)
    pos = market.broker.position("AAA")
    assert (pos["current_price"], pos["unrealized_pl"], pos["market_value"]) == ("48", "20", "-480")
    assert market.broker.account()["equity"] == "100020"


def test_insufficient_buying_power_is_403(market):
    with pytest.raises(TradingError) as e:
        market.order(symbol="AAA", qty=4001, side="buy")  # 200,050 > 200,000
    assert (e.value.status, e.value.code, e.value.message) == (
        403,
        40310000,
        "insufficient buying power",
    )
    assert market.counters.orders_rejected == 1
    market.order(symbol="AAA", qty=4000, side="buy")
    assert market.broker.account()["buying_power"] == "0"


def test_open_orders_reserve_buying_power(market):
    market.order(symbol="AAA", qty=2000, side="buy", type="limit", limit_price="40")  # rests
    assert market.broker.account()["buying_power"] == "100000"  # 2000 × 50 reserved at the mark
    with pytest.raises(TradingError):
        market.order(symbol="BBB", qty=5001, side="buy")
    market.order(symbol="BBB", qty=5000, side="buy")


def test_reducing_a_position_needs_no_buying_power(market):
    market.order(symbol="AAA", qty=4000, side="buy")
    market.order(symbol="AAA", qty=4000, side="sell")
    assert market.broker.positions() == []


def test_position_prices_and_intraday_pl(closed_market, session, prev_session):
    closed_market.order(symbol="AAA", qty=10, side="buy")
    closed_market.minute(session.open_ms)  # fills at 50
    closed_market.at(session.open_ms + 5 * MINUTE_MS + 10_000)
    pos = closed_market.broker.position("AAA")
    assert pos["lastday_price"] == "49"  # the previous session's close
    assert pos["current_price"] == "50"
    assert pos["change_today"] == str((D(50) / D(49) - 1).quantize(D("1e-10")))
    assert pos["unrealized_intraday_pl"] == "0"  # opened today: counted from its entry
    assert pos["qty_available"] == "10"
    closed_market.order(symbol="AAA", qty=4, side="sell", type="limit", limit_price="60")
    assert closed_market.broker.position("AAA")["qty_available"] == "6"


def test_positions_lookup_by_asset_id(market):
    from mockmarket.assets import asset_id

    market.order(symbol="AAA", qty=1, side="buy")
    pos = market.broker.position(str(asset_id("AAA")))
    assert pos["symbol"] == "AAA" and pos["asset_id"] == str(asset_id("AAA"))
    assert market.broker.asset("aaa")["symbol"] == "AAA"
    with pytest.raises(TradingError) as e:
        market.broker.asset("ZZZZ")
    assert e.value.status == 404


trades = st.lists(
    st.tuples(
        st.sampled_from(["AAA", "BBB"]), st.sampled_from(["buy", "sell"]), st.integers(1, 300)
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(trades=trades, fee=st.sampled_from([0, 0.005, 0.01]), bps=st.sampled_from([0, 3, 10]))
def test_the_ledger_balances_for_any_sequence_of_trades(make_market, session, trades, fee, bps):
    """cash = start − Σ side·cents(q·p) − Σ fees; positions net out; equity = cash + Σ q·mark."""
    mk = make_market(session.open_ms + 10_000, fee_per_share=fee, slippage_bps=bps)
    for i, t in enumerate(session.minutes()):
        mk.prices.add("AAA", t, 50 + (i % 7) / 100, c=50.5)
        mk.prices.add("BBB", t, 20 + (i % 5) / 100, c=19.5)
    cash, net = D(100000), {"AAA": D(0), "BBB": D(0)}
    for k, (symbol, side, qty) in enumerate(trades):
        mk.minute(session.open_ms + (k + 1) * MINUTE_MS)
        try:
            order = mk.order(symbol=symbol, qty=qty, side=side)
        except TradingError as e:
            assert e.status == 403  # out of buying power: nothing booked
            continue
        price = D(order["filled_avg_price"])
        sign = 1 if side == "buy" else -1
        cash -= sign * (qty * price).quantize(D("0.01")) + (D(str(fee)) * qty).quantize(D("0.01"))
        net[symbol] += sign * qty
    assert mk.broker.portfolio.cash == cash
    held = {p["symbol"]: D(p["qty"]) for p in mk.broker.positions()}
    assert held == {s: q for s, q in net.items() if q}
    mk.at(session.open_ms + (len(trades) + 1) * MINUTE_MS)
    marks = {"AAA": D("50.5"), "BBB": D("19.5")}
    assert mk.broker.equity() == cash + sum(q * marks[s] for s, q in net.items())

"""Fill prices: open of the minute in progress, thin symbols, slippage, fees, limits, queued orders."""

from __future__ import annotations

from decimal import Decimal

from common.bars import MINUTE_MS
from common.calendar import nyse

D = Decimal


def test_market_buy_fills_at_the_open_of_the_minute_in_progress(market, session):
    m = session.open_ms + 30 * MINUTE_MS
    market.prices.add("AAA", m, 50.12, h=50.5, low=49.9, c=50.3)
    order = market.order(symbol="AAA", qty=10, side="buy")
    assert order["status"] == "filled"
    assert order["filled_avg_price"] == "50.12"
    assert order["filled_qty"] == "10"
    assert market.broker.portfolio.cash == D("100000") - D("501.20")
    assert market.events(order["id"]) == ["new", "fill"]
    fill = market.event_data("fill")[0]
    assert (fill["price"], fill["qty"], fill["position_qty"]) == ("50.12", "10", "10")
    assert market.counters.fills == 1


def test_thin_symbol_fills_at_the_last_close_before_the_minute(market, session):
    # THIN has one bar at the open (close 10.5) and none at 10:00.
    order = market.order(symbol="THIN", qty=3, side="buy")
    assert order["filled_avg_price"] == "10.5"


def test_slippage_is_against_the_taker_and_fees_come_out_of_cash(make_market, session):
    mk = make_market(session.open_ms + 5 * MINUTE_MS, slippage_bps=10, fee_per_share=0.005)
    mk.prices.flat("AAA", session.minutes(), 50.0)
    buy = mk.order(symbol="AAA", qty=101, side="buy")
    assert buy["filled_avg_price"] == "50.05"  # 50 × 1.001
    # 101 × 50.05 = 5055.05; fee 101 × 0.005 = 0.505 → 0.50 (banker's rounding to the cent)
    assert mk.broker.portfolio.cash == D("100000") - D("5055.05") - D("0.50")
    sell = mk.order(symbol="AAA", qty=101, side="sell")
    assert sell["filled_avg_price"] == "49.95"
    assert mk.broker.portfolio.cash == D("100000") - D("5055.05") - D("0.50") + D("5044.95") - D(
        "0.50"
    )
    assert mk.broker.portfolio.positions == {}


def test_marketable_limit_fills_at_the_better_of_limit_and_open(market):
    buy = market.order(symbol="AAA", qty=5, side="buy", type="limit", limit_price="51.00")
    assert (buy["status"], buy["filled_avg_price"]) == ("filled", "50")
    sell = market.order(symbol="AAA", qty=5, side="sell", type="limit", limit_price=49.5)
    assert (sell["status"], sell["filled_avg_price"]) == ("filled", "50")


def test_resting_limit_checks_only_minutes_it_worked_through(market, session):
    m = session.open_ms + 30 * MINUTE_MS  # the minute in progress (10:00)
    market.prices.add(
        "AAA", m, 50.0, h=50.0, low=48.0, c=49.0
    )  # dips below the limit in this minute
    market.prices.add("AAA", m + MINUTE_MS, 49.5, h=49.8, low=48.9, c=49.2)
    order = market.order(symbol="AAA", qty=4, side="buy", type="limit", limit_price="49.00")
    assert order["status"] == "new"
    market.minute(m + MINUTE_MS)  # bar m: the order arrived mid-minute, so it is not checked
    assert market.broker.get_order(order["id"])["status"] == "new"
    market.minute(m + 2 * MINUTE_MS)  # bar m+1: low 48.9 ≤ 49 and open 49.5 > 49 → at the limit
    got = market.broker.get_order(order["id"])
    assert (got["status"], got["filled_avg_price"]) == ("filled", "49")


def test_resting_limit_fills_at_the_open_when_the_bar_gaps_through(market, session):
    m = session.open_ms + 30 * MINUTE_MS
    market.prices.add("AAA", m + MINUTE_MS, 52.0, h=52.5, low=51.8, c=52.2)
    order = market.order(symbol="AAA", qty=2, side="sell", type="limit", limit_price="51.00")
    assert order["status"] == "new"
    market.minute(m + MINUTE_MS)
    market.minute(m + 2 * MINUTE_MS)
    assert market.broker.get_order(order["id"])["filled_avg_price"] == "52"


def test_limit_never_fills_beyond_its_limit_with_slippage(make_market, session):
    mk = make_market(session.open_ms + 5 * MINUTE_MS, slippage_bps=50)
    mk.prices.flat("AAA", session.minutes(), 50.0)
    order = mk.order(symbol="AAA", qty=1, side="buy", type="limit", limit_price="50.10")
    assert order["filled_avg_price"] == "50.1"  # 50 × 1.005 = 50.25 is clamped to the limit


def test_order_while_closed_is_accepted_and_fills_at_the_next_open(closed_market, session):
    closed_market.prices.add("AAA", session.open_ms, 50.37, c=50.6)
    order = closed_market.order(symbol="AAA", qty=10, side="buy")
    assert order["status"] == "new" and order["filled_qty"] == "0"
    assert order["expires_at"] is not None
    closed_market.run_minutes(session.open_ms - 5 * MINUTE_MS, session.open_ms - MINUTE_MS)
    assert closed_market.broker.get_order(order["id"])["status"] == "new"
    closed_market.minute(session.open_ms)
    got = closed_market.broker.get_order(order["id"])
    assert (got["status"], got["filled_avg_price"]) == ("filled", "50.37")


def test_order_after_the_close_waits_for_the_next_session(make_market, session):
    mk = make_market(session.close_ms + 60 * MINUTE_MS)
    mk.prices.flat("AAA", session.minutes(), 50.0)
    nxt = nyse().next_session(session.date)
    mk.prices.add("AAA", nxt.open_ms, 51.0)
    order = mk.order(symbol="AAA", qty=1, side="buy")
    mk.minute(session.close_ms + 61 * MINUTE_MS)
    assert mk.broker.get_order(order["id"])["status"] == "new"
    mk.minute(nxt.open_ms)
    assert mk.broker.get_order(order["id"])["filled_avg_price"] == "51"


def test_notional_order_gets_a_fractional_quantity(market, session):
    market.prices.add("AAA", session.open_ms + 30 * MINUTE_MS, 33.33)
    order = market.order(symbol="AAA", notional=1000, side="buy")
    qty = (D(1000) / D("33.33")).quantize(D("0.000000001"), rounding="ROUND_DOWN")
    assert D(order["qty"]) == qty == D("30.0030003")
    assert order["notional"] == "1000"
    assert market.broker.portfolio.cash == D(100000) - (qty * D("33.33")).quantize(D("0.01"))


def test_partial_fills_are_seeded_and_the_remainder_fills_at_later_minutes(make_market, session):
    def run(seed: int) -> list[tuple[str, str]]:
        mk = make_market(session.open_ms + 10_000, seed=seed)
        for i, t in enumerate(session.minutes()):
            mk.prices.add("AAA", t, 50.0 + i / 100)
        mk.faults.partial_fill_rate = 1.0
        order = mk.order(symbol="AAA", qty=20, side="buy")
        assert order["status"] == "partially_filled"
        mk.run_minutes(session.open_ms + MINUTE_MS, session.open_ms + 30 * MINUTE_MS)
        got = mk.broker.get_order(order["id"])
        assert got["status"] == "filled" and got["filled_qty"] == "20"
        events = [h["data"] for h in mk.broker.updates.history]
        fills = [(e["qty"], e["price"]) for e in events if e["event"] in ("fill", "partial_fill")]
        # one execution per minute at most, each at its own minute's open
        assert len({p for _, p in fills}) == len(fills)
        assert sum(D(q) for q, _ in fills) == 20
        assert mk.events(order["id"])[-1] == "fill"
        return fills

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_ioc_cancels_the_unfilled_rest_and_fok_is_all_or_nothing(market):
    market.faults.partial_fill_rate = 1.0
    ioc = market.order(symbol="AAA", qty=10, side="buy", time_in_force="ioc")
    assert ioc["status"] == "canceled" and D(ioc["filled_qty"]) > 0
    assert market.events(ioc["id"]) == ["new", "partial_fill", "canceled"]
    fok = market.order(symbol="AAA", qty=10, side="buy", time_in_force="fok")
    assert fok["status"] == "filled" and fok["filled_qty"] == "10"
    miss = market.order(
        symbol="AAA", qty=10, side="buy", type="limit", limit_price=40, time_in_force="fok"
    )
    assert miss["status"] == "canceled" and miss["filled_qty"] == "0"


def test_opg_waits_for_the_open_and_cls_fills_at_the_closing_price(closed_market, session):
    last = session.close_ms - MINUTE_MS
    closed_market.prices.add("AAA", session.open_ms, 50.5)
    closed_market.prices.add("AAA", last, 50.0, c=51.25)
    opg = closed_market.order(symbol="AAA", qty=2, side="buy", time_in_force="opg")
    cls = closed_market.order(symbol="AAA", qty=2, side="sell", time_in_force="cls")
    closed_market.minute(session.open_ms)
    assert closed_market.broker.get_order(opg["id"])["filled_avg_price"] == "50.5"
    assert closed_market.broker.get_order(cls["id"])["status"] == "new"
    closed_market.minute(last)
    closed_market.minute(session.close_ms)
    got = closed_market.broker.get_order(cls["id"])
    assert (got["status"], got["filled_avg_price"]) == ("filled", "51.25")


def test_a_lagging_minute_loop_never_fills_a_remainder_in_an_earlier_minute(market, session):
    m = session.open_ms + 30 * MINUTE_MS  # the clock is at m + 30 s
    market.prices.add("AAA", m - MINUTE_MS, 40.0)
    market.faults.partial_fill_rate = 1.0
    order = market.order(symbol="AAA", qty=10, side="buy")
    filled = market.broker.get_order(order["id"])["filled_qty"]
    market.broker.on_minute(m - MINUTE_MS)  # the loop catches up on an older minute
    assert market.broker.get_order(order["id"])["filled_qty"] == filled
    assert all(
        e["price"] != "40" for e in market.event_data("partial_fill") + market.event_data("fill")
    )

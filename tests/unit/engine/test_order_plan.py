"""Targets vs book → orders: sells first, caps, halts, pending orders, deterministic ids."""

from __future__ import annotations

import pytest

from common.config import RiskConfig
from engine.order_plan import plan_orders
from engine.risk import RiskGuard

PX = {"AAA": 50.0, "BBB": 100.0, "CCC": 20.0, "ZZZ": 10.0}


@pytest.fixture
def t(full_day, at) -> int:
    return at(full_day, "10:00")


def plan(t, targets, positions, guard=None, **kw):
    return plan_orders(
        "rotation",
        t,
        targets,
        positions,
        prices=kw.pop("prices", PX),
        equity=kw.pop("equity", 100_000.0),
        guard=guard or RiskGuard(RiskConfig(max_position_pct=1.0)),
        **kw,
    )


def test_sells_before_buys_and_ids(t) -> None:
    p = plan(t, {"AAA": 100, "BBB": 0, "CCC": 50}, {"BBB": 30.0, "CCC": 80.0})
    got = [(o.symbol, o.side, o.qty, o.reduces) for o in p.orders]
    assert got == [
        ("BBB", "sell", 30.0, True),
        ("CCC", "sell", 30.0, True),
        ("AAA", "buy", 100.0, False),
    ]
    assert [o.client_order_id for o in p.orders] == [
        "it-rot-20251016-1000-BBB-s-0",
        "it-rot-20251016-1000-CCC-s-0",
        "it-rot-20251016-1000-AAA-b-0",
    ]


def test_at_target_means_no_order(t) -> None:
    assert plan(t, {"AAA": 100, "BBB": 0}, {"AAA": 100.0}).orders == ()


def test_replanning_the_same_minute_yields_the_same_ids(t) -> None:
    """A relaunch that re-decides a minute sends ids the broker knows: it cannot double."""
    a = plan(t, {"AAA": 100}, {})
    b = plan(t, {"AAA": 100}, {})
    assert [o.client_order_id for o in a.orders] == [o.client_order_id for o in b.orders]


def test_pending_orders_count_toward_the_target(t) -> None:
    assert plan(t, {"AAA": 100}, {"AAA": 40.0}, pending={"AAA": 60.0}).orders == ()
    p = plan(t, {"AAA": 100}, {"AAA": 40.0}, pending={"AAA": 20.0})
    assert [(o.side, o.qty) for o in p.orders] == [("buy", 40.0)]


def test_a_sell_never_exceeds_what_is_held_when_buys_are_pending(t) -> None:
    p = plan(t, {"AAA": 0}, {"AAA": 10.0}, pending={"AAA": 90.0})
    assert p.cancels == (("AAA", "buy"),)
    assert [(o.side, o.qty) for o in p.orders] == [("sell", 10.0)]
    p = plan(t, {"AAA": 100}, {"AAA": 100.0}, pending={"AAA": -100.0})  # exit pending, target back
    assert p.cancels == (("AAA", "sell"),) and p.orders == ()


def test_never_crosses_zero_in_one_order(t) -> None:
    p = plan(t, {"AAA": 10}, {"AAA": -5.0})
    assert [(o.side, o.qty, o.reduces) for o in p.orders] == [
        ("buy", 5.0, True),
        ("buy", 10.0, False),
    ]
    assert [o.client_order_id[-1] for o in p.orders] == ["0", "1"]  # same minute/symbol/side: seq


def test_used_ids_are_skipped(t) -> None:
    used = {"it-rot-20251016-1000-AAA-b-0", "it-rot-20251016-1000-AAA-b-1"}
    p = plan(t, {"AAA": 10}, {}, used_ids=used)
    assert p.orders[0].client_order_id == "it-rot-20251016-1000-AAA-b-2"


def test_position_cap(t) -> None:
    guard = RiskGuard(RiskConfig(max_position_pct=0.2))
    p = plan(t, {"AAA": 1000}, {}, guard)  # 1000 × 50 = 50 % of equity
    assert [(o.side, o.qty) for o in p.orders] == [("buy", 400.0)]
    assert any("capped to 400" in n for n in p.notes)
    assert plan(t, {"AAA": 1000}, {"AAA": 600.0}, guard).orders == ()  # never forced down


def test_orders_per_minute_cap_spares_reductions(t) -> None:
    guard = RiskGuard(RiskConfig(max_position_pct=1.0, max_orders_per_minute=3))
    targets = {"AAA": 10, "BBB": 10, "CCC": 10, "ZZZ": 0}
    p = plan(t, targets, {"ZZZ": 5.0}, guard, sent_this_minute=1)
    assert [(o.symbol, o.side) for o in p.orders] == [("ZZZ", "sell"), ("AAA", "buy")]
    assert len(p.deferred) == 2 and all("max_orders_per_minute" in d for d in p.deferred)
    p = plan(t, {"ZZZ": 0}, {"ZZZ": 5.0}, guard, sent_this_minute=3)
    assert [(o.symbol, o.side) for o in p.orders] == [("ZZZ", "sell")]  # reductions always go


def test_buy_without_price_is_deferred(t) -> None:
    p = plan(t, {"AAA": 10}, {}, prices={})
    assert p.orders == () and "no price" in p.deferred[0]


def test_daily_loss_limit_flattens_everything_and_halts(t) -> None:
    guard = RiskGuard(RiskConfig(max_position_pct=1.0, daily_loss_limit_pct=0.02))
    held = {"AAA": 10.0, "FOREIGN": 3.0, "CCC": -4.0}
    p = plan(t, {"AAA": 20, "BBB": 5}, held, guard, equity=97_900.0, start_equity=100_000.0)
    assert p.halted and "daily loss limit" in (p.halt_reason or "")
    assert sorted((o.symbol, o.side, o.qty) for o in p.orders) == [
        ("AAA", "sell", 10.0),
        ("CCC", "buy", 4.0),
        ("FOREIGN", "sell", 3.0),
    ]
    assert all(o.reduces for o in p.orders)
    ok = plan(t, {"AAA": 20}, {"AAA": 10.0}, guard, equity=98_100.0, start_equity=100_000.0)
    assert not ok.halted and [(o.side, o.qty) for o in ok.orders] == [("buy", 10.0)]


def test_halted_earlier_today_stays_flat(t) -> None:
    p = plan(t, {"AAA": 20}, {"AAA": 10.0}, halted=True)
    assert p.halted and [(o.side, o.qty) for o in p.orders] == [("sell", 10.0)]
    assert plan(t, {"AAA": 20}, {}, halted=True).orders == ()


def test_bad_targets_are_refused(t) -> None:
    with pytest.raises(ValueError, match="target of AAA=-1"):
        plan(t, {"AAA": -1}, {})
    with pytest.raises(ValueError, match="target of AAA=1.5"):
        plan(t, {"AAA": 1.5}, {})


# ---------------------------------------------------------------- each rule at its edges


@pytest.mark.parametrize(
    ("effective", "target", "legs"),
    [
        (10.0, 4.0, [("sell", 6.0, True)]),
        (-5.0, 3.0, [("buy", 5.0, True), ("buy", 3.0, False)]),
        (5.0, -3.0, [("sell", 5.0, True), ("sell", 3.0, False)]),
        (0.0, -3.0, [("sell", 3.0, False)]),
        (9.5, 10.0, [("buy", 0.5, False)]),
        (10.0, 9.5, [("sell", 0.5, True)]),
        (2e-6, 1e-6, []),  # a difference of QTY_EPS is no difference
        (1e-6, -5.0, [("sell", 5.000001, False)]),  # a position of QTY_EPS is flat: nothing to reduce
        (-1e-6, 5.0, [("buy", 5.000001, False)]),
    ],
)
def test_legs_never_cross_zero_and_ignore_what_is_within_tolerance(effective, target, legs) -> None:
    from engine.order_plan import _legs

    got = _legs(effective, target)
    assert [(s, r) for s, _, r in got] == [(s, r) for s, _, r in legs]
    assert [q for _, q, _ in got] == pytest.approx([q for _, q, _ in legs])


def test_a_halt_earlier_today_says_so_on_every_order(t) -> None:
    p = plan(t, {"AAA": 10}, {"BBB": 5.0}, halted=True)
    assert p.halted and p.halt_reason == "halted earlier today"
    assert [(o.symbol, o.side, o.reason) for o in p.orders] == [("BBB", "sell", "halted earlier today")]


def test_a_halt_cancels_pending_buys_on_symbols_neither_held_nor_targeted(t) -> None:
    p = plan(t, {}, {"DUST": 1e-6}, halted=True, pending={"CCC": 20.0, "ZZZ": -3.0, "NONE": 1e-6})
    assert p.targets == {"CCC": 0, "ZZZ": 0}  # dust and a pending of QTY_EPS are nothing
    assert p.cancels == (("CCC", "buy"), ("ZZZ", "sell")) and p.orders == ()  # a sell of nothing held: canceled


def test_a_price_that_is_not_a_positive_finite_number_defers_the_buy(t) -> None:
    p = plan(t, {"AAA": 10, "BBB": 10, "CCC": 10, "ZZZ": 10}, {},
             prices={"AAA": float("inf"), "BBB": 0.0, "CCC": 0.5, "ZZZ": -1.0})  # fmt: skip
    assert p.deferred == ("AAA: buy to 10 deferred: no price", "BBB: buy to 10 deferred: no price",
                          "ZZZ: buy to 10 deferred: no price")  # fmt: skip
    assert [(o.symbol, o.qty) for o in p.orders] == [("CCC", 10.0)]  # a price under 1 is a price


def test_without_a_price_a_short_is_still_covered_but_no_long_opened(t) -> None:
    p = plan(t, {"AAA": 3, "BBB": 4}, {"AAA": -5.0}, prices={"BBB": 100.0})
    assert [(o.symbol, o.side, o.qty, o.reduces) for o in p.orders] == [("AAA", "buy", 5.0, True), ("BBB", "buy", 4.0, False)]
    assert p.deferred == ()


def test_a_cap_that_does_not_bind_leaves_no_note(t) -> None:
    p = plan(t, {"AAA": 10}, {}, guard=RiskGuard(RiskConfig(max_position_pct=0.005)), equity=100_000.0)
    assert p.notes == () and [o.qty for o in p.orders] == [10.0]  # 0.5% of 100k at 50 = 10 shares
    capped = plan(t, {"AAA": 11}, {}, guard=RiskGuard(RiskConfig(max_position_pct=0.005)), equity=100_000.0)
    assert capped.notes == ("AAA: target 11 capped to 10 by max_position_pct",)


def test_each_order_carries_its_symbol_s_reason_or_the_default(t) -> None:
    p = plan(t, {"AAA": 10, "BBB": 5}, {}, reasons={"AAA": "enter: p=0.61"})
    assert [(o.symbol, o.reason) for o in p.orders] == [("AAA", "enter: p=0.61"), ("BBB", "rebalance to target")]


def test_reductions_come_first_then_sells_then_by_symbol(t) -> None:
    p = plan(t, {"AAA": 10, "ZZZ": 0, "CCC": 0, "BBB": 2}, {"ZZZ": 5.0, "CCC": -4.0, "BBB": 1.0})
    assert [(o.symbol, o.side, o.reduces) for o in p.orders] == [
        ("ZZZ", "sell", True), ("CCC", "buy", True), ("AAA", "buy", False), ("BBB", "buy", False)]  # fmt: skip


def test_every_order_that_adds_risk_takes_one_of_the_minute_s_places(t) -> None:
    guard = RiskGuard(RiskConfig(max_position_pct=1.0, max_orders_per_minute=3))
    p = plan(t, {"AAA": 1, "BBB": 1, "CCC": 1, "ZZZ": 1}, {}, guard=guard)
    assert [o.symbol for o in p.orders] == ["AAA", "BBB", "CCC"]
    assert p.deferred == ("ZZZ: buy 1 deferred: max_orders_per_minute reached",)


def test_at_target_nothing_is_deferred_even_without_a_price(t) -> None:
    p = plan(t, {"AAA": 10}, {"AAA": 10.0}, prices={})
    assert p.orders == () and p.deferred == ()


def test_within_qty_eps_of_the_target_no_buy_is_deferred_or_capped(t) -> None:
    p = plan(t, {"AAA": 5}, {"AAA": 5 - 1e-6}, prices={})  # 4.999999 + QTY_EPS is 5.0
    assert p.deferred == () and p.notes == ()


@pytest.mark.parametrize(("held", "target"), [(5 - 1e-6, 5), (5 + 1e-6, 5), (1e-6, 0), (-1e-6, 0)])
def test_within_qty_eps_of_the_target_no_dust_order_is_planned(t, held, target) -> None:
    p = plan(t, {"AAA": target}, {"AAA": held}, prices={"AAA": 10.0})
    assert p.orders == () and p.deferred == () and p.cancels == ()


def test_a_dust_short_of_qty_eps_is_no_short_to_cover(t) -> None:
    p = plan(t, {"AAA": 3}, {"AAA": -1e-6}, prices={})
    assert p.orders == () and p.deferred == ("AAA: buy to 3 deferred: no price",)


def test_a_pending_quantity_of_qty_eps_is_nothing_to_cancel(t) -> None:
    buy = plan(t, {"AAA": 0}, {"AAA": 5.0}, pending={"AAA": 1e-6})
    assert buy.cancels == ()
    sell = plan(t, {"AAA": 6}, {"AAA": 5.0}, pending={"AAA": -1e-6})
    assert sell.cancels == ()


def test_pending_orders_within_qty_eps_of_the_target_are_not_canceled(t) -> None:
    buys = plan(t, {"AAA": 5}, {}, pending={"AAA": 5.000001})  # 5.000001 - QTY_EPS is 5.0
    assert buys.cancels == ()
    sells = plan(t, {"AAA": 5}, {"AAA": 6.999999}, pending={"AAA": -2.0})  # 4.999999 + QTY_EPS is 5.0
    assert sells.cancels == ()

"""Reconciliation: broker positions and open orders → strategy state, policies, journal restore."""

from __future__ import annotations

from datetime import date

import pytest

from common.calendar import MINUTE_MS
from common.config import ROTATION_SYMBOLS
from common.rest_models import Order, Position
from engine.order_ids import OrderKey
from engine.order_plan import plan_orders
from engine.reconcile import reconcile
from engine.risk import RiskGuard
from engine.strategies import Holding, PsmState, PsmStrategy, RotationStrategy, Signal

PSM_PX = {"SPY": 500.0, "SPXL": 150.0, "SH": 40.0, "SDS": 20.0}
ROT_PX = dict.fromkeys(ROTATION_SYMBOLS, 50.0)
EQUITY = 100_000.0


def position(symbol: str, qty: float, price: float = 50.0) -> Position:
    return Position.from_json(
        {
            "symbol": symbol,
            "qty": str(qty),
            "side": "long" if qty > 0 else "short",
            "avg_entry_price": str(price),
            "asset_id": "00000000-0000-0000-0000-000000000000",
        }
    )


def order(
    oid: str, cid: str, symbol: str, side: str, qty: float, filled: float = 0.0, status: str = "new"
) -> Order:
    return Order.from_json(
        {
            "id": oid,
            "client_order_id": cid,
            "symbol": symbol,
            "side": side,
            "qty": str(qty),
            "filled_qty": str(filled),
            "status": status,
            "type": "market",
            "time_in_force": "day",
            "created_at": "2025-10-16T14:00:00Z",
        }
    )


def psm_holding(state: PsmState, scale: float = 1.0) -> list[Position]:
    """Positions of a PSM state at its exact allocation (0.95 × 100k)."""
    from engine.strategies.psm_ladder import ALLOCATIONS

    out = []
    for sym, w in ALLOCATIONS[state].items():
        out.append(position(sym, int(95_000 * w / PSM_PX[sym] * scale), PSM_PX[sym]))
    return out


@pytest.fixture
def t(full_day, at) -> int:
    return at(full_day, "14:45")


def run(
    strategy, positions, orders=(), *, t, journal_state=None, prices=None, day=date(2025, 10, 16)
):
    return reconcile(
        strategy,
        positions,
        list(orders),
        session_date=day,
        t_ms=t,
        prices=prices or (PSM_PX if isinstance(strategy, PsmStrategy) else ROT_PX),
        equity=EQUITY,
        journal_state=journal_state,
    )


# ------------------------------------------------------------------ PSM


@pytest.mark.parametrize("state", list(PsmState))
def test_every_psm_state_is_recognized(psm_cfg, t, state) -> None:
    strat = PsmStrategy(psm_cfg())
    res = run(strat, psm_holding(state), t=t)
    assert res.action == "continue" and res.state_name == state.value
    assert res.log_line().startswith(f"Position reconciliation complete: {state.value}")
    held = {p.symbol: int(p.qty) for p in psm_holding(state)}
    assert {s: q for s, q in res.targets.items() if q} == held  # at allocation: nothing to trade
    strat.load_state(res.strategy_state)
    assert strat.state == state


def test_psm_relaunch_in_base_bull_3x_sends_nothing(psm_cfg, feed, full_day, at, t) -> None:
    """Relaunched while holding SPY+SPXL: continues in BASE_BULL_3X, no order for what it holds."""
    cfg = psm_cfg()
    before = PsmStrategy(cfg)
    f = feed(full_day, cfg)
    entered_at = at(full_day, "14:30")
    d = before.decide(f.minute(entered_at, {"SPY": Signal(0.62, 0.3)}, PSM_PX))
    assert d.summary == PsmState.BASE_BULL_3X
    broker = [position(s, q, PSM_PX[s]) for s, q in d.targets.items() if q]
    after = PsmStrategy(cfg)
    res = run(after, broker, t=t, journal_state=before.state_dict())
    assert (res.state_name, res.journal) == ("BASE_BULL_3X", "restored")
    after.load_state(res.strategy_state)
    assert after.entered_t_ms == entered_at  # the hold clock continues
    plan = plan_orders(
        "psm",
        t,
        res.targets,
        {p.symbol: p.qty for p in broker},
        prices=PSM_PX,
        equity=EQUITY,
        guard=RiskGuard(cfg.risk),
    )
    assert plan.orders == ()
    nxt = after.decide(
        f.minute(
            t,
            {"SPY": Signal(0.62, 0.3)},
            PSM_PX,
            positions={p.symbol: Holding(int(p.qty), p.avg_entry_price) for p in broker},
        )
    )
    assert nxt.summary == PsmState.BASE_BULL_3X and nxt.targets == d.targets


def no_orders(cfg, res, broker, prices, t) -> bool:
    """Whether the reconciled targets send nothing for what the broker holds."""
    plan = plan_orders(
        res.strategy,
        t,
        res.targets,
        {p.symbol: p.qty for p in broker},
        prices=prices,
        equity=EQUITY,
        guard=RiskGuard(cfg.risk),
    )
    return plan.orders == ()


@pytest.mark.parametrize("scale", [0.5, 0.95, 1.3])
def test_psm_quantities_are_kept_as_they_are_whatever_the_allocation(psm_cfg, t, scale) -> None:
    # issue 9: takeover never resizes (the old policy rebalanced 0.5 and 1.3 to the allocation)
    broker = psm_holding(PsmState.BASE_BULL_3X, scale=scale)
    res = run(PsmStrategy(psm_cfg()), broker, t=t)
    assert (res.state_name, res.action, res.issues) == ("BASE_BULL_3X", "continue", ())
    assert {s: q for s, q in res.targets.items() if q} == {p.symbol: int(p.qty) for p in broker}
    assert "to trade" not in res.summary
    assert no_orders(psm_cfg(), res, broker, PSM_PX, t)


def test_psm_journal_that_disagrees_is_reset_conservatively(psm_cfg, t) -> None:
    strat = PsmStrategy(psm_cfg())
    journal = PsmStrategy(psm_cfg())
    journal.assume(
        "SPXL_ONLY", {"SPXL": 633}, entered_t_ms=t - 30 * MINUTE_MS, session_date=date(2025, 10, 16)
    )
    res = run(strat, psm_holding(PsmState.SPY_ONLY), t=t, journal_state=journal.state_dict())
    assert res.state_name == "SPY_ONLY" and res.journal == "reset"
    strat.load_state(res.strategy_state)
    assert strat.entered_t_ms == t  # minimum hold starts again now


def test_journal_of_another_day_or_disabled_is_not_restored(psm_cfg, t) -> None:
    old = PsmStrategy(psm_cfg())
    old.assume(
        "SPY_ONLY", {"SPY": 190}, entered_t_ms=t - 1440 * MINUTE_MS, session_date=date(2025, 10, 15)
    )
    res = run(
        PsmStrategy(psm_cfg()), psm_holding(PsmState.SPY_ONLY), t=t, journal_state=old.state_dict()
    )
    assert res.journal == "none"
    today = PsmStrategy(psm_cfg())
    today.assume(
        "SPY_ONLY", {"SPY": 190}, entered_t_ms=t - 5 * MINUTE_MS, session_date=date(2025, 10, 16)
    )
    cfg = psm_cfg(reconciliation__restore_journal_state=False)
    assert (
        run(
            PsmStrategy(cfg), psm_holding(PsmState.SPY_ONLY), t=t, journal_state=today.state_dict()
        ).journal
        == "none"
    )
    assert (
        run(
            PsmStrategy(psm_cfg()),
            psm_holding(PsmState.SPY_ONLY),
            t=t,
            journal_state=today.state_dict(),
        ).journal
        == "restored"
    )


def test_corrupt_journal_state_is_reported_and_ignored(psm_cfg, t) -> None:
    res = run(
        PsmStrategy(psm_cfg()),
        psm_holding(PsmState.SPY_ONLY),
        t=t,
        journal_state={"strategy": "psm", "version": 7},
    )
    assert res.journal == "none" and any("journal state ignored" in i for i in res.issues)


UNFIT_PSM = [
    ([position("SPY", 100, 500.0), position("SH", 100, 40.0)], "no PSM state holds"),
    ([position("SPY", 190, 500.0), position("SH", -10, 40.0)], "short positions"),
    ([position("SPY", 10.5, 500.0)], "fractional"),
]


@pytest.mark.parametrize(("positions", "issue"), UNFIT_PSM)
def test_psm_unfit_sets_are_adopted_by_default_with_no_order(psm_cfg, t, positions, issue) -> None:
    # issue 9: the default policy is adopt (it was flatten: every unfit set was sold at start-up)
    manual = order("o-9", "my-own-order", "SPY", "buy", 5)
    res = run(PsmStrategy(psm_cfg()), positions, [manual], t=t)
    assert res.action == "continue" and any(issue in i for i in res.issues)
    assert res.cancel_order_ids == ("o-9",)  # a hand-placed order on a strategy symbol
    assert no_orders(psm_cfg(), res, positions, PSM_PX, t)
    strat = PsmStrategy(psm_cfg())
    strat.load_state(res.strategy_state)
    kept = {s: k.qty for s, k in strat.kept.items()}
    assert kept == {p.symbol: p.qty for p in positions if p.qty < 0 or p.qty != int(p.qty)}


@pytest.mark.parametrize(("positions", "issue"), UNFIT_PSM)
def test_psm_flatten_policy_closes_the_universe_and_nothing_else(psm_cfg, t, positions, issue) -> None:
    manual = order("o-9", "my-own-order", "SPY", "buy", 5)
    foreign_order = order("o-8", "manual", "AAPL", "buy", 1)
    held = [*positions, position("AAPL", 5, 200.0)]
    res = run(PsmStrategy(psm_cfg(reconciliation__policy="flatten")), held, [manual, foreign_order], t=t)
    assert res.action == "flatten" and res.state_name == "CASH_ONLY"
    assert res.targets == dict.fromkeys(["SDS", "SH", "SPXL", "SPY"], 0)  # AAPL: never traded
    assert set(res.cancel_order_ids) == {"o-9", "o-8"}  # flatten: every open order canceled
    assert any(issue in i for i in res.issues)


def test_foreign_symbols_alone_fit_and_are_left_alone(psm_cfg, t) -> None:
    foreign_order = order("o-1", "manual", "AAPL", "buy", 1)
    broker = [*psm_holding(PsmState.SPY_ONLY), position("AAPL", 5, 200.0), position("TQQQ", -3)]
    for policy in ("adopt", "flatten", "halt"):
        res = run(PsmStrategy(psm_cfg(reconciliation__policy=policy)), broker, [foreign_order], t=t)
        assert (res.action, res.state_name, res.issues) == ("continue", "SPY_ONLY", ()), policy
        assert "AAPL" not in res.targets and "TQQQ" not in res.targets
        assert res.cancel_order_ids == ()  # their orders stay working
        assert "AAPL: outside the psm strategy's universe: left alone (never traded)" in res.details


def test_psm_adopt_policy_keeps_the_mix(psm_cfg, t) -> None:
    foreign_order = order("o-1", "manual", "AAPL", "buy", 1)
    broker = [
        position("SPY", 100, 500.0),
        position("SH", 100, 40.0),
        position("AAPL", 5, 200.0),
        position("SDS", -3, 20.0),
    ]
    res = run(PsmStrategy(psm_cfg()), broker, [foreign_order], t=t)
    assert res.action == "continue" and res.state_name == "ADOPTED"
    # issue 9: the short is kept aside (left out of the targets), no longer covered at start-up
    assert res.targets == {"SPY": 100, "SPXL": 0, "SH": 100}
    assert "AAPL" not in res.targets and res.cancel_order_ids == ()  # foreign: left alone
    assert no_orders(psm_cfg(), res, broker, PSM_PX, t)
    strat = PsmStrategy(psm_cfg())
    strat.load_state(res.strategy_state)
    assert strat.state == "ADOPTED" and strat.targets()["SH"] == 100
    assert strat.kept["SDS"].qty == -3 and strat.kept["SDS"].entry_price == 20.0


def test_psm_halt_policy_changes_nothing(psm_cfg, t) -> None:
    res = run(
        PsmStrategy(psm_cfg(reconciliation__policy="halt")),
        [position("SPY", 100, 500.0), position("SH", 100, 40.0)],
        [order("o-1", "x", "SPY", "buy", 1)],
        t=t,
    )
    assert res.action == "halt" and res.cancel_order_ids == ()
    assert res.targets == {"SPY": 100, "SH": 100}


# ------------------------------------------------------------------ open orders


def test_open_orders_adopted_or_cancelled(psm_cfg, full_day, at, t) -> None:
    today = OrderKey.for_minute("psm", at(full_day, "14:30"), "SPXL", "buy").client_order_id()
    yesterday = "it-psm-20251015-1430-SPY-b-0"
    other_strategy = OrderKey.for_minute("rotation", at(full_day, "14:30"), "SDS", "buy").client_order_id()
    orders = [
        order("o-1", today, "SPXL", "buy", 316, filled=16, status="partially_filled"),
        order("o-2", yesterday, "SPY", "buy", 10),
        order("o-3", other_strategy, "SDS", "buy", 10),
        order("o-4", "hand-placed", "SH", "sell", 1),
        order("o-5", "done", "SPY", "buy", 1, status="filled"),
    ]
    res = run(
        PsmStrategy(psm_cfg()),
        psm_holding(PsmState.SPY_ONLY, scale=0.5) + [position("SPXL", 16, 150.0)],
        orders,
        t=t,
    )
    assert res.adopt_order_ids == ("o-1",)
    assert set(res.cancel_order_ids) == {"o-2", "o-3", "o-4"}
    assert res.pending == {"SPXL": 300.0}
    assert res.state_name == "BASE_BULL_3X"  # SPY held + SPXL arriving


def test_adopted_order_counts_so_nothing_is_doubled(psm_cfg, full_day, at, t) -> None:
    cfg = psm_cfg()
    journal = PsmStrategy(cfg)
    journal.assume(
        "SPXL_ONLY", {"SPXL": 633}, entered_t_ms=at(full_day, "14:44"), session_date=full_day.date
    )
    cid = OrderKey.for_minute("psm", at(full_day, "14:44"), "SPXL", "buy").client_order_id()
    res = run(
        PsmStrategy(cfg),
        [],
        [order("o-1", cid, "SPXL", "buy", 633)],
        t=t,
        journal_state=journal.state_dict(),
    )
    assert (res.state_name, res.journal) == ("SPXL_ONLY", "restored")
    plan = plan_orders(
        "psm",
        t,
        res.targets,
        {},
        pending=res.pending,
        prices=PSM_PX,
        equity=EQUITY,
        guard=RiskGuard(cfg.risk),
    )
    assert plan.orders == ()


# ------------------------------------------------------------------ rotation


def rotation_journal(cfg, entry_t: int, syms=("ERX", "FAS", "TQQQ")) -> RotationStrategy:
    from engine.strategies import Slot

    j = RotationStrategy(cfg)
    j.assume(
        {s: Slot(633, entry_t + i * MINUTE_MS, 50.0) for i, s in enumerate(syms)},
        session_date=date(2025, 10, 16),
        cooldown_until={"SQQQ": entry_t + 100 * MINUTE_MS},
        smoothed={"TQQQ": 0.2},
        last_t_ms=entry_t + 5 * MINUTE_MS,
        seen_t_ms=entry_t + 5 * MINUTE_MS,
    )
    return j


def test_rotation_relaunch_restores_three_positions_and_doubles_none(
    rot_cfg, full_day, at, t
) -> None:
    cfg = rot_cfg()
    journal = rotation_journal(cfg, at(full_day, "14:00"))
    broker = [position(s, 633, 49.5) for s in ("ERX", "FAS", "TQQQ")]
    strat = RotationStrategy(cfg)
    res = run(strat, broker, t=t, journal_state=journal.state_dict())
    assert (res.state_name, res.journal, res.action) == (
        "ROTATION[ERX,FAS,TQQQ]",
        "restored",
        "continue",
    )
    strat.load_state(res.strategy_state)
    assert {s: slot.entry_t_ms for s, slot in strat.book.items()} == {
        s: slot.entry_t_ms for s, slot in journal.book.items()
    }
    assert all(slot.entry_price == 49.5 for slot in strat.book.values())  # the broker's price
    assert strat.cooldown_until == {"SQQQ": at(full_day, "14:00") + 100 * MINUTE_MS}
    assert strat.aggregator.smoothed == {"TQQQ": 0.2}
    plan = plan_orders(
        "rotation",
        t,
        res.targets,
        {p.symbol: p.qty for p in broker},
        prices=ROT_PX,
        equity=EQUITY,
        guard=RiskGuard(cfg.risk),
    )
    assert plan.orders == ()


def test_rotation_without_journal_starts_hold_clocks_now(rot_cfg, t) -> None:
    strat = RotationStrategy(rot_cfg())
    res = run(strat, [position("TNA", 633, 48.0)], t=t)
    assert (res.state_name, res.journal) == ("ROTATION[TNA]", "none")
    strat.load_state(res.strategy_state)
    assert strat.book["TNA"].entry_t_ms == t and strat.book["TNA"].entry_price == 48.0


def test_rotation_partly_agreeing_journal(rot_cfg, full_day, at, t) -> None:
    cfg = rot_cfg()
    journal = rotation_journal(cfg, at(full_day, "14:00"))
    broker = [position("ERX", 633), position("FAS", 200), position("TNA", 633)]
    res = run(RotationStrategy(cfg), broker, t=t, journal_state=journal.state_dict())
    assert res.journal == "partly restored"
    strat = RotationStrategy(cfg)
    strat.load_state(res.strategy_state)
    assert strat.book["ERX"].entry_t_ms == at(full_day, "14:00")
    # issue 9: a holding the journal disagrees with keeps its quantity (it was resized to 633)
    assert strat.book["FAS"].entry_t_ms == t and strat.book["FAS"].qty == 200
    assert strat.book["TNA"].entry_t_ms == t
    assert "TQQQ" not in strat.book


def test_rotation_too_many_holdings(rot_cfg, t) -> None:
    broker = [position(s, 100) for s in ("ERX", "FAS", "TNA", "TQQQ")]
    # issue 9: adopted by default (the old default flattened all four)
    adopted = run(RotationStrategy(rot_cfg()), broker, t=t)
    assert (adopted.action, adopted.state_name) == ("continue", "ROTATION[ERX,FAS,TNA,TQQQ]")
    assert no_orders(rot_cfg(), adopted, broker, ROT_PX, t)
    res = run(RotationStrategy(rot_cfg(reconciliation__policy="flatten")), broker, t=t)
    assert res.action == "flatten" and all(q == 0 for q in res.targets.values())


def test_restored_rotation_flattens_at_end_of_day(rot_cfg, feed, full_day, at, t) -> None:
    cfg = rot_cfg()
    broker = [position(s, 633) for s in ("ERX", "FAS", "TQQQ")]
    res = run(
        RotationStrategy(cfg),
        broker,
        t=t,
        journal_state=rotation_journal(cfg, at(full_day, "14:00")).state_dict(),
    )
    strat = RotationStrategy(cfg)
    strat.load_state(res.strategy_state)
    f = feed(full_day, cfg)
    f.positions = {p.symbol: Holding(int(p.qty), p.avg_entry_price) for p in broker}
    strong = {s: Signal(0.6, 0.3) for s in ROTATION_SYMBOLS}
    assert sum(strat.decide(f.minute(at(full_day, "15:56"), strong, ROT_PX)).targets.values()) > 0
    assert set(strat.decide(f.minute(at(full_day, "15:57"), strong, ROT_PX)).targets.values()) == {
        0
    }


@pytest.mark.parametrize("policy", ["adopt", "halt"])
def test_open_orders_are_summed_per_symbol_adopted_by_id_and_others_canceled(rot_cfg, t, policy) -> None:
    """Two of today's open buys on one symbol add up (what is left of each), the held shares
    plus that is the holding, both are adopted by broker id, and a hand-placed order on a
    universe symbol is canceled; under ``halt`` (five longs: more than the slots) the same
    figures come back with the HALT state and nothing is canceled."""
    day = date(2025, 10, 16)
    key = OrderKey.for_minute("rotation", t - MINUTE_MS, "TQQQ", "buy")
    orders = [
        order("o1", key.with_seq(0).client_order_id(), "TQQQ", "buy", 10, filled=4, status="partially_filled"),
        order("o2", key.with_seq(1).client_order_id(), "TQQQ", "buy", 3),
        order("o3", "by-hand-1", "FAS", "sell", 2),
    ]
    held = [position("TQQQ", 5)]
    if policy == "halt":
        held += [position(s, 10) for s in ("TNA", "ERX", "SSO", "SVXY")]
    res = run(RotationStrategy(rot_cfg(reconciliation__policy=policy)), held, orders, t=t, day=day)
    assert res.pending == {"TQQQ": 9.0}
    assert res.holdings["TQQQ"] == 14.0
    assert res.adopt_order_ids == ("o1", "o2")
    if policy == "halt":
        assert (res.state_name, res.action, res.cancel_order_ids) == ("HALT", "halt", ())
        assert res.issues and res.holdings == {"TQQQ": 14.0, **dict.fromkeys(("TNA", "ERX", "SSO", "SVXY"), 10.0)}
    else:
        assert res.action != "halt" and res.cancel_order_ids == ("o3",)
        assert any("cancel open order by-hand-1 sell FAS" in d for d in res.details)


# ------------------------------------------------------------------ each step at its edges


def test_the_halt_result_names_the_strategy_keeps_the_figures_and_resets_the_state(psm_cfg, t) -> None:
    cfg = psm_cfg(reconciliation__policy="halt")
    mine = OrderKey.for_minute("psm", t - MINUTE_MS, "SPY", "buy").client_order_id()
    res = run(PsmStrategy(cfg), [position("SPY", 100, 500.0), position("SH", 100, 40.0)],
              [order("o-1", mine, "SPY", "buy", 5), order("o-2", "x", "SH", "buy", 1)], t=t)  # fmt: skip
    assert (res.strategy, res.state_name, res.action, res.journal) == ("psm", "HALT", "halt", "none")
    assert res.pending == {"SPY": 5.0} and res.adopt_order_ids == ("o-1",) and res.cancel_order_ids == ()
    assert res.holdings == {"SPY": 105.0, "SH": 100.0} and res.targets == {"SPY": 105, "SH": 100}
    fresh = PsmStrategy(cfg)
    fresh.reset(date(2025, 10, 16))
    assert res.strategy_state == fresh.state_dict()
    assert res.details[0].startswith("adopt open order") and "cancel open order x buy SH" in res.details
    assert any("no PSM state holds" in i for i in res.issues)


def test_the_flatten_result_names_the_strategy_and_cancels_every_order_including_its_own(psm_cfg, t) -> None:
    cfg = psm_cfg(reconciliation__policy="flatten")
    mine = OrderKey.for_minute("psm", t - MINUTE_MS, "SPY", "buy").client_order_id()
    res = run(PsmStrategy(cfg), [position("SPY", 100, 500.0), position("SH", 100, 40.0)],
              [order("o-1", mine, "SPY", "buy", 5), order("o-2", "x", "AAPL", "buy", 1)], t=t)  # fmt: skip
    assert (res.strategy, res.state_name, res.action, res.journal) == ("psm", "CASH_ONLY", "flatten", "reset")
    assert res.pending == {} and res.adopt_order_ids == () and res.cancel_order_ids == ("o-1", "o-2")
    assert res.holdings == {"SPY": 105.0, "SH": 100.0}
    fresh = PsmStrategy(cfg)
    fresh.reset(date(2025, 10, 16))
    assert res.strategy_state == fresh.state_dict()
    assert "cancel open order x buy AAPL" in res.details and any("no PSM state holds" in i for i in res.issues)


def test_the_continue_result_names_the_strategy_and_its_session(psm_cfg, t) -> None:
    res = run(PsmStrategy(psm_cfg()), psm_holding(PsmState.SPY_ONLY), t=t)
    assert res.strategy == "psm" and res.strategy_state["session_date"] == "2025-10-16"
    assert res.log_line().startswith("Position reconciliation complete: SPY_ONLY (SPY ")


def test_flat_positions_are_skipped_and_the_rest_still_read(rot_cfg, t) -> None:
    res = run(RotationStrategy(rot_cfg()), [position("TQQQ", 0), position("SSO", 1e-6), position("FAS", 7)], t=t)
    assert res.holdings == {"FAS": 7.0}


def test_pending_sells_subtract_and_an_order_without_a_quantity_adds_nothing(rot_cfg, t) -> None:
    key = OrderKey.for_minute("rotation", t - MINUTE_MS, "TQQQ", "sell")
    no_qty = order("o2", OrderKey.for_minute("rotation", t - MINUTE_MS, "FAS", "buy").client_order_id(), "FAS", "buy", 1)
    object.__setattr__(no_qty, "qty", None)  # a notional order: no share quantity
    orders = [order("o1", key.client_order_id(), "TQQQ", "sell", 4, filled=1, status="partially_filled"), no_qty]
    res = run(RotationStrategy(rot_cfg()), [position("TQQQ", 10), position("FAS", 5)], orders, t=t)
    assert res.pending == {"TQQQ": -3.0, "FAS": 0.0} and res.holdings == {"TQQQ": 7.0, "FAS": 5.0}


def test_an_overfilled_order_adds_nothing_pending(rot_cfg, t) -> None:
    key = OrderKey.for_minute("rotation", t - MINUTE_MS, "TQQQ", "buy")
    res = run(RotationStrategy(rot_cfg()), [position("TQQQ", 10)],
              [order("o1", key.client_order_id(), "TQQQ", "buy", 4, filled=5, status="partially_filled")], t=t)  # fmt: skip
    assert res.pending == {"TQQQ": 0.0}


def test_an_order_of_ours_with_no_position_and_no_price_is_canceled_not_adopted(rot_cfg, t) -> None:
    cid = lambda s: OrderKey.for_minute("rotation", t - MINUTE_MS, s, "buy").client_order_id()  # noqa: E731
    orders = [order("o1", cid("TQQQ"), "TQQQ", "buy", 4), order("o2", cid("FAS"), "FAS", "buy", 2),
              order("o3", cid("SSO"), "SSO", "buy", 3)]  # fmt: skip
    prices = {s: p for s, p in ROT_PX.items() if s not in ("TQQQ", "FAS")}
    res = run(RotationStrategy(rot_cfg()), [position("FAS", 5)], orders, t=t, prices=prices)
    assert res.adopt_order_ids == ("o2", "o3") and res.cancel_order_ids == ("o1",)
    assert res.pending == {"FAS": 2.0, "SSO": 3.0}
    assert f"open order {cid('TQQQ')} on TQQQ: no position and no price: cancel" in res.issues


def test_a_finished_order_in_the_open_list_is_ignored_and_the_rest_still_read(rot_cfg, t) -> None:
    cid = OrderKey.for_minute("rotation", t - MINUTE_MS, "TQQQ", "buy").client_order_id()
    orders = [order("o0", "gone", "FAS", "buy", 1, status="canceled"), order("o1", cid, "TQQQ", "buy", 4)]
    res = run(RotationStrategy(rot_cfg()), [], orders, t=t)
    assert res.adopt_order_ids == ("o1",) and res.cancel_order_ids == ()


def test_assess_sorts_holdings_at_their_edges(rot_cfg) -> None:
    from engine.reconcile import assess

    a = assess(RotationStrategy(rot_cfg()), {"TQQQ": 0.5, "FAS": -0.5, "SSO": 1, "TNA": 1e-6, "AAPL": 3})
    assert (a.foreign, a.shorts, a.fractional, a.longs) == ({"AAPL": 3}, {"FAS": -0.5}, {"TQQQ": 0.5}, {"SSO": 1})
    assert a.kept == {"FAS": -0.5, "TQQQ": 0.5}
    assert a.unmanaged() == {"FAS": "a short position in a long-only strategy",
                             "TQQQ": "a fractional quantity; it trades whole shares"}  # fmt: skip
    assert a.unfit == ["short positions in a long-only strategy: ['FAS']", "fractional quantities: ['TQQQ']"]


def test_longs_that_fit_no_state_are_each_unmanaged_for_that_reason(psm_cfg) -> None:
    from engine.reconcile import assess

    a = assess(PsmStrategy(psm_cfg()), {"SPY": 100, "SH": 100})
    assert not a.recognition.fits and a.unmanaged() == dict.fromkeys(["SPY", "SH"], a.recognition.why)
    ok = assess(PsmStrategy(psm_cfg()), {"SPY": 100})
    assert ok.recognition.fits and ok.unmanaged() == {} and ok.unfit == []


def test_takeover_notes_say_what_each_policy_does(psm_cfg, rot_cfg) -> None:
    from engine.reconcile import takeover_notes

    unfit = {"SPY": 100, "SH": -3, "AAPL": 1}
    adopt = takeover_notes(PsmStrategy(psm_cfg()), unfit)
    assert adopt == [
        "AAPL: outside the psm strategy's universe: left alone (never traded)",
        "SH: the psm strategy cannot manage it (a short position in a long-only strategy): policy adopt: kept "
        "as it is, never added to; closed by the strategy's exit rules or at end of day",
        "the psm strategy takes over SPY_ONLY as it is: no order",
    ]
    flatten = takeover_notes(PsmStrategy(psm_cfg(reconciliation__policy="flatten")), {"SPY": 100, "SPXL": 1.5})
    assert flatten[-1] == "SPY: closed at start-up too (policy flatten)"
    halt = takeover_notes(PsmStrategy(psm_cfg(reconciliation__policy="halt")), {"SPY": 100, "SH": -3})
    assert halt == ["SH: the psm strategy cannot manage it (a short position in a long-only strategy): "
                    "policy halt: nothing is sent; the engine stops for the operator"]  # fmt: skip
    fits = takeover_notes(PsmStrategy(psm_cfg(reconciliation__policy="halt")), {"SPY": 100})
    assert fits == ["the psm strategy takes over SPY_ONLY as it is: no order"]
    assert takeover_notes(PsmStrategy(psm_cfg()), {"SH": -3}) == [adopt[1]]  # no long: no takeover line
    two = takeover_notes(RotationStrategy(rot_cfg(reconciliation__policy="flatten")), {"TQQQ": 2, "FAS": 1, "SSO": -1})
    assert two[-1] == "FAS, TQQQ: closed at start-up too (policy flatten)"
    eod = takeover_notes(PsmStrategy(psm_cfg(reconciliation__flatten_foreign_at_eod=True)), {"AAPL": 1})
    assert eod == ["AAPL: outside the psm strategy's universe: left alone until the end of day, then closed "
                   "(flatten_foreign_at_eod)"]  # fmt: skip


def test_a_position_of_qty_eps_is_no_position_for_an_unpriced_order(rot_cfg, t) -> None:
    cid = OrderKey.for_minute("rotation", t - MINUTE_MS, "TQQQ", "buy").client_order_id()
    prices = {s: p for s, p in ROT_PX.items() if s != "TQQQ"}
    res = run(RotationStrategy(rot_cfg()), [position("TQQQ", 1e-6)], [order("o1", cid, "TQQQ", "buy", 4)], t=t, prices=prices)
    assert res.cancel_order_ids == ("o1",) and res.adopt_order_ids == ()


def test_positions_reported_twice_for_a_symbol_add_up_and_a_holding_of_qty_eps_is_none(rot_cfg, t) -> None:
    sell = OrderKey.for_minute("rotation", t - MINUTE_MS, "SSO", "sell").client_order_id()
    res = run(RotationStrategy(rot_cfg()), [position("TQQQ", 5), position("TQQQ", 3), position("SSO", 2e-6)],
              [order("o1", sell, "SSO", "sell", 1e-6)], t=t)  # fmt: skip
    assert res.holdings == {"TQQQ": 8.0}

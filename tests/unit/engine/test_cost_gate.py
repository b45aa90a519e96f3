"""The cost gate: an entry needs its expected return (the calibrated forecast) to beat
``oes_config.entry_cost_margin`` times its round-trip cost, in both strategies; null
margin (the original) or unmodelled costs turn it off."""

from __future__ import annotations

import pytest

from common.calendar import MINUTE_MS
from common.config import ROTATION_SYMBOLS
from engine.strategies import MinuteInput, PsmState, PsmStrategy, RotationStrategy, Signal
from engine.strategies.cost_gate import PASS_UNGATED, entry_gate
from engine.strategies.psm_ladder import LEVERAGE, state_leverage

BP = 1e-4


def test_the_gate_compares_the_expected_return_with_margin_times_cost():
    assert entry_gate(5 * BP, 4 * BP, 1.0).ok
    assert not entry_gate(5 * BP, 4 * BP, 1.5).ok  # 5 bp <= 6 bp
    assert not entry_gate(4 * BP, 4 * BP, 1.0).ok  # break-even is not enough
    assert entry_gate(-1 * BP, 4 * BP, 0.0).ok is False and entry_gate(BP, 4 * BP, 0.0).ok
    v = entry_gate(3 * BP, 4 * BP, 1.0)
    assert v.why == "expected +3.00 bp <= 1 x cost 4.00 bp"
    assert entry_gate(0.0, 4 * BP, None) is PASS_UNGATED  # margin null: the original
    assert entry_gate(0.0, 4 * BP, 1.0, modelled=False) is PASS_UNGATED
    assert entry_gate(9 * BP, None, 1.0).why == "no round-trip cost estimate"


def test_a_minute_input_refuses_a_bad_cost(feed, full_day, psm_cfg, at):
    f = feed(full_day, psm_cfg())
    with pytest.raises(ValueError, match="round trip cost of SPY"):
        f.minute(at(full_day, "10:00"), {}, {"SPY": 500.0}, round_trip_costs={"SPY": -1e-4})
    m = f.minute(at(full_day, "10:00"), {}, {"SPY": 500.0}, round_trip_costs={"SPY": 3 * BP})
    assert isinstance(m, MinuteInput) and m.round_trip_costs == {"SPY": 3 * BP}


# ------------------------------------------------------------------ PSM

PSM_PRICES = {"SPY": 500.0, "SPXL": 150.0, "SH": 40.0, "SDS": 20.0}
PSM_COSTS = {"SPY": 2.5 * BP, "SPXL": 3.5 * BP, "SH": 9 * BP, "SDS": 8 * BP}


def test_a_state_is_worth_its_leverage_times_the_signal_symbols_forecast():
    assert LEVERAGE == {"SPY": 1.0, "SPXL": 3.0, "SH": -1.0, "SDS": -2.0}
    assert state_leverage(PsmState.SPXL_ONLY, "SPY") == 3.0
    assert state_leverage(PsmState.BASE_BULL_3X, "SPY") == 2.0
    assert state_leverage(PsmState.BASE_BEAR_2X, "SPY") == -1.5
    assert state_leverage(PsmState.CASH_ONLY, "SPY") == 0.0
    assert state_leverage(PsmState.SPY_ONLY, "SPXL") == pytest.approx(1 / 3)


@pytest.fixture
def psm(feed, full_day, psm_cfg, at):
    """A gated PSM (margin 1, the ladder at 0.55 / 0.45): step(minute, p, rhat) -> decision."""

    def make(margin=1.0, costs=PSM_COSTS):
        cfg = psm_cfg(oes_config__entry_cost_margin=margin)
        strat = PsmStrategy(cfg)
        f = feed(full_day, cfg)
        t0 = at(full_day, "10:00")

        def step(k: int, p: float, rhat: float):
            m = f.minute(t0 + k * MINUTE_MS, {"SPY": Signal(p, 0.5, rhat)}, PSM_PRICES,
                         round_trip_costs=costs)  # fmt: skip
            d = strat.decide(m)
            f.fill(d.targets, PSM_PRICES)
            return d

        return strat, step

    return make


def test_psm_enters_only_when_the_states_expected_return_beats_its_cost(psm):
    strat, step = psm()
    # p 0.70 wants SPXL_ONLY: 3 x 1.1 bp = 3.3 bp <= 3.5 bp, refused; 3 x 1.2 = 3.6 > 3.5
    d = step(0, 0.70, 1.1 * BP)
    assert d.summary == "CASH_ONLY" and "<= 1 x cost 3.50 bp" in d.details["gate"]
    d = step(1, 0.70, 1.2 * BP)
    assert d.summary == "SPXL_ONLY" and d.targets["SPXL"] > 0
    # the bear side: SDS_ONLY is worth -2 x rhat against SDS's 8 bp
    strat, step = psm()
    assert step(0, 0.20, -3.9 * BP).summary == "CASH_ONLY"
    assert step(1, 0.20, -4.1 * BP).summary == "SDS_ONLY"


def test_psm_keeps_a_position_still_expected_to_earn_rather_than_pay_to_switch(psm):
    strat, step = psm()
    assert step(0, 0.70, 2 * BP).summary == "SPXL_ONLY"
    # past the minimum hold the ladder wants SPY_ONLY (p 0.56): SPY's 0.5 bp does not pay
    # its 2.5 bp, but SPXL still expects +1.5 bp: kept
    for k in range(1, 5):
        d = step(k, 0.56, 0.5 * BP)
    assert d.summary == "SPXL_ONLY" and "hold" in d.reasons["SPXL"]
    # the forecast turns: SPXL expects less than nothing, the bear side does not pay: cash
    d = step(5, 0.30, -0.5 * BP)
    assert d.summary == "CASH_ONLY" and d.targets["SPXL"] == 0


def test_psm_margin_null_or_unmodelled_costs_is_the_original_ladder(psm, feed, full_day, psm_cfg, at):
    strat, step = psm(margin=None)
    assert step(0, 0.70, 0.0).summary == "SPXL_ONLY"
    strat, step = psm(costs=None)
    assert step(0, 0.70, 0.0).summary == "SPXL_ONLY"
    # a symbol with no estimate is never entered
    strat, step = psm(costs={"SPY": 2.5 * BP})
    assert step(0, 0.70, 50 * BP).summary == "CASH_ONLY"


# ------------------------------------------------------------------ rotation

ROT_PRICES = dict.fromkeys(ROTATION_SYMBOLS, 50.0)
ROT_COSTS = dict.fromkeys(ROTATION_SYMBOLS, 5 * BP)


@pytest.mark.parametrize(("margin", "rhat", "enters"), [
    (1.0, 4.9 * BP, False), (1.0, 5.1 * BP, True), (2.0, 9 * BP, False), (2.0, 11 * BP, True),
    (None, 0.0, True),
])  # fmt: skip
def test_rotation_enters_only_what_pays_its_round_trip(feed, full_day, rot_cfg, at, margin,
                                                       rhat, enters):  # fmt: skip
    cfg = rot_cfg(oes_config__entry_cost_margin=margin,
                  signal_aggregator_config__smoothing_alpha=1.0)  # fmt: skip
    strat = RotationStrategy(cfg)
    sigs = dict.fromkeys(ROTATION_SYMBOLS, Signal(0.50, 0.3))
    sigs["TQQQ"] = Signal(0.60, 0.3, rhat)
    m = feed(full_day, cfg).minute(at(full_day, "10:00"), sigs, ROT_PRICES,
                                   round_trip_costs=ROT_COSTS)  # fmt: skip
    d = strat.decide(m)
    assert (d.targets["TQQQ"] > 0) == enters, d.reasons["TQQQ"]
    if not enters:
        assert "cost 5.00 bp" in d.reasons["TQQQ"]


def test_rotation_takes_the_next_candidate_when_the_strongest_does_not_pay(feed, full_day,
                                                                           rot_cfg, at):  # fmt: skip
    cfg = rot_cfg(oes_config__entry_cost_margin=1.0, signal_aggregator_config__smoothing_alpha=1.0,
                  rotation_manager_config__max_positions=1)  # fmt: skip
    strat = RotationStrategy(cfg)
    sigs = dict.fromkeys(ROTATION_SYMBOLS, Signal(0.50, 0.3))
    sigs["TQQQ"] = Signal(0.70, 0.3, 9 * BP)  # strongest, but its spread is wide
    sigs["SQQQ"] = Signal(0.60, 0.3, 6 * BP)
    costs = {**ROT_COSTS, "TQQQ": 10 * BP}
    d = strat.decide(feed(full_day, cfg).minute(at(full_day, "10:00"), sigs, ROT_PRICES,
                                                round_trip_costs=costs))  # fmt: skip
    assert {s for s, q in d.targets.items() if q} == {"SQQQ"}
    assert "cost 10.00 bp" in d.reasons["TQQQ"]

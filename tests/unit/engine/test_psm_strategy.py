"""PSM strategy: ladder → states, minimum hold from config, exits, EOD, sizing, state round trip."""

from __future__ import annotations

import math

import pytest

from common.calendar import MINUTE_MS
from engine.strategies import Holding, Ladder, PsmState, PsmStrategy, Signal, StateError

PRICES = {"SPY": 500.0, "SPXL": 150.0, "SH": 40.0, "SDS": 20.0}
S = PsmState


def sig(p: float) -> dict[str, Signal]:
    return {"SPY": Signal(p, 0.3)}


@pytest.fixture
def run(feed, full_day, psm_cfg):
    """A driver: ``run(cfg)`` → (strategy, step(hhmm_or_t, p, prices=..., fill=True))."""

    def make(cfg=None):
        cfg = cfg or psm_cfg()
        strat = PsmStrategy(cfg)
        f = feed(full_day, cfg)

        def step(t: int, p: float | None, prices=PRICES, fill: bool = True):
            m = f.minute(t, {} if p is None else sig(p), prices)
            d = strat.decide(m)
            if fill:
                f.fill(d.targets, prices)
            return d

        return strat, step, f

    return make


def test_each_band_enters_its_state_from_cash(run, full_day, at) -> None:
    """The strategy's state is exactly the ladder's for any p: one ladder for backtest and live."""
    t = at(full_day, "10:00")
    for p in [
        0.0,
        0.2,
        0.32,
        0.35,
        0.4,
        0.41,
        0.45,
        0.46,
        0.5,
        0.549,
        0.55,
        0.6,
        0.61,
        0.68,
        0.7,
        1.0,
    ]:
        strat, step, _ = run()
        d = step(t, p)
        assert (
            d.summary == strat.ladder.state_for(p) == Ladder.from_config(strat.config).state_for(p)
        )


def test_allocations_are_sized_from_equity_in_whole_shares(run, full_day, at) -> None:
    strat, step, _ = run()
    d = step(at(full_day, "10:00"), 0.62)  # BASE_BULL_3X: 50% SPY + 50% SPXL of 0.95 × 100k
    assert d.summary == S.BASE_BULL_3X
    assert d.targets == {
        "SPY": math.floor(47_500 / 500),
        "SPXL": math.floor(47_500 / 150),
        "SH": 0,
        "SDS": 0,
    }
    strat2, step2, _ = run()
    assert step2(at(full_day, "10:00"), 0.30).targets == {
        "SPY": 0,
        "SPXL": 0,
        "SH": 0,
        "SDS": 95_000 // 20,
    }


def test_allocated_capital_caps_sizing(run, psm_cfg, full_day, at) -> None:
    _, step, _ = run(psm_cfg(risk__allocated_capital=10_000.0, risk__capital_fraction=1.0))
    assert step(at(full_day, "10:00"), 0.57).targets["SPY"] == 20


def test_minimum_hold_uses_config_and_bars_in_state_increments(run, psm_cfg, full_day, at) -> None:
    for hold in (3, 5):
        strat, step, _ = run(psm_cfg(psm_config__min_hold_bars=hold))
        t0 = at(full_day, "10:00")
        assert step(t0, 0.57).summary == S.SPY_ONLY
        seen = []
        for k in range(1, hold + 1):
            d = step(t0 + k * MINUTE_MS, 0.70)  # wants SPXL_ONLY
            seen.append(d.details["bars_in_state"])
            expected = S.SPXL_ONLY if k >= hold else S.SPY_ONLY
            assert d.summary == expected, (hold, k, d.reasons["SPY"])
        assert seen == list(range(1, hold + 1))  # bars really increment
        assert strat.bars_in_state(t0 + (hold + 2) * MINUTE_MS) == 2


def test_cash_needs_no_hold(run, full_day, at) -> None:
    _, step, _ = run()
    t0 = at(full_day, "10:00")
    assert step(t0, 0.50).summary == S.CASH_ONLY
    assert step(t0 + MINUTE_MS, 0.70).summary == S.SPXL_ONLY  # straight out of cash


def test_transition_to_cash_also_waits_for_the_hold(run, full_day, at) -> None:
    _, step, _ = run()
    t0 = at(full_day, "10:00")
    step(t0, 0.70)
    assert step(t0 + MINUTE_MS, 0.50).summary == S.SPXL_ONLY
    assert step(t0 + 3 * MINUTE_MS, 0.50).summary == S.CASH_ONLY


@pytest.mark.parametrize(("move", "knob", "exits"), [(0.021, 0.02, True), (0.021, 0.03, False)])
def test_profit_target_goes_to_cash_inside_the_hold(
    run, psm_cfg, full_day, at, move, knob, exits
) -> None:
    _, step, _ = run(psm_cfg(psm_config__profit_target=knob))
    t0 = at(full_day, "10:00")
    step(t0, 0.57)  # SPY_ONLY, entry 500
    up = dict(PRICES, SPY=500.0 * (1 + move))
    d = step(t0 + MINUTE_MS, 0.57, prices=up)
    assert (d.summary == S.CASH_ONLY) is exits
    if exits:
        assert "profit target" in d.reasons["SPY"] and d.targets["SPY"] == 0


@pytest.mark.parametrize(("move", "knob", "exits"), [(-0.016, 0.015, True), (-0.016, 0.02, False)])
def test_stop_loss_goes_to_cash_inside_the_hold(
    run, psm_cfg, full_day, at, move, knob, exits
) -> None:
    _, step, _ = run(psm_cfg(psm_config__stop_loss=knob))
    t0 = at(full_day, "10:00")
    step(t0, 0.62)  # BASE_BULL_3X
    down = dict(PRICES, SPY=500.0 * (1 + move), SPXL=150.0 * (1 + move))
    d = step(t0 + MINUTE_MS, 0.62, prices=down)
    assert (d.summary == S.CASH_ONLY) is exits
    if exits:
        assert "stop loss" in d.reasons["SPXL"]


def test_exit_is_measured_on_the_brokers_entry_prices(run, full_day, at) -> None:
    strat, step, f = run()
    t0 = at(full_day, "10:00")
    step(t0, 0.57, fill=False)
    f.positions = {"SPY": Holding(95, 489.0)}  # filled lower than the decision price
    d = step(t0 + MINUTE_MS, 0.57, prices=dict(PRICES, SPY=499.0))  # +2.04 % on the real entry
    assert d.summary == S.CASH_ONLY and "profit target" in d.reasons["SPY"]


def test_a_cash_exit_may_reenter_next_minute(run, full_day, at) -> None:
    _, step, _ = run()
    t0 = at(full_day, "10:00")
    step(t0, 0.57)
    assert step(t0 + MINUTE_MS, 0.57, prices=dict(PRICES, SPY=511.0)).summary == S.CASH_ONLY
    assert step(t0 + 2 * MINUTE_MS, 0.57, prices=dict(PRICES, SPY=511.0)).summary == S.SPY_ONLY


def test_no_new_entries_in_the_last_30_minutes(run, full_day, at) -> None:
    _, step, _ = run()
    d = step(at(full_day, "15:29"), 0.70)
    assert d.summary == S.CASH_ONLY and "no entries" in d.reasons["SPY"]
    _, step, _ = run()
    step(at(full_day, "15:00"), 0.57)
    d = step(at(full_day, "15:40"), 0.70)  # SPY_ONLY → SPXL_ONLY would be a new entry
    assert d.summary == S.SPY_ONLY
    assert step(at(full_day, "15:41"), 0.50).summary == S.CASH_ONLY  # going to cash is allowed


@pytest.mark.parametrize(
    ("day", "eod", "before"), [("full_day", "15:57", "15:56"), ("half_day", "12:57", "12:56")]
)
def test_end_of_day_from_the_calendar(run, feed, psm_cfg, request, day, eod, before, at) -> None:
    session = request.getfixturevalue(day)
    strat = PsmStrategy(psm_cfg())
    f = feed(session, strat.config)
    d = strat.decide(f.minute(at(session, "11:00"), sig(0.70), PRICES))
    f.fill(d.targets, PRICES)
    assert strat.decide(f.minute(at(session, before), sig(0.70), PRICES)).summary == S.SPXL_ONLY
    d = strat.decide(f.minute(at(session, eod), sig(0.70), PRICES))
    assert d.summary == S.CASH_ONLY and set(d.targets.values()) == {0}
    assert "end of day" in d.reasons["SPXL"]


def test_end_of_day_after_a_restart(psm_cfg, feed, full_day, at) -> None:
    """A relaunched engine knows nothing but the saved state and the calendar: still flat at 15:58."""
    cfg = psm_cfg()
    before = PsmStrategy(cfg)
    f = feed(full_day, cfg)
    before.decide(f.minute(at(full_day, "14:30"), sig(0.70), PRICES))
    saved = before.state_dict()
    after = PsmStrategy(cfg)  # new process
    after.load_state(saved)
    f.positions = {"SPXL": Holding(633, 150.0)}
    d = after.decide(f.minute(at(full_day, "15:57"), sig(0.70), PRICES))
    assert d.summary == S.CASH_ONLY and d.targets["SPXL"] == 0
    fresh = PsmStrategy(cfg)  # even with no saved state at all
    assert fresh.decide(f.minute(at(full_day, "15:58"), sig(0.70), PRICES)).targets["SPXL"] == 0


def test_missing_signal_or_price_holds(run, full_day, at) -> None:
    _, step, _ = run()
    t0 = at(full_day, "10:00")
    step(t0, 0.57)
    d = step(t0 + 4 * MINUTE_MS, None)
    assert d.summary == S.SPY_ONLY and "no SPY signal" in d.reasons["SPY"]
    d = step(t0 + 5 * MINUTE_MS, 0.70, prices={"SPY": 500.0})
    assert d.summary == S.SPY_ONLY and "SPXL has no price" in d.reasons["SPY"]


def test_state_round_trip_continues_identically(run, psm_cfg, feed, full_day, at) -> None:
    cfg = psm_cfg()
    a, b = PsmStrategy(cfg), PsmStrategy(cfg)
    fa, fb = feed(full_day, cfg), feed(full_day, cfg)
    t0 = at(full_day, "10:00")
    probs = [0.57, 0.58, 0.70, 0.71, 0.72, 0.40, 0.30, 0.30, 0.50, 0.62]
    for k, p in enumerate(probs):
        t = t0 + k * MINUTE_MS
        if k == 4:  # restart b from a's saved state
            b = PsmStrategy(cfg)
            b.load_state(a.state_dict())
            fb.positions = dict(fa.positions)
        da = a.decide(fa.minute(t, sig(p), PRICES))
        fa.fill(da.targets, PRICES)
        if k >= 4:
            db = b.decide(fb.minute(t, sig(p), PRICES))
            fb.fill(db.targets, PRICES)
            assert (da.summary, da.targets) == (db.summary, db.targets)


def test_deciding_a_minute_twice_is_refused(run, full_day, at) -> None:
    _, step, _ = run()
    t = at(full_day, "10:00")
    step(t, 0.57)
    with pytest.raises(ValueError, match="already decided"):
        step(t, 0.57)


def test_a_new_session_starts_from_cash(psm_cfg, feed, full_day, half_day, at) -> None:
    cfg = psm_cfg()
    strat = PsmStrategy(cfg)
    strat.decide(feed(full_day, cfg).minute(at(full_day, "10:00"), sig(0.70), PRICES))
    assert strat.state == S.SPXL_ONLY
    d = strat.decide(feed(half_day, cfg).minute(at(half_day, "10:00"), sig(0.50), PRICES))
    assert d.summary == S.CASH_ONLY and strat.session_date == half_day.date


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"state": "MOON"}, "not a PSM state"),
        ({"targets": {"TQQQ": 5}}, "outside"),
        ({"targets": {"SPY": -1}}, "targets.SPY=-1"),
        ({"state": "SH_ONLY", "targets": {"SPY": 10}}, "cannot hold"),
        ({"version": 99}, "version=99"),
        ({"strategy": "rotation"}, "strategy='rotation'"),
        ({"session_date": "yesterday"}, "session_date='yesterday'"),
        ({"last_t_ms": 1.5}, "last_t_ms=1.5"),
    ],
)
def test_bad_saved_state_is_refused(psm_cfg, change, match) -> None:
    strat = PsmStrategy(psm_cfg())
    good = strat.state_dict()
    with pytest.raises(StateError, match=match):
        strat.load_state({**good, **change})


def test_ladder_knobs_reach_the_strategy(run, psm_cfg, full_day, at) -> None:
    t = at(full_day, "10:00")
    assert run()[1](t, 0.60).summary == S.BASE_BULL_3X
    assert run(psm_cfg(psm_config__ladder_offsets=[0.02, 0.04]))[1](t, 0.60).summary == S.SPXL_ONLY
    assert run(psm_cfg(oes_config__buy_threshold=0.61))[1](t, 0.60).summary == S.CASH_ONLY
    assert run(psm_cfg(oes_config__sell_threshold=0.40))[1](t, 0.42).summary == S.CASH_ONLY


def test_signal_symbol_knob(run, psm_cfg, feed, full_day, at) -> None:
    cfg = psm_cfg(psm_config__signal_symbol="SPXL")
    strat = PsmStrategy(cfg)
    m = feed(full_day, cfg).minute(
        at(full_day, "10:00"), {"SPY": Signal(0.30, 0.3), "SPXL": Signal(0.70, 0.3)}, PRICES
    )
    assert strat.decide(m).summary == S.SPXL_ONLY

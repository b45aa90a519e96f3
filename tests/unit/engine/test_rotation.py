"""Rotation strategy: every knob of rotation_manager_config changes behaviour, EOD, restarts."""

from __future__ import annotations

import random

import pytest

from common.calendar import MINUTE_MS
from common.config import ROTATION_SYMBOLS
from engine.strategies import Holding, RotationStrategy, Signal

PRICES = dict.fromkeys(ROTATION_SYMBOLS, 50.0)
WEAK = Signal(0.50, 0.3)  # filtered: p below min_probability


def sigs(**strong: tuple[float, float]) -> dict[str, Signal]:
    out = dict.fromkeys(ROTATION_SYMBOLS, WEAK)
    out.update({s: Signal(p, c) for s, (p, c) in strong.items()})
    return out


class Run:
    def __init__(self, cfg, session, feed) -> None:
        self.strat = RotationStrategy(cfg)
        self.feed = feed(session, cfg)
        self.session = session

    def step(self, t: int, signals: dict[str, Signal], prices=PRICES, fill: bool = True):
        d = self.strat.decide(self.feed.minute(t, signals, prices))
        if fill:
            self.feed.fill(d.targets, prices)
        return d


@pytest.fixture
def run(rot_cfg, feed, full_day):
    def make(session=None, **knobs):
        knobs.setdefault("signal_aggregator_config__smoothing_alpha", 1.0)
        return Run(rot_cfg(**knobs), session or full_day, feed)

    return make


def held(d) -> set[str]:
    return {s for s, q in d.targets.items() if q > 0}


# ------------------------------------------------------------------ entries


def test_default_entry_threshold_is_reachable_with_realistic_signals(
    rot_cfg, feed, full_day, at
) -> None:
    """The original's 0.50 threshold was never reached; a modest signal must enter by default."""
    r = Run(rot_cfg(), full_day, feed)  # default smoothing too
    d = r.step(at(full_day, "10:00"), sigs(SSO=(0.535, 0.02)))  # strength 0.535*0.02*1.3 = 0.0139
    assert held(d) == {"SSO"}, d.reasons["SSO"]
    rng = random.Random(7)
    r = Run(rot_cfg(), full_day, feed)
    t0 = at(full_day, "10:00")
    entries = 0
    for k in range(60):
        s = {
            sym: Signal(rng.uniform(0.47, 0.58), rng.uniform(0.01, 0.3)) for sym in ROTATION_SYMBOLS
        }
        entries += len(r.step(t0 + k * MINUTE_MS, s).details["entered"])
    assert entries >= 3


def test_min_strength_to_enter_knob(run, full_day, at) -> None:
    r = run(rotation_manager_config__min_strength_to_enter=0.02)
    d = r.step(at(full_day, "10:00"), sigs(SSO=(0.535, 0.02)))
    assert held(d) == set() and "< enter 0.02" in d.reasons["SSO"]


def test_buy_threshold_knob(run, full_day, at) -> None:
    s = sigs(TQQQ=(0.52, 0.3))  # passes min_probability 0.51, below buy 0.53
    d = run().step(at(full_day, "10:00"), s)
    assert held(d) == set() and "< buy 0.53" in d.reasons["TQQQ"]
    assert held(run(oes_config__buy_threshold=0.515).step(at(full_day, "10:00"), s)) == {"TQQQ"}


@pytest.mark.parametrize("max_positions", [2, 3])
def test_max_positions_strongest_first_equal_weight(run, full_day, at, max_positions) -> None:
    r = run(rotation_manager_config__max_positions=max_positions)
    s = sigs(TQQQ=(0.60, 0.3), FAS=(0.60, 0.28), TNA=(0.60, 0.26), ERX=(0.60, 0.24), SSO=(0.6, 0.2))
    d = r.step(at(full_day, "10:00"), s)
    order = ["TQQQ", "FAS", "TNA"][:max_positions]
    assert d.details["entered"] == order and held(d) == set(order)
    per = int(100_000 * 0.95 / max_positions / 50.0)
    assert all(d.targets[s] == per for s in order)


# ------------------------------------------------------------------ exits


@pytest.mark.parametrize("hold", [0, 7, 12])
def test_minimum_hold_comes_from_config_and_bars_held_increment(run, full_day, at, hold) -> None:
    r = run(rotation_manager_config__min_hold_bars=hold)
    t0 = at(full_day, "10:00")
    assert held(r.step(t0, sigs(TQQQ=(0.60, 0.3)))) == {"TQQQ"}
    bars = []
    for k in range(1, 40):
        d = r.step(t0 + k * MINUTE_MS, sigs(TQQQ=(0.46, 0.3)))  # bearish: signal exit
        if "TQQQ" not in held(d):
            assert "exit: signal p=0.4600" in d.reasons["TQQQ"]
            break
        bars.append(d.details["bars_held"]["TQQQ"])
    assert k == max(hold, 1)  # never a hard-coded 30
    assert bars == list(range(1, max(hold, 1)))


@pytest.mark.parametrize(("price", "knobs", "exits"), [
    (51.6, {}, True),  # +3.2 % ≥ 3 %
    (51.6, {"rotation_manager_config__profit_target": 0.04}, False),
    (49.2, {}, True),  # −1.6 % ≤ −1.5 %
    (49.2, {"rotation_manager_config__stop_loss": 0.02}, False),
])  # fmt: skip
def test_profit_target_and_stop_loss_ignore_the_hold(
    run, full_day, at, price, knobs, exits
) -> None:
    r = run(rotation_manager_config__min_hold_bars=30, **knobs)
    t0 = at(full_day, "10:00")
    r.step(t0, sigs(TQQQ=(0.60, 0.3)))
    d = r.step(t0 + MINUTE_MS, sigs(TQQQ=(0.60, 0.3)), prices=dict(PRICES, TQQQ=price))
    assert ("TQQQ" not in held(d)) is exits
    if exits:
        assert ("profit target" if price > 50 else "stop loss") in d.reasons["TQQQ"]


def test_profit_is_measured_on_the_brokers_entry_price(run, full_day, at) -> None:
    r = run()
    t0 = at(full_day, "10:00")
    r.step(t0, sigs(TQQQ=(0.60, 0.3)), fill=False)
    r.feed.positions = {"TQQQ": Holding(633, 49.0)}
    d = r.step(t0 + MINUTE_MS, sigs(TQQQ=(0.60, 0.3)), prices=dict(PRICES, TQQQ=50.5))  # +3.06 %
    assert "profit target" in d.reasons["TQQQ"]


def test_strength_exit_knob(run, full_day, at) -> None:
    knobs = {
        "rotation_manager_config__min_hold_bars": 0,
        "rotation_manager_config__min_strength_to_enter": 0.1,
        "signal_aggregator_config__smoothing_alpha": 0.3,
    }
    t0 = at(full_day, "10:00")
    fading = [sigs(TQQQ=(0.6, 0.2))] + [sigs(TQQQ=(0.6, 0.05))] * 6  # 0.192 then raw 0.048
    for exit_at, extra in ((3, {"rotation_manager_config__min_strength_to_exit": 0.1}), (None, {})):
        r = run(**knobs, **extra)
        gone = None
        for k, s in enumerate(fading):
            d = r.step(t0 + k * MINUTE_MS, s)
            if gone is None and "TQQQ" not in held(d):
                gone = k
                assert "exit: strength" in d.reasons["TQQQ"]
        assert gone == exit_at


def test_rank_exit_knob(run, full_day, at) -> None:
    base = {
        "rotation_manager_config__max_positions": 1,
        "rotation_manager_config__min_hold_bars": 0,
        "rotation_manager_config__rotation_strength_delta": 5.0,  # no rotation: only the rank rule
    }
    t0 = at(full_day, "10:00")
    r = run(rotation_manager_config__min_rank_to_hold=1, **base)
    r.step(t0, sigs(FAS=(0.6, 0.2)))
    d = r.step(t0 + MINUTE_MS, sigs(FAS=(0.6, 0.2), TQQQ=(0.6, 0.3)))
    assert "exit: rank 2 > 1" in d.reasons["FAS"] and held(d) == {"TQQQ"}
    r = run(rotation_manager_config__min_rank_to_hold=2, **base)
    r.step(t0, sigs(FAS=(0.6, 0.2)))
    d = r.step(t0 + MINUTE_MS, sigs(FAS=(0.6, 0.2), TQQQ=(0.6, 0.3)))
    assert held(d) == {"FAS"}


@pytest.mark.parametrize(("delta", "rotates"), [(0.10, True), (0.20, False)])
def test_rotation_strength_delta(run, full_day, at, delta, rotates) -> None:
    r = run(
        rotation_manager_config__max_positions=1,
        rotation_manager_config__min_hold_bars=2,
        rotation_manager_config__rotation_strength_delta=delta,
    )
    t0 = at(full_day, "10:00")
    r.step(t0, sigs(SSO=(0.6, 0.2)))  # 0.156
    strong = sigs(SSO=(0.6, 0.2), TQQQ=(0.6, 0.3))  # TQQQ 0.288: beats SSO by 0.132
    d = r.step(t0 + MINUTE_MS, strong)
    assert held(d) == {"SSO"}  # inside SSO's minimum hold: no rotation yet
    d = r.step(t0 + 2 * MINUTE_MS, strong)
    assert held(d) == ({"TQQQ"} if rotates else {"SSO"})
    if rotates:
        assert (
            "rotated out for TQQQ" in d.reasons["SSO"] and "rotation over SSO" in d.reasons["TQQQ"]
        )
    else:
        assert "< delta 0.2" in d.reasons["TQQQ"]


@pytest.mark.parametrize("cooldown", [0, 10])
def test_reentry_cooldown(run, full_day, at, cooldown) -> None:
    r = run(rotation_manager_config__cooldown_bars=cooldown)
    t0 = at(full_day, "10:00")
    r.step(t0, sigs(TQQQ=(0.6, 0.3)))
    d = r.step(t0 + MINUTE_MS, sigs(TQQQ=(0.6, 0.3)), prices=dict(PRICES, TQQQ=49.0))  # stop loss
    assert "stop loss" in d.reasons["TQQQ"]
    back = None
    for k in range(2, 20):
        d = r.step(t0 + k * MINUTE_MS, sigs(TQQQ=(0.6, 0.3)), prices=dict(PRICES, TQQQ=49.0))
        if "TQQQ" in held(d):
            back = k
            break
        assert "cooldown" in d.reasons["TQQQ"]
    assert back == 1 + max(cooldown, 1)


# ------------------------------------------------------------------ session rules


def test_no_entries_and_no_rotation_in_the_last_30_minutes(run, full_day, at) -> None:
    r = run(rotation_manager_config__max_positions=1, rotation_manager_config__min_hold_bars=0)
    r.step(at(full_day, "15:00"), sigs(SSO=(0.6, 0.2)))
    d = r.step(at(full_day, "15:29"), sigs(SSO=(0.6, 0.2), TQQQ=(0.7, 0.5)))
    assert held(d) == {"SSO"} and "no entries" in d.reasons["TQQQ"]
    d = r.step(at(full_day, "15:30"), sigs(SSO=(0.46, 0.2), TQQQ=(0.7, 0.5)))
    assert held(d) == set()  # exits still happen


@pytest.mark.parametrize(
    ("knobs", "last_held", "flat_at"),
    [
        ({}, "15:56", "15:57"),  # 388 minutes after the open = 15:58 decision time
        ({"rotation_manager_config__eod_exit_time_minutes": 380}, "15:48", "15:49"),
        ({"rotation_manager_config__eod_exit_time_minutes": 380, "rotation_manager_config__eod_liquidation": False}, "15:56", "15:57"),
    ],
)  # fmt: skip
def test_end_of_day_minute(run, full_day, at, knobs, last_held, flat_at) -> None:
    r = run(**knobs)
    r.step(at(full_day, "14:00"), sigs(TQQQ=(0.6, 0.3)))
    assert held(r.step(at(full_day, last_held), sigs(TQQQ=(0.6, 0.3)))) == {"TQQQ"}
    d = r.step(at(full_day, flat_at), sigs(TQQQ=(0.6, 0.3)))
    assert held(d) == set() and "end of day" in d.reasons["TQQQ"]


def test_half_day_flattens_at_1258_whatever_the_minute_knob(run, half_day, at) -> None:
    r = run(session=half_day)
    r.step(at(half_day, "11:00"), sigs(TQQQ=(0.6, 0.3)))
    assert held(r.step(at(half_day, "12:56"), sigs(TQQQ=(0.6, 0.3)))) == {"TQQQ"}
    d = r.step(at(half_day, "12:57"), sigs(TQQQ=(0.6, 0.3)))
    assert held(d) == set() and "end of day (calendar)" in d.reasons["TQQQ"]


def test_end_of_day_after_a_restart(run, rot_cfg, feed, full_day, at) -> None:
    r = run()
    r.step(at(full_day, "14:00"), sigs(TQQQ=(0.6, 0.3), FAS=(0.6, 0.3), TNA=(0.6, 0.3)))
    saved = r.strat.state_dict()
    again = RotationStrategy(r.strat.config)  # new process, state from the journal
    again.load_state(saved)
    d = again.decide(r.feed.minute(at(full_day, "15:57"), sigs(TQQQ=(0.6, 0.3)), PRICES))
    assert set(d.targets.values()) == {0}
    fresh = RotationStrategy(r.strat.config)  # no state at all: still flat
    assert set(
        fresh.decide(
            r.feed.minute(at(full_day, "15:58"), sigs(TQQQ=(0.6, 0.3)), PRICES)
        ).targets.values()
    ) == {0}


# ------------------------------------------------------------------ state and replay


def test_state_round_trip_continues_identically(rot_cfg, feed, full_day, at) -> None:
    cfg = rot_cfg(rotation_manager_config__min_hold_bars=3)
    rng = random.Random(11)
    stream = []
    for _ in range(90):
        s = {
            sym: Signal(rng.uniform(0.45, 0.62), rng.uniform(0.01, 0.4)) for sym in ROTATION_SYMBOLS
        }
        px = {sym: 50.0 * (1 + rng.uniform(-0.02, 0.035)) for sym in ROTATION_SYMBOLS}
        stream.append((s, px))
    a, b = Run(cfg, full_day, feed), None
    t0 = at(full_day, "10:00")
    changes = 0
    for k, (s, px) in enumerate(stream):
        t = t0 + k * MINUTE_MS
        if k == 40:
            b = Run(cfg, full_day, feed)
            b.strat.load_state(a.strat.state_dict())
            b.feed.positions = dict(a.feed.positions)
        da = a.step(t, s, px)
        changes += len(da.details["entered"]) + len(da.details["exited"])
        if b is not None:
            db = b.step(t, s, px)
            assert (da.targets, da.reasons) == (db.targets, db.reasons)
    assert changes > 10  # the stream really exercised entries and exits


def test_observe_replays_smoothing_without_deciding(rot_cfg, feed, full_day, at) -> None:
    cfg = rot_cfg()
    t0 = at(full_day, "10:00")
    s1, s2 = sigs(TQQQ=(0.6, 0.3)), sigs(TQQQ=(0.55, 0.1))
    a = Run(cfg, full_day, feed)
    a.step(t0, s1)
    b = RotationStrategy(cfg)
    b.observe(t0, s1)
    b.observe(t0, s1)  # a repeated minute is ignored, not smoothed twice
    assert b.aggregator.smoothed == a.strat.aggregator.smoothed
    assert b.targets() == dict.fromkeys(ROTATION_SYMBOLS, 0)  # observing never trades
    with pytest.raises(ValueError, match="already aggregated"):
        b.decide(a.feed.minute(t0, s2, PRICES))


def test_held_symbol_without_price_is_held(run, full_day, at) -> None:
    r = run()
    t0 = at(full_day, "10:00")
    r.step(t0, sigs(TQQQ=(0.6, 0.3)))
    no_px = {k: v for k, v in PRICES.items() if k != "TQQQ"}
    d = r.step(t0 + 9 * MINUTE_MS, sigs(), prices=no_px)
    assert held(d) == {"TQQQ"} and "no price" in d.reasons["TQQQ"]


def test_candidate_without_price_is_not_entered(run, full_day, at) -> None:
    no_px = {k: v for k, v in PRICES.items() if k != "TQQQ"}
    d = run().step(at(full_day, "10:00"), sigs(TQQQ=(0.6, 0.3)), prices=no_px)
    assert held(d) == set() and d.reasons["TQQQ"] == "flat: no price"


def test_sell_threshold_knob(run, full_day, at) -> None:
    t0 = at(full_day, "10:00")
    for sell, exits in ((0.47, True), (0.45, False)):
        r = run(
            rotation_manager_config__min_hold_bars=0,
            oes_config__sell_threshold=sell,
            signal_aggregator_config__smoothing_alpha=0.3,
        )
        r.step(t0, sigs(TQQQ=(0.60, 0.3)))
        d = r.step(t0 + MINUTE_MS, sigs(TQQQ=(0.46, 0.3)))  # still ranked (raw 0 but smoothed > 0)
        assert ("TQQQ" not in held(d)) is exits, d.reasons["TQQQ"]

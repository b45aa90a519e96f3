"""Takeover that does not disrupt (issue 9): holdings kept exactly as they are, shorts and
fractions kept aside until an exit closes them, adopted mixes held until a legal state."""

from __future__ import annotations

from datetime import date

import pytest

from common.calendar import MINUTE_MS
from common.config import ROTATION_SYMBOLS
from engine.strategies import (
    BrokerHoldings,
    Holding,
    PsmStrategy,
    RotationStrategy,
    Signal,
    StateError,
)
from engine.strategies.takeover import Kept, journal_agrees, kept_quantity

ROT_PX = dict.fromkeys(ROTATION_SYMBOLS, 50.0)
PSM_PX = {"SPY": 500.0, "SPXL": 150.0, "SH": 40.0, "SDS": 20.0}
DAY = date(2025, 10, 16)
STRONG = {s: Signal(0.9, 0.9) for s in ROTATION_SYMBOLS}


def held(longs, t, *, kept=None, prices=ROT_PX, entry=None) -> BrokerHoldings:
    entries = dict(entry or {})
    for s in {**longs, **(kept or {})}:
        entries.setdefault(s, prices[s])
    return BrokerHoldings(longs, entries, prices, 100_000.0, t, DAY, kept=kept or {})


def test_the_policy_keeps_the_broker_quantity_and_the_journal_must_agree_to_the_share() -> None:
    assert kept_quantity(100.0) == 100 and kept_quantity(99.9999999) == 100
    assert journal_agrees(100.0, 100) and not journal_agrees(98.0, 100)


def test_rotation_takes_over_a_long_and_a_short_without_touching_either(rot_cfg, feed, full_day, at):
    """A hand-placed 100 TQQQ stays 100 (equal weight would be 633); a SQQQ short is kept
    aside: never covered at start-up, never added to, never entered, covered at end of day."""
    cfg = rot_cfg(rotation_manager_config__min_strength_to_enter=0.0, rotation_manager_config__min_strength_to_exit=0.0)
    t = at(full_day, "11:00")
    s = RotationStrategy(cfg)
    took = s.take_over(held({"TQQQ": 100.0}, t, kept={"SQQQ": -50.0}), None)
    assert took.state_name == "ROTATION[TQQQ]" and took.journal == "none"
    assert s.book["TQQQ"].qty == 100 and s.kept == {"SQQQ": Kept(-50.0, 50.0)}
    assert "SQQQ" not in s.targets() and s.targets()["TQQQ"] == 100
    f = feed(full_day, cfg)
    f.positions = {"TQQQ": Holding(100, 50.0), "SQQQ": Holding(-50, 50.0)}
    for i in range(1, 6):  # every signal strong: free slots fill, SQQQ is never entered
        d = s.decide(f.minute(t + i * MINUTE_MS, STRONG, ROT_PX))
        assert "SQQQ" not in d.targets and d.targets["TQQQ"] == 100
        assert d.reasons["SQQQ"].startswith("kept: -50 taken over as it is")
        assert d.details["kept"] == {"SQQQ": -50.0}
    assert len(s.book) == 3
    eod = s.decide(f.minute(at(full_day, "15:57"), STRONG, ROT_PX))
    assert eod.targets["SQQQ"] == 0 and set(eod.targets.values()) == {0} and not s.kept


@pytest.mark.parametrize(("price", "why"), [(51.0, "stop loss"), (48.0, "profit target")])
def test_a_kept_short_is_covered_by_its_own_stop_loss_or_profit_target(rot_cfg, feed, full_day, at, price, why):
    cfg = rot_cfg(rotation_manager_config__stop_loss=0.015, rotation_manager_config__profit_target=0.03)
    t = at(full_day, "11:00")
    s = RotationStrategy(cfg)
    s.take_over(held({}, t, kept={"SQQQ": -50.0}), None)
    f = feed(full_day, cfg)
    still = s.decide(f.minute(t + MINUTE_MS, {}, {**ROT_PX, "SQQQ": 50.5}))
    assert "SQQQ" not in still.targets
    d = s.decide(f.minute(t + 2 * MINUTE_MS, {}, {**ROT_PX, "SQQQ": price}))
    assert d.targets["SQQQ"] == 0 and why in d.reasons["SQQQ"] and "short kept" in d.reasons["SQQQ"]
    assert s.cooldown_until["SQQQ"] == t + 2 * MINUTE_MS + cfg.rotation_manager_config.cooldown_bars * MINUTE_MS


def test_more_rotation_longs_than_slots_are_all_kept_and_nothing_is_entered(rot_cfg, feed, full_day, at):
    cfg = rot_cfg(rotation_manager_config__min_strength_to_enter=0.0, rotation_manager_config__min_strength_to_exit=0.0)
    t = at(full_day, "11:00")
    longs = {"ERX": 10.0, "FAS": 20.0, "TNA": 30.0, "TQQQ": 40.0}
    s = RotationStrategy(cfg)
    assert not s.recognize(longs).fits
    s.take_over(held(longs, t), None)
    d = s.decide(feed(full_day, cfg).minute(t + MINUTE_MS, STRONG, ROT_PX))
    assert {k: v for k, v in d.targets.items() if v} == {k: int(v) for k, v in longs.items()}
    assert d.details["entered"] == []


def test_psm_adopted_mix_is_held_until_the_ladder_moves_it_to_a_legal_state(psm_cfg, feed, full_day, at):
    cfg = psm_cfg(psm_config__min_hold_bars=3)
    t = at(full_day, "11:00")
    s = PsmStrategy(cfg)
    took = s.take_over(held({"SPY": 100.0, "SH": 100.0}, t, kept={"SDS": -3.0}, prices=PSM_PX), None)
    assert took.state_name == "ADOPTED" and s.targets() == {"SPY": 100, "SPXL": 0, "SH": 100}
    f = feed(full_day, cfg)
    f.positions = {"SPY": Holding(100, 500.0), "SH": Holding(100, 40.0), "SDS": Holding(-3, 20.0)}
    bull = {"SPY": Signal(0.56, 0.3)}  # SPY_ONLY's band
    for i in (1, 2):  # the minimum hold runs from the takeover
        d = s.decide(f.minute(t + i * MINUTE_MS, bull, PSM_PX))
        assert d.summary == "ADOPTED" and d.targets == {"SPY": 100, "SPXL": 0, "SH": 100}
    d = s.decide(f.minute(t + 3 * MINUTE_MS, bull, PSM_PX))
    assert d.summary == "SPY_ONLY" and not s.kept
    assert d.targets["SH"] == 0 and d.targets["SDS"] == 0 and d.targets["SPY"] > 0  # what does not belong closes


def test_psm_cash_with_a_kept_short_is_covered_by_the_stop_loss_and_at_end_of_day(psm_cfg, feed, full_day, at):
    cfg = psm_cfg(psm_config__stop_loss=0.015)
    t = at(full_day, "11:00")
    s = PsmStrategy(cfg)
    took = s.take_over(held({}, t, kept={"SH": -100.0}, prices=PSM_PX), None)
    assert took.state_name == "CASH_ONLY" and "SH" not in s.targets()
    f = feed(full_day, cfg)
    f.positions = {"SH": Holding(-100, 40.0)}
    cash = {"SPY": Signal(0.5, 0.3)}
    assert "SH" not in s.decide(f.minute(t + MINUTE_MS, cash, PSM_PX)).targets
    d = s.decide(f.minute(t + 2 * MINUTE_MS, cash, {**PSM_PX, "SH": 41.0}))
    assert d.targets["SH"] == 0 and "stop loss" in d.reasons["SH"]
    s2 = PsmStrategy(cfg)
    s2.take_over(held({}, t, kept={"SH": -100.0}, prices=PSM_PX), None)
    eod = s2.decide(f.minute(at(full_day, "15:57"), cash, PSM_PX))
    assert eod.targets["SH"] == 0 and not s2.kept


@pytest.mark.parametrize("strategy", ["psm", "rotation"])
def test_kept_holdings_survive_the_journal_and_bad_ones_are_named(strategy, psm_cfg, rot_cfg, full_day, at):
    t = at(full_day, "11:00")
    if strategy == "psm":
        s, prices, sym = PsmStrategy(psm_cfg()), PSM_PX, "SH"
    else:
        s, prices, sym = RotationStrategy(rot_cfg()), ROT_PX, "SQQQ"
    s.take_over(held({}, t, kept={sym: -7.5}, prices=prices), None)
    again = s.restored(s.state_dict())
    assert again.kept == s.kept == {sym: Kept(-7.5, prices[sym])}
    bad = s.state_dict()
    bad["kept"] = {sym: {"qty": 0, "entry_price": 1.0}}
    with pytest.raises(StateError, match=f"kept.{sym}"):
        s.restored(bad)
    bad["kept"] = {"AAPL": {"qty": -1, "entry_price": 1.0}}
    with pytest.raises(StateError, match="kept.AAPL is not one of the strategy's symbols"):
        s.restored(bad)


def test_the_journal_restores_hold_clocks_only_where_it_agrees_to_the_share(rot_cfg, full_day, at):
    t0, t1 = at(full_day, "11:00"), at(full_day, "14:00")
    journal = RotationStrategy(rot_cfg())
    journal.take_over(held({"TQQQ": 100.0, "FAS": 50.0}, t0), None)
    s = RotationStrategy(rot_cfg())
    took = s.take_over(held({"TQQQ": 100.0, "FAS": 49.0}, t1), journal)
    assert took.journal == "partly restored"
    assert (s.book["TQQQ"].entry_t_ms, s.book["FAS"].entry_t_ms) == (t0, t1)
    assert (s.book["TQQQ"].qty, s.book["FAS"].qty) == (100, 49)

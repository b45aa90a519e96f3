"""Rotation's signal aggregator: filters, strength formula, smoothing, ranking, reasons."""

from __future__ import annotations

import math

import pytest

from common.config import SignalAggregatorConfig
from engine.strategies import Signal
from engine.strategies.aggregator import SignalAggregator

SYMS = ("AAA", "BBB", "CCC")


def agg(**kw) -> SignalAggregator:
    return SignalAggregator(
        SignalAggregatorConfig(leverage_boosts={"AAA": 1.5, "BBB": 1.2}, **kw), SYMS
    )


def test_strength_is_probability_times_confidence_times_boost() -> None:
    a = agg()
    out = a.update({"AAA": Signal(0.6, 0.2), "BBB": Signal(0.55, 0.3), "CCC": Signal(0.6, 0.1)})
    assert math.isclose(out["AAA"].raw, 0.6 * 0.2 * 1.5)
    assert math.isclose(out["BBB"].raw, 0.55 * 0.3 * 1.2)
    assert math.isclose(out["CCC"].raw, 0.6 * 0.1 * 1.0)  # default_boost for a symbol without one
    assert [out[s].rank for s in ("AAA", "BBB", "CCC")] == [2, 1, 3]  # 0.18, 0.198, 0.06


def test_default_boost_knob() -> None:
    a = agg(default_boost=2.0)
    assert math.isclose(a.update({"CCC": Signal(0.6, 0.1)})["CCC"].raw, 0.12)


@pytest.mark.parametrize(
    ("kw", "signal", "reason"),
    [
        ({}, None, "no signal"),
        ({"min_probability": 0.56}, Signal(0.55, 0.5), "weak: p=0.5500"),
        ({"min_confidence": 0.2}, Signal(0.6, 0.1), "weak: confidence=0.1000"),
        ({"max_signal_age_bars": 3}, Signal(0.6, 0.5, age_bars=4), "stale: no trade for 4 bars"),
    ],
)
def test_filters_give_zero_strength_and_a_reason(kw, signal, reason) -> None:
    a = agg(**kw)
    out = a.update({} if signal is None else {"AAA": signal})
    assert out["AAA"].raw == 0.0 and out["AAA"].rank is None
    assert out["AAA"].filtered is not None and out["AAA"].filtered.startswith(reason)
    # the same signal passes when the knob is at its default
    if signal is not None:
        assert agg().update({"AAA": signal})["AAA"].filtered is None


def test_every_symbol_gets_a_strength_even_when_dropped() -> None:
    out = agg().update({"AAA": Signal(0.6, 0.2)})
    assert set(out) == set(SYMS)
    assert out["BBB"].filtered == "no signal"


def test_smoothing_alpha() -> None:
    for alpha in (0.3, 0.8):
        a = agg(smoothing_alpha=alpha)
        r1 = a.update({"AAA": Signal(0.6, 0.2)})["AAA"]
        assert r1.smoothed == r1.raw  # the first observation starts the average
        r2 = a.update({"AAA": Signal(0.7, 0.4)})["AAA"]
        assert math.isclose(r2.smoothed, alpha * r2.raw + (1 - alpha) * r1.raw)
        r3 = a.update({})["AAA"]  # filtered: decays toward 0
        assert math.isclose(r3.smoothed, (1 - alpha) * r2.smoothed)


def test_min_strength_keeps_weak_symbols_out_of_the_ranking() -> None:
    sigs = {"AAA": Signal(0.6, 0.2), "BBB": Signal(0.55, 0.01)}  # BBB strength 0.0066
    assert agg().update(sigs)["BBB"].rank == 2
    assert agg(min_strength=0.01).update(sigs)["BBB"].rank is None


def test_ties_rank_by_symbol_name() -> None:
    a = SignalAggregator(SignalAggregatorConfig(leverage_boosts={}), ("ZZZ", "AAA", "MMM"))
    out = a.update({s: Signal(0.6, 0.2) for s in ("ZZZ", "AAA", "MMM")})
    assert [out[s].rank for s in ("AAA", "MMM", "ZZZ")] == [1, 2, 3]


def test_state_round_trip() -> None:
    a = agg()
    a.update({"AAA": Signal(0.6, 0.2)})
    b = agg()
    b.load_state(a.state_dict())
    nxt = {"AAA": Signal(0.7, 0.3), "BBB": Signal(0.6, 0.1)}
    assert a.update(nxt) == b.update(nxt)

from __future__ import annotations

import math

from optimize.gate import judge, paired_t
from optimize.objective import HELD_OUT, Score


def held(*daily: float, trades: int = 5) -> Score:
    return Score(HELD_OUT, tuple(daily), trades, 0.0)


def test_a_candidate_that_wins_clearly_on_held_out_sessions_is_promoted():
    v = judge({"a": 1}, {}, held(0.3, 0.25, 0.35), held(0.0, 0.05, -0.05))
    assert v.promote and "PROMOTED" in v.headline() and "held-out" in v.headline()
    assert any("margin" in r for r in v.reasons)


def test_the_gate_keeps_the_current_parameters_and_says_why():
    cases = {
        "the candidate is the current parameter set": ({"a": 1}, {"a": 1}, held(0.5, 0.6), held(0.0, 0.1)),
        "loses money net of costs": ({"a": 1}, {}, held(-0.01, -0.02), held(-0.5, -0.6)),
        "below the margin": ({"a": 1}, {}, held(0.105, 0.105), held(0.1, 0.1)),
        "is noise": ({"a": 1}, {}, held(0.9, -0.5, 0.2), held(0.0, 0.0, 0.0)),
        "held-out profit is noise": ({"a": 1}, {}, held(0.54, -0.72, 0.28), held(-0.58, -1.34, -2.06)),
        "no round trip": ({"a": 1}, {}, held(0.3, 0.3, trades=0), held(0.0, 0.0)),
    }
    for why, (cand, cur, c, k) in cases.items():
        v = judge(cand, cur, c, k)
        assert not v.promote and "KEPT" in v.headline()
        assert any(why in r for r in v.reasons), (why, v.reasons)


def test_paired_t():
    assert math.isnan(paired_t((1.0,), (0.0,)))
    assert paired_t((1.0, 1.0), (0.0, 0.0)) == math.inf
    assert paired_t((1.0, 3.0), (0.0, 0.0)) == 2.0

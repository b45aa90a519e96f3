"""engine.signals: oes_config → EnsembleParams, per-bar == batch, age_bars, the grid rule live.

Live, a minute reaches the signal engine through the feed's GridFiller (the grid rule is
applied there, once); these tests drive the pair the same way."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from common.bars import MINUTE_MS, Bar, filled_bar
from common.calendar import nyse
from common.config import OesConfig
from common.session_grid import GridFiller
from engine.market_grid import MinuteGrid, build_grid, load_sessions
from engine.signals import (
    DECISION_KEYS,
    SignalEngine,
    batch_signals,
    ensemble_params,
    ensemble_run,
    per_bar_signals,
    recombined_signals,
)
from engine.strategies import Signal
from engine_core import EnsembleParams

FAST = OesConfig(warmup_samples=20, calibration=False, bb_amplification=0.1)
"""The original signal (raw combination, Bollinger amplification), warm after 20 pairs."""


@pytest.fixture(scope="module")
def grid(thin_market) -> MinuteGrid:
    return load_sessions(thin_market.symbols, thin_market.sessions, thin_market.directory)


def _bar(symbol: str, t: int, c: float) -> Bar:
    return Bar(symbol, t, c, c + 0.02, c - 0.02, c, 500.0)


# ---------------------------------------------------------------------- parameters


def test_every_oes_knob_is_a_signal_knob_or_a_decision_threshold():
    names = set(EnsembleParams.field_names())
    for knob in OesConfig.model_fields:
        assert knob in names or knob in DECISION_KEYS, knob
    p = ensemble_params(OesConfig())
    assert p == EnsembleParams.from_mapping(OesConfig().model_dump())


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("ewrls_lambda", 0.995),
        ("regularization", 0.02),
        ("initial_variance", 3.0),
        ("warmup_samples", 7),
        ("horizons", (1, 3, 15)),
        ("horizon_weights", (0.6, 0.2, 0.2)),
        ("probability_scale", 80.0),
        ("bb_period", 30),
        ("bb_std", 1.5),
        ("bb_proximity", 0.2),
        ("bb_amplification", 0.2),
    ],
)
def test_each_signal_knob_reaches_engine_core(knob, value):
    p = ensemble_params(OesConfig(**{knob: value}))
    assert getattr(p, knob) == value and getattr(p, knob) != getattr(EnsembleParams(), knob)


def test_thresholds_do_not_reach_the_signal_and_unknown_knobs_are_errors():
    assert ensemble_params(OesConfig(buy_threshold=0.6)) == ensemble_params(OesConfig())
    assert ensemble_params({"ewrls_lambda": 0.99, "sell_threshold": 0.4}).ewrls_lambda == 0.99
    with pytest.raises(ValueError, match=r"\['lambda'\]"):
        ensemble_params({"lambda": 0.99})
    with pytest.raises(ValueError, match="ewrls_lambda"):
        ensemble_params({"ewrls_lambda": 1.5})
    p = EnsembleParams(bb_std=1.0)
    assert ensemble_params(p) is p
    with pytest.raises(TypeError):
        ensemble_params(0.98)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "changes",
    [
        {"ewrls_lambda": 0.995},
        {"regularization": 0.01},
        {"initial_variance": 1.0},
        {"horizon_weights": (0.6, 0.2, 0.2)},
        {"bb_period": 10},
        {"bb_std": 1.0},
        {"bb_proximity": 0.5},
        {"bb_amplification": 0.3},
    ],
)
def test_signal_knobs_change_the_signals_of_a_real_market(grid, changes):
    base = batch_signals(grid, FAST)
    other = batch_signals(grid, FAST.model_copy(update=changes))
    assert not np.array_equal(base.prob, other.prob)


# ---------------------------------------------------------------------- per-bar == batch


def test_per_bar_and_batch_signals_are_identical_to_the_last_bit(grid):
    assert grid.filled.any() and (~grid.present).any()  # gaps and late first bars
    batch = batch_signals(grid, FAST)
    live = per_bar_signals(grid, FAST)
    assert batch.same_as(live)  # each horizon's forecast too
    assert batch.horizons == (1, 5, 10) and batch.preds.shape == (3, *batch.prob.shape)
    assert (batch.preds != 0).mean() > 0.5
    assert (batch.prob != 0.5).mean() > 0.5  # the model is warm for most of the data
    assert batch.age.max() > 3
    for n in (0, 400, grid.n_minutes - 1):
        assert batch.at(n) == live.at(n)


def test_a_batch_warm_up_then_per_bar_updates_equal_one_per_bar_run(grid):
    k = grid.session_range(len(grid.sessions) - 1).start + 17  # warm-up ends mid-session
    warm = MinuteGrid(
        grid.symbols,
        grid.sessions,
        grid.t_ms[:k],
        *(a[:, :k] for a in grid.arrays()),
        grid.filled[:, :k],
        np.minimum(grid.session_bounds, k),
    )
    eng = SignalEngine(grid.symbols, FAST)
    first = eng.warm_up(warm)
    assert eng.count == k and eng.last_t == grid.t_ms[k - 1]
    # the live feed's grid rule, seeded from the warm grid, carries on with the real bars
    feed = GridFiller(grid.symbols, warm.last_closes())
    assert dict(feed.last_closes) == grid.last_closes(k - 1)
    rest = []
    for m in grid.minutes(k):
        live = feed.fill(m.t, {s: b for s, b in m.bars.items() if not b.filled}, "fifo")
        assert live.bars == m.bars
        rest.append(eng.update(live))
    whole = per_bar_signals(grid, FAST)
    assert first.same_as(per_bar_signals(warm, FAST))
    assert rest == [whole.at(n) for n in range(k, grid.n_minutes)]
    assert eng.ages() == {s: sig.age_bars for s, sig in rest[-1].items()}


# ---------------------------------------------------------------------- live rule and age


def test_age_counts_grid_minutes_since_the_last_real_bar_across_sessions():
    cal = nyse()
    s1, s2 = cal.session(date(2025, 10, 14)), cal.session(date(2025, 10, 15))
    eng = SignalEngine(["AAA", "BBB"], FAST)
    feed = GridFiller(["AAA", "BBB"])

    def update(t: int, real: dict[str, Bar]) -> dict[str, Signal]:
        return eng.update(feed.fill(t, real, "fifo"))

    assert update(s1.open_ms, {"AAA": _bar("AAA", s1.open_ms, 10.0)}) == {
        "AAA": Signal(0.5, 0.0, 0.0, 0)
    }
    last = s1.close_ms - MINUTE_MS
    sig = update(last, {})  # nothing this minute: AAA filled, BBB still unknown
    assert set(sig) == {"AAA"} and sig["AAA"].age_bars == 1
    sig = update(s2.open_ms, {"BBB": _bar("BBB", s2.open_ms, 5.0)})
    assert sig["AAA"].age_bars == 2 and sig["BBB"].age_bars == 0
    assert feed.last_closes == {"AAA": 10.0, "BBB": 5.0}
    assert eng.ages() == {"AAA": 2, "BBB": 0}


def test_a_missing_symbol_is_filled_like_a_filled_bar_and_a_filled_bar_like_a_missing_one():
    cal = nyse()
    s = cal.session(date(2025, 10, 14))
    ts = list(s.minutes())[:160]
    prices = 10.0 + 0.3 * np.sin(np.arange(len(ts)) / 5.0)
    a, b, c = (SignalEngine(["AAA"], FAST) for _ in range(3))
    fa, fb, fc = (GridFiller(["AAA"]) for _ in range(3))
    for i, t in enumerate(ts):
        real = i % 4 != 3
        bar = _bar("AAA", t, float(prices[i]))
        got_a = a.update(fa.fill(t, {"AAA": bar} if real else {}, "fifo"))
        got_b = b.update(
            fb.fill(t, {"AAA": bar if real else filled_bar("AAA", t, float(prices[i - 1]))}, "fifo")
        )
        wrong = filled_bar("AAA", t, 99.0)  # a fill at the wrong close
        got_c = c.update(fc.fill(t, {"AAA": bar if real else wrong}, "fifo"))
        assert got_a == got_b == got_c
    assert got_a["AAA"].prob != 0.5  # warm by then


def test_update_refuses_bad_minutes_with_a_clear_message():
    s = nyse().session(date(2025, 10, 14))
    eng = SignalEngine(["AAA"], FAST)
    feed = GridFiller(["AAA"])  # the live path's grid rule refuses misplaced bars
    with pytest.raises(ValueError, match=r"outside \['AAA'\]"):
        feed.fill(s.open_ms, {"ZZZ": _bar("ZZZ", s.open_ms, 1.0)}, "fifo")
    with pytest.raises(ValueError, match="the bar of AAA starts at"):
        feed.fill(s.open_ms, {"AAA": _bar("AAA", s.open_ms + MINUTE_MS, 1.0)}, "fifo")
    eng.update(feed.fill(s.open_ms, {"AAA": _bar("AAA", s.open_ms, 1.0)}, "fifo"))
    with pytest.raises(ValueError, match="not after the last minute"):
        eng.update(feed.fill(s.open_ms, {}, "fifo"))
    with pytest.raises(ValueError, match="fresh SignalEngine"):
        eng.warm_up(build_grid(["AAA"], [s], {}))
    with pytest.raises(ValueError, match="differ"):
        SignalEngine(["BBB"], FAST).warm_up(build_grid(["AAA"], [s], {}))
    with pytest.raises(ValueError, match="duplicates"):
        SignalEngine(["AAA", "AAA"], FAST)


@pytest.mark.parametrize(
    "changes",
    [{}, {"calibration": True}, {"calibration": True, "calibration_z": 0.0},
     {"horizon_weights": (0.0, 1.0, 0.0)}, {"probability_scale": 2000.0},
     {"bb_amplification": 0.0}],
)  # fmt: skip
def test_recombined_signals_equal_a_full_run_to_the_last_bit(grid, changes):
    """The optimizer's path: one engine_core run per prediction key, then any calibration,
    weights, probability or Bollinger setting recombined from it."""
    run = ensemble_run(grid, FAST)
    other = FAST.model_copy(update=changes)
    assert recombined_signals(grid, other, run).same_as(batch_signals(grid, other))

"""A trial's score is the reference backtest's mean daily return of the same parameters."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.config import BEST_PARAMS_FILE, ORIGINAL_PARAMS
from engine.backtest import run_backtest
from optimize.best_params import write_best_params
from optimize.compiled_simulator import COMPILED
from optimize.objective import IN_SAMPLE, TRADE_PENALTY_PCT, Score, score, trade_penalty
from optimize.run import OptimizeOptions
from optimize.signal_cache import SignalCache
from optimize.study import PhaseJob

from .conftest import Home


def _reference(home: Home, params: dict[str, Any], ks: range, tmp_path) -> Any:
    """python -m engine backtest's result for these parameters, loaded through best_params.json."""
    from datetime import datetime

    from optimize.best_params import provenance

    data = home.dataset()
    path = tmp_path / BEST_PARAMS_FILE
    prov = provenance(data_start=data.windows.scored[0].date, data_end=data.windows.held_out[-1].date,
                      held_out_start=data.windows.held_out[0].date, trials=1, in_sample=0.0,
                      held_out=0.0, baseline_in_sample=0.0, baseline_held_out=0.0,
                      sessions_scored=4, sessions_held_out=3, seed=0, now=datetime(2025, 11, 3))  # fmt: skip
    write_best_params(path, home.strategy, params, prov)
    sessions = data.grid.sessions
    return run_backtest(home.strategy, sessions[ks[0]].date, sessions[ks[-1]].date,
                        params_path=path, data_dir=home.data_dir, config_dir=home.config_dir,
                        warmup_sessions=ks[0])  # fmt: skip


PARAMS = st.fixed_dictionaries({
    "oes_config.buy_threshold": st.sampled_from([0.51, 0.53, 0.56, 0.6]),
    "oes_config.sell_threshold": st.sampled_from([0.36, 0.42, 0.47]),
    "oes_config.ewrls_lambda": st.sampled_from([0.985, 0.99, 0.998]),
    "oes_config.bb_amplification": st.sampled_from([0.0, 0.1]),
    "oes_config.regularization": st.sampled_from([0.0, 0.05]),
})  # fmt: skip


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=PARAMS, first=st.integers(4, 7), n=st.integers(1, 3), strategy=st.sampled_from(["psm", "rotation"]))
def test_the_trial_path_equals_the_reference_backtest(params, first, n, strategy, psm_market,
                                                      rotation_market, tmp_path_factory):  # fmt: skip
    home = psm_market if strategy == "psm" else rotation_market
    data = home.dataset()
    ks = range(first, min(first + n, len(data.grid.sessions)))
    got = score(data.config(params), data, SignalCache(data.grid), ks)
    ref = _reference(home, params, ks, tmp_path_factory.mktemp("ref"))
    assert got.daily_pct == tuple(d.return_pct for d in ref.days)
    assert got.trades == ref.n_trades
    assert got.mrd_pct == pytest.approx(ref.mrd_pct, abs=0, rel=1e-12)


def test_the_penalty_falls_on_sets_that_hardly_trade():
    assert trade_penalty(10, 4.0) == 0.0
    assert trade_penalty(0, 4.0) == TRADE_PENALTY_PCT
    assert trade_penalty(2, 4.0) == TRADE_PENALTY_PCT / 2
    s = Score(IN_SAMPLE, (0.2, 0.4), trades=1, min_trades=2.0)
    assert s.mrd_pct == pytest.approx(0.3) and s.value == pytest.approx(0.3 - TRADE_PENALTY_PCT / 2)
    assert s.describe().startswith("in-sample ")
    assert math.isnan(Score(IN_SAMPLE, (), 0, 0.0).mrd_pct)


def test_signals_are_computed_once_per_signal_parameter_set(psm_market: Home):
    data = psm_market.dataset()
    cache = SignalCache(data.grid)
    ks = data.windows.scored_index
    for buy, sell in ((0.52, 0.45), (0.55, 0.4), (0.6, 0.38)):  # decision knobs only
        score(data.config({"oes_config.buy_threshold": buy, "oes_config.sell_threshold": sell}),
              data, cache, ks)  # fmt: skip
    assert (cache.stats.computed, cache.stats.hits) == (1, 2)
    score(data.config({"oes_config.ewrls_lambda": 0.99}), data, cache, ks)  # a signal knob
    assert cache.stats.computed == 2


def test_a_recombiner_runs_the_ewrls_once_per_key_and_recombines_per_signal_set(psm_market: Home):
    from engine.signals import batch_signals

    data = psm_market.dataset()
    runs: list[float] = []
    made: list[tuple[float, float]] = []

    class ByLambda:  # a stand-in for engine_core's recombine: the key is lambda alone
        def key(self, params):
            return params.ewrls_lambda

        def run(self, grid, params):
            runs.append(params.ewrls_lambda)
            return ("run", params.ewrls_lambda)

        def __call__(self, base, grid, params):
            assert base == ("run", params.ewrls_lambda)
            made.append((params.ewrls_lambda, params.bb_amplification))
            return batch_signals(grid, params)

    cache = SignalCache(data.grid, recombiner=ByLambda())
    for lam, amp in ((0.99, 0.1), (0.99, 0.05), (0.995, 0.1), (0.99, 0.1), (0.99, 0.0)):
        got = cache.get(data.config({"oes_config.ewrls_lambda": lam,
                                     "oes_config.bb_amplification": amp}).oes_config)  # fmt: skip
        assert got.same_as(batch_signals(data.grid, data.config({"oes_config.ewrls_lambda": lam,
                                         "oes_config.bb_amplification": amp}).oes_config))  # fmt: skip
    assert runs == [0.99, 0.995]  # one EWRLS run per key
    assert made == [(0.99, 0.1), (0.99, 0.05), (0.995, 0.1), (0.99, 0.0)]  # the repeat is a hit
    assert (cache.stats.computed, cache.stats.recombined, cache.stats.hits) == (2, 4, 1)


def test_engine_core_recombine_gives_a_full_runs_signals_for_one_ewrls_run(psm_market: Home):
    from engine.signals import batch_signals

    data = psm_market.dataset()
    cache = SignalCache(data.grid)  # the default: engine_core's recombine
    sets = ({"oes_config.bb_amplification": 0.1, "oes_config.horizon_weights": [0.3, 0.5, 0.2]},
            {"oes_config.bb_amplification": 0.0, "oes_config.horizon_weights": [0.2, 0.6, 0.2]},
            {"oes_config.bb_amplification": 0.15, "oes_config.bb_period": 12})  # fmt: skip
    for params in sets:
        oes = data.config(params).oes_config
        assert cache.get(oes).same_as(batch_signals(data.grid, oes)), params
    assert (cache.stats.computed, cache.stats.recombined) == (1, 3)  # one EWRLS run for the three
    cache.get(data.config({"oes_config.ewrls_lambda": 0.99}).oes_config)  # another prediction key
    assert cache.stats.computed == 2


def test_a_pruned_trial_stops_at_the_session_it_is_told(psm_market: Home):
    data = psm_market.dataset()
    seen: list[int] = []

    class Stop(Exception):
        pass

    def on_session(i: int, running: float) -> None:
        seen.append(i)
        if i == 1:
            raise Stop

    with pytest.raises(Stop):
        score(data.base, data, SignalCache(data.grid), data.windows.scored_index, on_session=on_session)
    assert seen == [0, 1]


ROTATION_ORIGINAL = {k: v for k, v in ORIGINAL_PARAMS["rotation"].items()
                     if not k.endswith("leverage_boosts") and v is not None}  # fmt: skip
"""The ported tuning on the four-symbol rotation market, as best_params.json can carry it
(its null cost margin cannot be: the gate stays on); it trades a lot."""


@pytest.mark.parametrize("params", [{"oes_config.buy_threshold": 0.52}, ROTATION_ORIGINAL],
                         ids=["default", "original"])  # fmt: skip
def test_the_optimizers_default_simulator_scores_as_the_reference_backtest(params, rotation_market,
                                                                          tmp_path):  # fmt: skip
    """The optimizer trials on the compiled loop by default; its score is the backtest's."""
    assert OptimizeOptions().simulator is COMPILED
    assert PhaseJob.__dataclass_fields__["simulator"].default is COMPILED
    home = rotation_market
    data = home.dataset()
    ks = range(4, len(data.grid.sessions))
    got = score(data.config(params), data, SignalCache(data.grid), ks,
                simulator=OptimizeOptions().simulator)  # fmt: skip
    ref = _reference(home, params, ks, tmp_path)
    assert got.daily_pct == tuple(d.return_pct for d in ref.days)
    assert got.trades == ref.n_trades
    assert got.mrd_pct == pytest.approx(ref.mrd_pct, abs=0, rel=1e-12)
    if params is ROTATION_ORIGINAL:
        assert ref.n_trades > len(ks)  # the comparison covers real trading

"""Every row of every phase changes what the strategy does, through the engine's overlay;
the shipped defaults lie in every row; phase 2 never changes the EWRLS forecasts."""

from __future__ import annotations

from typing import Any

import pytest

from common.config import config_with_params, default_config_json, validate_strategy_config
from engine.backtest import simulate
from engine.signals import ensemble_params
from optimize.dataset import Dataset
from optimize.signal_cache import SignalCache
from optimize.spaces import FORECAST_KEYS, SPACES, Dim, Infeasible, Levels, Phase, Simplex

from .conftest import Home

BB_ON = {"oes_config.bb_amplification": 0.15}  # the Bollinger knobs act only with it on


def _orders(data: Dataset, cache: SignalCache, params: dict[str, Any]) -> list[tuple]:
    cfg = data.config(params)
    res = simulate(cfg, data.grid, cache.get(cfg.oes_config), data.windows.scored_index,
                   liquidity=data.liquidity, costs=data.costs, diagnostics=False)  # fmt: skip
    return [(o.t_ms, o.symbol, o.side, o.qty) for o in res.orders]


def _two_values(row: Dim | Levels | Simplex) -> tuple[Any, Any]:
    if isinstance(row, Simplex):
        return [0.0, 1.0, 0.0], [0.4, 0.4, 0.2]
    if isinstance(row, Levels):
        return row.values[0], row.values[-1]
    if row.integer:
        return int(row.low), int(row.high)
    return row.low, row.high


ROWS = [(s, no, r) for s, phases in SPACES.items() for no, ph in enumerate(phases, 1) for r in ph.rows]


@pytest.mark.parametrize(("strategy", "phase", "row"), ROWS,
                         ids=[f"{s}-p{n}-{r.key.split('.')[-1]}" for s, n, r in ROWS])  # fmt: skip
def test_every_parameter_changes_the_decisions(strategy, phase, row, psm_market: Home,
                                               rotation_market: Home):  # fmt: skip
    # from the shipped defaults, the region the spaces are centred on
    home = psm_market if strategy == "psm" else rotation_market
    data = home.dataset()
    cache = SignalCache(data.grid)
    base = dict(BB_ON) if row.when is not None else {}
    if row.key == "oes_config.buy_threshold":
        base["oes_config.sell_threshold"] = 0.35  # room below every buy threshold
    if row.key == "oes_config.sell_threshold":
        base["oes_config.buy_threshold"] = 0.65
    a, b = _two_values(row)
    orders_a = _orders(data, cache, {**base, row.key: a})
    orders_b = _orders(data, cache, {**base, row.key: b})
    assert orders_a and orders_b, "the strategy must trade for the comparison to mean anything"
    assert orders_a != orders_b, f"{row.key}: {a!r} and {b!r} send the same orders"


@pytest.mark.parametrize("strategy", sorted(SPACES))
def test_the_shipped_defaults_lie_in_every_row(strategy):
    cfg = validate_strategy_config(strategy, default_config_json(strategy), source="defaults")
    for no, ph in enumerate(SPACES[strategy], 1):
        for row in ph.rows:
            value = cfg
            for part in row.key.split("."):
                value = getattr(value, part)
            assert row.contains(value), f"phase {no}: {row.key}={value!r} is outside its row"
        assert ph.start_values(cfg).keys() == {n for r in ph.active(cfg) for n in
                                              (r.names if isinstance(r, Simplex) else (r.name,))}  # fmt: skip


PHASE2_ROWS = [(s, r) for s, phases in SPACES.items() for r in phases[1].rows]


@pytest.mark.parametrize(("strategy", "row"), PHASE2_ROWS,
                         ids=[f"{s}-{r.key.split('.')[-1]}" for s, r in PHASE2_ROWS])  # fmt: skip
def test_phase_2_rows_leave_the_ewrls_forecasts_unchanged(strategy, row):
    data = default_config_json(strategy)
    keys = set()
    for value in _two_values(row):
        cfg = config_with_params(strategy, data, {row.key: value})
        keys.add(ensemble_params(cfg.oes_config).prediction_key())
    assert len(keys) == 1, f"{row.key} changes EnsembleParams.prediction_key()"
    assert row.key not in FORECAST_KEYS


def test_phase_1_changes_the_forecasts_and_phase_2_cannot():
    p1 = SPACES["psm"][0]
    assert {"oes_config.ewrls_lambda", "oes_config.regularization"} <= set(p1.config_keys())
    with pytest.raises(ValueError, match="oes_config.regularization change the EWRLS forecasts"):
        Phase("p2", (Levels("regularization", "oes_config.regularization", (1.0, 10.0)),),
              same_forecasts=True)  # fmt: skip


def test_the_last_weight_is_the_rest_and_must_fit_its_range():
    class T:
        def __init__(self, values: dict[str, float]) -> None:
            self.values = values

        def suggest_float(self, name: str, low: float, high: float, *, step=None) -> float:
            return self.values[name]

    simplex = SPACES["psm"][1].rows[0]
    assert isinstance(simplex, Simplex)
    assert simplex.sample(T({"w_h1": 0.3, "w_h5": 0.5})) == [0.3, 0.5, 0.2]
    assert simplex.sample(T({"w_h1": 0.0, "w_h5": 1.0})) == [0.0, 1.0, 0.0]
    with pytest.raises(Infeasible, match="outside 0..0.4"):
        simplex.sample(T({"w_h1": 0.1, "w_h5": 0.4}))


def test_bollinger_rows_are_searched_only_with_the_amplification_on(psm_market: Home):
    data = psm_market.dataset()
    phase2 = SPACES["psm"][1]
    off = data.config({"oes_config.bb_amplification": 0.0})
    on = data.config({"oes_config.bb_amplification": 0.05})
    assert {r.key for r in phase2.skipped(off)} == {"oes_config.bb_period", "oes_config.bb_std",
                                                    "oes_config.bb_proximity"}  # fmt: skip
    assert phase2.skipped(on) == () and len(phase2.active(on)) == len(phase2.rows)

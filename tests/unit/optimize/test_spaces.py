"""Every row of every phase changes what the strategy does, through the engine's overlay."""

from __future__ import annotations

from typing import Any

import pytest

from engine.backtest import simulate
from optimize.dataset import Dataset
from optimize.signal_cache import SignalCache
from optimize.spaces import SPACES, Dim, Infeasible, Simplex

from .conftest import Home

BB_ON = {"oes_config.bb_amplification": 0.15}  # the Bollinger knobs act only with it on


def _orders(data: Dataset, cache: SignalCache, params: dict[str, Any]) -> list[tuple]:
    cfg = data.config(params)
    res = simulate(cfg, data.grid, cache.get(cfg.oes_config), data.windows.scored_index,
                   liquidity=data.liquidity, costs=data.costs, diagnostics=False)  # fmt: skip
    return [(o.t_ms, o.symbol, o.side, o.qty) for o in res.orders]


def _two_values(row: Dim | Simplex) -> tuple[Any, Any]:
    if isinstance(row, Simplex):
        return [0.5, 0.3, 0.2], [0.15, 0.3, 0.55]
    if row.integer:
        return int(row.low), int(row.high)
    return row.low, row.high


ROWS = [(s, no, r) for s, phases in SPACES.items() for no, ph in enumerate(phases, 1) for r in ph.rows]


@pytest.mark.parametrize(("strategy", "phase", "row"), ROWS,
                         ids=[f"{s}-p{n}-{r.key.split('.')[-1]}" for s, n, r in ROWS])  # fmt: skip
def test_every_parameter_changes_the_decisions(strategy, phase, row, psm_original_market: Home,
                                               rotation_original_market: Home):  # fmt: skip
    # from the ported tuning, the region the spaces cover (strategy-reference.md); the
    # shipped defaults lie outside them (a threshold of 0.65 on calibrated forecasts never trades)
    home = psm_original_market if strategy == "psm" else rotation_original_market
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


def test_the_last_weight_is_the_rest_and_must_fit_its_range():
    class T:
        def __init__(self, values: dict[str, float]) -> None:
            self.values = values

        def suggest_float(self, name: str, low: float, high: float, *, step=None) -> float:
            return self.values[name]

    simplex = SPACES["psm"][1].rows[0]
    assert isinstance(simplex, Simplex)
    assert simplex.sample(T({"w_h1": 0.3, "w_h5": 0.5})) == [0.3, 0.5, 0.2]
    with pytest.raises(Infeasible, match="outside 0.05..0.6"):
        simplex.sample(T({"w_h1": 0.6, "w_h5": 0.7}))


def test_bollinger_rows_are_searched_only_with_the_amplification_on(psm_market: Home):
    data = psm_market.dataset()
    phase2 = SPACES["psm"][1]
    off = data.config({"oes_config.bb_amplification": 0.0})
    on = data.config({"oes_config.bb_amplification": 0.05})
    assert {r.key for r in phase2.skipped(off)} == {"oes_config.bb_period", "oes_config.bb_std",
                                                    "oes_config.bb_proximity"}  # fmt: skip
    assert phase2.skipped(on) == () and len(phase2.active(on)) == len(phase2.rows)

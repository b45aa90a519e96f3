"""bench.edge: the table's figures are the engine's backtest, and configs sharing a forecast
reuse one engine_core run.

One small synthetic market (seed 1, 22 sessions: 20 of warm-up, 2 scored)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.edge.__main__ import main, sample_label, seed_list, seed_text
from bench.edge.markets import MarketSpec, market_grid
from bench.edge.study import Row, Study, paired
from common.config import (
    RotationStrategyConfig,
    apply_params,
    default_config_json,
    validate_strategy_config,
)
from engine.backtest import simulate
from engine.signals import batch_signals

SPEC = MarketSpec(seed=1, signal=0.2, sessions=22)
WARMUP = 20


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("edge-cache")


def _cfg(**dotted) -> RotationStrategyConfig:
    data = apply_params(default_config_json("rotation"), dotted, source="<test>", strategy="rotation")
    return validate_strategy_config("rotation", data, source="<test>")


def test_the_figures_are_the_engine_backtest_of_the_scored_sessions(cache) -> None:
    cfg = _cfg()
    [m] = Study(cache, warmup=WARMUP).metrics(cfg, [SPEC])
    # the backtest itself, signals computed in full on the same grid
    grid = market_grid(SPEC, cfg.symbols, cache)
    result = simulate(cfg, grid, batch_signals(grid, cfg.oes_config), [20, 21])
    assert m.net == pytest.approx([d.return_pct for d in result.days], abs=1e-12)
    assert m.gross == pytest.approx([d.gross_return_pct for d in result.days], abs=1e-12)
    assert m.round_trips == [d.trades for d in result.days]
    assert m.turnover == pytest.approx([d.turnover for d in result.days], abs=1e-12)
    assert len(m.hold) == 2 and all(np.isfinite(m.hold))
    # net = gross - costs, in percent of the session's start equity
    assert np.asarray(m.gross) - np.asarray(m.costs) == pytest.approx(m.net, abs=1e-9)
    assert sum(m.round_trips) > 0 and np.isfinite(m.ic) and m.horizon > 0


def test_configs_sharing_a_forecast_reuse_one_run_and_pair_by_session(cache) -> None:
    study = Study(cache, warmup=WARMUP)
    base = study.metrics(_cfg(), [SPEC])
    same = study.metrics(_cfg(), [SPEC])
    other = study.metrics(_cfg(**{"rotation_manager_config.cooldown_bars": 10}), [SPEC])
    assert len(study._runs) == 1  # the decision knob did not rerun engine_core
    assert paired(base, same) == (0.0, 0.0)
    d, _ = paired(base, other)
    assert d == pytest.approx(float(np.mean(np.asarray(other[0].net) - np.asarray(base[0].net))))
    study.metrics(_cfg(**{"oes_config.regularization": 1.0}), [SPEC])
    assert len(study._runs) == 2  # a forecast knob did
    row = Row.of(base + other)
    assert row.days == 4 and row.net == pytest.approx(np.mean(base[0].net + other[0].net))


def test_seed_lists() -> None:
    assert seed_list("1-3,7") == [1, 2, 3, 7]
    assert seed_list("200") == [200]


def test_bad_override_is_named(cache, capsys) -> None:
    with pytest.raises(Exception, match="no_such_knob"):
        main(["table", "--strategy", "psm", "--seeds", "1", "--cache", str(cache),
              "--set", "oes_config.no_such_knob=1"])  # fmt: skip


def test_seed_text_and_the_sample_label() -> None:
    assert seed_text(seed_list("1-3,200-209,7")) == "1-3,200-209,7"
    assert (sample_label([100, 119]), sample_label([1, 200]), sample_label([1, 100])) == (
        "in-sample", "held-out", "mixed",
    )  # fmt: skip

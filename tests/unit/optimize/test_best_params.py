"""best_params.json: written atomically with provenance, read by the engine as it is."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pytest

from common.config import load_best_params, load_strategy_config
from common.errors import ConfigError
from engine.backtest import simulate
from engine.cli import log_params
from optimize.best_params import code_version, current_params, provenance, write_best_params
from optimize.signal_cache import SignalCache

from .conftest import Home

PARAMS = {"oes_config.buy_threshold": 0.6, "oes_config.sell_threshold": 0.4,
          "oes_config.horizon_weights": [0.2, 0.5, 0.3]}  # fmt: skip


def prov(**kw):
    base = dict(data_start="2025-10-23", data_end="2025-10-31", held_out_start="2025-10-29",
                trials=100, in_sample=0.12, held_out=0.05, baseline_in_sample=0.01,
                baseline_held_out=-0.02, sessions_scored=4, sessions_held_out=3, seed=42,
                now=datetime(2025, 11, 3, 13, 0, tzinfo=UTC))  # fmt: skip
    return provenance(**{**base, **kw})


def test_written_with_provenance_and_other_strategies_kept(tmp_path):
    path = tmp_path / "best_params.json"
    write_best_params(path, "rotation", {"oes_config.buy_threshold": 0.55}, prov())
    write_best_params(path, "psm", PARAMS, prov())
    data = json.loads(path.read_text())
    assert set(data) == {"rotation", "psm"}
    p = load_best_params(path, "psm").provenance
    assert (p.score, p.held_out_score, p.baseline_held_out_score, p.trials) == (0.12, 0.05, -0.02, 100)
    assert str(p.held_out_start) == "2025-10-29" and p.code_version == code_version() != ""
    assert current_params(path, "psm") == PARAMS and current_params(tmp_path / "none.json", "psm") == {}
    assert not list(tmp_path.glob(".best_params.json.*"))  # no temporary file left


def test_an_entry_the_engine_could_not_load_is_never_written(tmp_path):
    path = tmp_path / "best_params.json"
    with pytest.raises(ValueError):
        write_best_params(path, "psm", PARAMS, prov(trials=0))
    assert not path.exists()
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read it to update it"):
        write_best_params(path, "psm", PARAMS, prov())
    assert path.read_text() == "{not json"


def test_the_engine_trades_the_written_parameters_and_they_change_its_decisions(
        psm_market: Home, home_copy, caplog):  # fmt: skip
    home = home_copy(psm_market)
    data = home.dataset()
    path = home.config_dir / "best_params.json"
    write_best_params(path, "psm", PARAMS, prov())
    before = load_strategy_config("psm", config_dir=home.config_dir)
    after = load_strategy_config("psm", None, path, config_dir=home.config_dir)
    assert after.oes_config.buy_threshold == 0.6 and after.oes_config.horizon_weights == (0.2, 0.5, 0.3)
    cache = SignalCache(data.grid)

    def orders(cfg):
        return simulate(cfg, data.grid, cache.get(cfg.oes_config), data.windows.scored_index,
                        liquidity=data.liquidity, costs=data.costs, diagnostics=False).orders  # fmt: skip

    assert orders(before) != orders(after)
    with caplog.at_level(logging.INFO, logger="engine"):
        log_params("psm", path)
    text = caplog.text
    assert "trading with optimized parameters from" in text and "buy_threshold=0.6" in text
    assert "in-sample +0.1200 %/day, held-out +0.0500 %/day" in text

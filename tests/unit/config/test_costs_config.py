"""The ``costs`` section of both strategy configs: realistic defaults, strict validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.config import CostsConfig, default_config_json, load_strategy_config
from common.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("strategy", ["rotation", "psm"])
def test_shipped_configs_carry_the_realistic_defaults(strategy):
    cfg = load_strategy_config(strategy, config_dir=REPO / "config")
    c = cfg.costs
    assert c == CostsConfig()
    assert c.slippage_bps == 1.0 and c.fee_per_share == 0.0  # Alpaca charges no commission
    assert (c.sec_fee_per_million, c.taf_per_share, c.taf_max_per_trade) == (27.80, 0.000166, 8.30)
    assert c.cat_fee_per_share == 0.000046  # the top of the published range
    assert (c.half_spread_bps_at_reference, c.max_half_spread_bps, c.liquidity_sessions) == (1.0, 25.0, 10)
    assert set(json.loads((REPO / "config" / f"{strategy}_strategy.json").read_text())["backtest"]) == {
        "starting_cash"
    }


def _file(tmp_path: Path, strategy: str, **costs: object) -> Path:
    data = default_config_json(strategy)
    data["costs"].update(costs)
    p = tmp_path / f"{strategy}_strategy.json"
    p.write_text(json.dumps(data))
    return p


@pytest.mark.parametrize(
    ("costs", "fragment"),
    [
        ({"slippage_bps": -0.5}, "costs.slippage_bps=-0.5"),
        ({"slippage_bps": 101.0}, "costs.slippage_bps=101.0"),
        ({"taf_max_per_trade": -1.0}, "costs.taf_max_per_trade=-1.0"),
        ({"reference_minute_dollar_volume": 0.0}, "costs.reference_minute_dollar_volume=0.0"),
        ({"liquidity_sessions": 0}, "costs.liquidity_sessions=0"),
        ({"liquidity_sessions": 2.5}, "costs.liquidity_sessions=2.5"),
        ({"cat_fee_per_share": "0.00004"}, "costs.cat_fee_per_share='0.00004'"),
        ({"commission": 0.01}, "costs.commission"),
        ({"max_half_spread_bps": 0.5}, "costs.max_half_spread_bps=0.5 must be >= half_spread_bps_at_reference"),
    ],
)
@pytest.mark.parametrize("strategy", ["rotation", "psm"])
def test_bad_costs_name_the_file_and_key(tmp_path, strategy, costs, fragment):
    path = _file(tmp_path, strategy, **costs)
    with pytest.raises(ConfigError) as e:
        load_strategy_config(strategy, path)
    assert str(path) in str(e.value) and fragment in str(e.value)


def test_the_old_backtest_cost_keys_are_refused_with_their_name(tmp_path):
    data = default_config_json("rotation")
    data["backtest"]["slippage_bps"] = 1.0
    p = tmp_path / "rotation_strategy.json"
    p.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"backtest\.slippage_bps=1\.0 belongs to the costs section now"):
        load_strategy_config("rotation", p)

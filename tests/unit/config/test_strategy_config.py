"""common.config: defaults, strict validation, error messages naming file/key/value, best params."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from common.config import (
    DEFAULT_BOOSTS,
    ORIGINAL_DIR,
    ORIGINAL_PARAMS,
    PsmStrategyConfig,
    RotationStrategyConfig,
    apply_params,
    default_config_json,
    load_best_params,
    load_strategy_config,
    original_config,
    original_config_json,
    strategy_config_path,
    strategy_symbols,
)
from common.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]
CONFIG_DIR = REPO / "config"
PROVENANCE = {
    "data_start": "2025-09-02",
    "data_end": "2025-10-15",
    "trials": 100,
    "score": 0.12,
    "created_at": "2025-10-16T09:41:00-04:00",
}


def write(tmp_path: Path, name: str, data: object) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return p


def rotation_file(tmp_path: Path, **changes: object) -> Path:
    data = default_config_json("rotation")
    for key, value in changes.items():
        section, knob = key.split("__")
        data[section][knob] = value
    return write(tmp_path, "rotation_strategy.json", data)


# ------------------------------------------------------------------ shipped files


def test_shipped_files_equal_the_documented_defaults() -> None:
    rot = load_strategy_config("rotation", config_dir=CONFIG_DIR)
    psm = load_strategy_config("psm", config_dir=CONFIG_DIR)
    assert rot == RotationStrategyConfig()
    assert psm == PsmStrategyConfig()
    # issue 10's defaults (OesConfig, RotationManagerConfig and PsmSection say why)
    for o in (rot.oes_config, psm.oes_config):
        assert (o.ewrls_lambda, o.initial_variance, o.regularization, o.warmup_samples) == (
            0.9999, 10.0, 10.0, 100,
        )  # fmt: skip
        assert (o.horizons, o.horizon_weights, o.probability_scale) == (
            (1, 5, 10), (0.0, 1.0, 0.0), 2000.0,
        )  # fmt: skip
        assert (o.calibration, o.calibration_lambda, o.calibration_z) == (True, 0.9995, 0.5)
        assert o.entry_cost_margin == 1.0
        assert (o.bb_period, o.bb_std, o.bb_proximity, o.bb_amplification) == (20, 2.0, 0.30, 0.0)
    assert (rot.oes_config.buy_threshold, rot.oes_config.sell_threshold) == (0.53, 0.47)
    assert (psm.oes_config.buy_threshold, psm.oes_config.sell_threshold) == (0.51, 0.49)
    a = rot.signal_aggregator_config
    assert (a.min_probability, a.min_confidence, a.min_strength, a.smoothing_alpha) == (
        0.51,
        0.01,
        0.005,
        0.3,
    )
    assert all(1.3 <= b <= 1.6 for b in a.leverage_boosts.values())
    m = rot.rotation_manager_config
    assert (m.max_positions, m.min_strength_to_enter, m.rotation_strength_delta) == (3, 0.008, 0.10)
    assert (m.profit_target, m.stop_loss, m.min_rank_to_hold, m.cooldown_bars) == (
        0.03,
        0.015,
        5,
        0,
    )
    assert (m.eod_liquidation, m.eod_exit_time_minutes, m.min_hold_bars) == (True, 388, 5)
    p = psm.psm_config
    assert (p.ladder_offsets, p.min_hold_bars, p.profit_target, p.stop_loss) == (
        (0.01, 0.02),
        3,
        0.02,
        0.015,
    )
    r = psm.reconciliation
    assert (r.policy, r.flatten_foreign_at_eod, r.restore_journal_state) == ("adopt", False, True)


def test_the_original_tuning_is_shipped_and_holds_the_ported_values() -> None:
    """config/original/ keeps the ported system's behaviour one --config away."""
    rot = load_strategy_config("rotation", CONFIG_DIR / ORIGINAL_DIR / "rotation_strategy.json")
    psm = load_strategy_config("psm", CONFIG_DIR / ORIGINAL_DIR / "psm_strategy.json")
    assert rot == original_config("rotation") and psm == original_config("psm")
    assert original_config_json("psm") == json.loads(
        (CONFIG_DIR / ORIGINAL_DIR / "psm_strategy.json").read_text()
    )
    for o in (rot.oes_config, psm.oes_config):
        assert (o.ewrls_lambda, o.initial_variance, o.regularization, o.warmup_samples) == (
            0.98,
            10.0,
            0.1,
            100,
        )
        assert (o.horizons, o.horizon_weights, o.probability_scale) == (
            (1, 5, 10),
            (0.3, 0.5, 0.2),
            50.0,
        )
        assert (o.bb_period, o.bb_std, o.bb_proximity, o.bb_amplification) == (20, 2.0, 0.30, 0.10)
        assert o.calibration is False and o.entry_cost_margin is None
    assert (rot.oes_config.buy_threshold, rot.oes_config.sell_threshold) == (0.53, 0.47)
    a = rot.signal_aggregator_config
    assert (a.min_probability, a.min_confidence, a.min_strength, a.smoothing_alpha) == (
        0.51,
        0.01,
        0.005,
        0.3,
    )
    assert a.leverage_boosts == DEFAULT_BOOSTS
    m = rot.rotation_manager_config
    assert (m.max_positions, m.min_strength_to_enter, m.rotation_strength_delta) == (3, 0.008, 0.10)
    assert (m.profit_target, m.stop_loss, m.min_rank_to_hold, m.cooldown_bars) == (
        0.03,
        0.015,
        5,
        10,
    )
    assert (m.eod_liquidation, m.eod_exit_time_minutes, m.min_hold_bars) == (True, 388, 5)
    p = psm.psm_config
    assert (psm.oes_config.buy_threshold, psm.oes_config.sell_threshold) == (0.55, 0.45)
    assert (p.ladder_offsets, p.min_hold_bars, p.profit_target, p.stop_loss) == (
        (0.05, 0.13),
        3,
        0.02,
        0.015,
    )
    # every key of ORIGINAL_PARAMS is a knob (apply_params refuses any other)
    assert all(len(k.split(".")) == 2 for ks in ORIGINAL_PARAMS.values() for k in ks)


def test_strategy_symbols_reads_the_config_dir() -> None:
    assert strategy_symbols("rotation", CONFIG_DIR) == (
        "ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA", "UVXY",
    )  # fmt: skip
    assert strategy_symbols("psm", CONFIG_DIR) == ("SPY", "SPXL", "SH", "SDS")


def test_strategy_symbols_of_a_custom_dir(tmp_path: Path) -> None:
    data = default_config_json("rotation")
    data["symbols"] = ["TQQQ", "SQQQ", "SSO"]
    data["signal_aggregator_config"]["leverage_boosts"] = {"TQQQ": 1.6}
    write(tmp_path, "rotation_strategy.json", data)
    assert strategy_symbols("rotation", tmp_path) == ("TQQQ", "SQQQ", "SSO")


def test_unknown_strategy_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown strategy 'momentum'"):
        strategy_config_path("momentum")


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"psm_strategy\.json: no such config file"):
        strategy_symbols("psm", tmp_path)


# ------------------------------------------------------------------ validation errors


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("rotation_manager_config__max_positions", 0, "rotation_manager_config.max_positions=0"),
        ("oes_config__ewrls_lambda", 1.5, "oes_config.ewrls_lambda=1.5"),
        ("oes_config__buy_threshold", "0.55", "oes_config.buy_threshold='0.55'"),
        (
            "rotation_manager_config__eod_liquidation",
            1,
            "rotation_manager_config.eod_liquidation=1",
        ),
        (
            "signal_aggregator_config__smoothing_alpha",
            0,
            "signal_aggregator_config.smoothing_alpha=0",
        ),
        ("risk__daily_loss_limit_pct", -0.1, "risk.daily_loss_limit_pct=-0.1"),
        ("reconciliation__policy", "ignore", "reconciliation.policy='ignore'"),
        ("session__eod_minutes_before_close", 0, "session.eod_minutes_before_close=0"),
        ("oes_config__calibration", 1, "oes_config.calibration=1"),
        ("oes_config__calibration_lambda", 0.5, "oes_config.calibration_lambda=0.5"),
        ("oes_config__calibration_z", -1.0, "oes_config.calibration_z=-1.0"),
        ("oes_config__entry_cost_margin", -0.5, "oes_config.entry_cost_margin=-0.5"),
        ("oes_config__entry_cost_margin", "1", "oes_config.entry_cost_margin='1'"),
    ],
)
def test_out_of_range_or_wrong_type_names_file_key_and_value(
    tmp_path: Path, key: str, value: object, fragment: str
) -> None:
    path = rotation_file(tmp_path, **{key: value})
    with pytest.raises(ConfigError) as e:
        load_strategy_config("rotation", path)
    assert str(path) in str(e.value)
    assert fragment in str(e.value)


def test_unknown_key_is_an_error_naming_it(tmp_path: Path) -> None:
    data = default_config_json("rotation")
    data["rotation_manager_config"]["min_hold_bar"] = 7
    path = write(tmp_path, "rotation_strategy.json", data)
    with pytest.raises(ConfigError, match=r"rotation_manager_config\.min_hold_bar=7: Extra inputs"):
        load_strategy_config("rotation", path)


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    data = default_config_json("psm")
    data["psm"] = {}
    with pytest.raises(ConfigError, match="psm="):
        load_strategy_config("psm", write(tmp_path, "p.json", data))


def test_nan_is_refused(tmp_path: Path) -> None:
    text = json.dumps(default_config_json("psm")).replace('"stop_loss": 0.015', '"stop_loss": NaN')
    with pytest.raises(ConfigError, match="NaN is not allowed"):
        load_strategy_config("psm", write(tmp_path, "p.json", text))


def test_bad_json_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"p\.json: not valid JSON"):
        load_strategy_config("psm", write(tmp_path, "p.json", "{"))


def test_file_of_the_other_strategy_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "x.json", default_config_json("psm"))
    with pytest.raises(ConfigError, match="strategy='psm' but 'rotation'"):
        load_strategy_config("rotation", path)


@pytest.mark.parametrize(
    ("section", "changes", "fragment"),
    [
        ("oes_config", {"horizon_weights": [0.3, 0.5, 0.3]}, "sum to 1"),
        ("oes_config", {"horizon_weights": [0.5, 0.5]}, "one weight per horizon"),
        ("oes_config", {"horizons": [5, 1, 10]}, "increasing"),
        ("oes_config", {"buy_threshold": 0.5, "sell_threshold": 0.495}, "by at least 0.01"),
        ("rotation_manager_config", {"min_strength_to_exit": 0.01}, "must not exceed"),
        ("rotation_manager_config", {"min_rank_to_hold": 2}, "min_rank_to_hold=2"),
        ("rotation_manager_config", {"min_strength_to_enter": 2.0}, "unreachable"),
        ("session", {"no_entry_minutes_before_close": 1}, "no_entry_minutes_before_close=1"),
        ("reconciliation", {"rebalance_tolerance": 0.1}, "rebalance_tolerance=0.1 was removed"),
        ("signal_aggregator_config", {"leverage_boosts": {"SPY": 1.2}}, "['SPY'] not in symbols"),
    ],
)
def test_cross_field_rules(tmp_path: Path, section: str, changes: dict, fragment: str) -> None:
    data = default_config_json("rotation")
    data[section].update(changes)
    path = write(tmp_path, "rotation_strategy.json", data)
    with pytest.raises(ConfigError) as e:
        load_strategy_config("rotation", path)
    assert str(path) in str(e.value) and fragment in str(e.value)


def test_psm_symbols_are_fixed_by_its_states(tmp_path: Path) -> None:
    data = default_config_json("psm")
    data["symbols"] = ["SPY", "UPRO", "SH", "SDS"]
    with pytest.raises(ConfigError, match="must be exactly"):
        load_strategy_config("psm", write(tmp_path, "p.json", data))


def test_psm_ladder_offsets_must_increase(tmp_path: Path) -> None:
    data = default_config_json("psm")
    data["psm_config"]["ladder_offsets"] = [0.13, 0.05]
    with pytest.raises(ConfigError, match=r"psm_config.ladder_offsets=\[0.13, 0.05\]"):
        load_strategy_config("psm", write(tmp_path, "p.json", data))


def test_models_are_frozen() -> None:
    cfg = RotationStrategyConfig()
    with pytest.raises(Exception, match="frozen"):
        cfg.rotation_manager_config.max_positions = 5  # type: ignore[misc]


# ------------------------------------------------------------------ best params


def test_best_params_override_by_dotted_key(tmp_path: Path) -> None:
    overrides = {
        "oes_config.buy_threshold": 0.56,
        "oes_config.horizon_weights": [0.2, 0.6, 0.2],
        "signal_aggregator_config.leverage_boosts.TQQQ": 1.1,
    }
    params = write(
        tmp_path, "best_params.json", {"rotation": {"params": overrides, "provenance": PROVENANCE}}
    )
    cfg = load_strategy_config("rotation", CONFIG_DIR / "rotation_strategy.json", params)
    assert cfg.oes_config.buy_threshold == 0.56
    assert cfg.oes_config.horizon_weights == (0.2, 0.6, 0.2)
    assert cfg.signal_aggregator_config.leverage_boosts["TQQQ"] == 1.1
    assert cfg.signal_aggregator_config.leverage_boosts["SQQQ"] == 1.6
    best = load_best_params(params, "rotation")
    assert best is not None and best.provenance.trials == 100
    assert best.provenance.data_end.isoformat() == "2025-10-15"
    # no entry for psm: the psm config loads unchanged
    assert (
        load_strategy_config("psm", CONFIG_DIR / "psm_strategy.json", params) == PsmStrategyConfig()
    )


def test_each_strategy_takes_its_own_best_params(tmp_path: Path) -> None:
    params = write(tmp_path, "best_params.json", {
        "rotation": {"params": {"oes_config.buy_threshold": 0.56}, "provenance": PROVENANCE},
        "psm": {"params": {"oes_config.sell_threshold": 0.44}, "provenance": PROVENANCE},
    })
    rot = load_strategy_config("rotation", CONFIG_DIR / "rotation_strategy.json", params)
    psm = load_strategy_config("psm", CONFIG_DIR / "psm_strategy.json", params)
    assert rot.oes_config.buy_threshold == 0.56 and psm.oes_config.sell_threshold == 0.44


def test_best_params_unknown_key_names_the_params_file(tmp_path: Path) -> None:
    params = write(
        tmp_path,
        "best_params.json",
        {"psm": {"params": {"oes_config.lambda": 0.99}, "provenance": PROVENANCE}},
    )
    with pytest.raises(ConfigError) as e:
        load_strategy_config("psm", CONFIG_DIR / "psm_strategy.json", params)
    msg = str(e.value)
    assert str(params) in msg and "oes_config.lambda" in msg and "0.99" in msg


def test_best_params_out_of_range_value_names_the_params_file(tmp_path: Path) -> None:
    params = write(
        tmp_path,
        "best_params.json",
        {"psm": {"params": {"oes_config.ewrls_lambda": 1.2}, "provenance": PROVENANCE}},
    )
    with pytest.raises(ConfigError) as e:
        load_strategy_config("psm", CONFIG_DIR / "psm_strategy.json", params)
    assert f"{params}: oes_config.ewrls_lambda=1.2" in str(e.value)


def test_best_params_bad_provenance(tmp_path: Path) -> None:
    bad = dict(PROVENANCE, data_end="2025-01-01")
    params = write(tmp_path, "best_params.json", {"psm": {"params": {}, "provenance": bad}})
    with pytest.raises(ConfigError, match="data_end=2025-01-01 is before"):
        load_best_params(params, "psm")
    params = write(tmp_path, "b2.json", {"momentum": {}})
    with pytest.raises(ConfigError, match="unknown strategy key"):
        load_best_params(params, "psm")


def test_apply_params_rejects_bad_keys() -> None:
    data = default_config_json("rotation")
    for key in ("buy_threshold", "nosection.x", "oes_config.buy_threshold.x", "symbols.0"):
        with pytest.raises(ConfigError, match=key.split(".")[0]):
            apply_params(data, {key: 1}, source="b.json", strategy="rotation")

from __future__ import annotations

from decimal import Decimal

import pytest
from click.testing import CliRunner

from common.exit_codes import EXIT_OPERATOR
from ledger.costs import CostModel
from mockmarket import cli
from mockmarket.app import MarketOptions, parse_hhmm


def test_serve_help_lists_the_options():
    r = CliRunner().invoke(cli.main, ["serve", "--help"])
    assert r.exit_code == 0
    for opt in (
        "--host",
        "--port",
        "--data-dir",
        "--date",
        "--synthetic",
        "--seed",
        "--sessions",
        "--start-time",
        "--speed",
        "--key",
        "--secret",
        "--state-file",
        "--signal",
        "--correction-rate",
        "--slippage-bps",
        "--fee-per-share",
        "--partial-fill-rate",
        "--max-connections",
        "--paused",
        "--log-file",
    ):
        assert opt in r.output


def test_bad_values_are_refused_before_anything_starts(tmp_path):
    runner = CliRunner()
    for args, needle in [
        (["--date", "2025/10/16"], "is not a date YYYY-MM-DD"),
        (["--start-time", "9h30"], "is not HH:MM"),
        (["--start-time", "24:00"], "not a time of day"),
        (["--speed", "-1"], "--speed"),
        (["--port", "70000"], "--port"),
        (["--correction-rate", "2"], "--correction-rate"),
    ]:
        r = runner.invoke(cli.main, ["serve", "--state-file", str(tmp_path / "s.json"), *args])
        assert r.exit_code == 2, (args, r.output)
        assert needle in r.output, (args, r.output)
    assert not (tmp_path / "s.json").exists()


def test_keys_come_from_options_then_environment_then_defaults(monkeypatch):
    monkeypatch.delenv("ALPACA_PAPER_API_KEY", raising=False)
    monkeypatch.delenv("ALPACA_PAPER_SECRET_KEY", raising=False)
    assert cli._keys(None, None) == ("mock-key", "mock-secret")
    monkeypatch.setenv("ALPACA_PAPER_API_KEY", "env-key")
    monkeypatch.setenv("ALPACA_PAPER_SECRET_KEY", "env-secret")
    assert cli._keys(None, None) == ("env-key", "env-secret")
    assert cli._keys("k", "s") == ("k", "s")


def test_generate_writes_a_synthetic_market(tmp_path):
    r = CliRunner().invoke(
        cli.main,
        [
            "generate",
            "--data-dir",
            str(tmp_path),
            "--date",
            "2025-10-16",
            "--sessions",
            "1",
            "--seed",
            "4",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "1 sessions up to 2025-10-16, seed 4" in r.output
    assert (tmp_path / "SPY_RTH_NH.csv").is_file()
    r = CliRunner().invoke(
        cli.main, ["generate", "--data-dir", str(tmp_path), "--date", "2025-10-18"]
    )
    assert r.exit_code == EXIT_OPERATOR and "not an NYSE session" in r.output


def test_parse_hhmm_normalizes():
    assert parse_hhmm("9:05") == "09:05"


@pytest.mark.parametrize(
    ("kw", "needle"),
    [
        ({"speed": 0}, "speed"),
        ({"max_connections": 0}, "max_connections"),
        ({"partial_fill_rate": 1.5}, "partial_fill_rate"),
        ({"key": ""}, "key"),
        ({"start_time": "noon"}, "noon"),
    ],
)
def test_options_validation_names_the_value(kw, needle):
    with pytest.raises(ValueError, match=needle):
        MarketOptions(**kw)


def test_serve_has_one_option_per_cost_knob_with_the_configs_defaults():
    from common.config import CostsConfig
    from mockmarket.cost_options import cost_model, option_name

    r = CliRunner().invoke(cli.main, ["serve", "--help"])
    for knob in CostsConfig.model_fields:
        assert option_name(knob) in r.output, knob
    assert "--legacy-fills" in r.output and "--microstructure" in r.output
    none = dict.fromkeys(CostsConfig.model_fields)
    assert cost_model(False, none) == CostModel.default()
    assert cost_model(True, none) == CostModel.legacy()
    assert cost_model(True, {**none, "slippage_bps": 1.5, "fee_per_share": 0.004}) == CostModel.legacy(1.5, 0.004)
    assert cost_model(False, {**none, "taf_max_per_trade": 5.0}).fees.taf_max_per_trade == Decimal(5)


def test_bad_cost_options_are_refused_before_anything_starts(tmp_path):
    runner = CliRunner()
    for args, needle in [
        (["--slippage-bps", "-1"], "--slippage-bps=-1.0"),
        (["--liquidity-sessions", "0"], "--liquidity-sessions=0"),
        (["--max-half-spread-bps", "0.5"], "--max-half-spread-bps=0.5 must be >= --half-spread-bps-at-reference"),
        (["--legacy-fills", "--cat-fee-per-share", "0"], "--legacy-fills takes only"),
        (["--microstructure", "6"], "--microstructure"),
    ]:
        r = runner.invoke(cli.main, ["serve", "--state-file", str(tmp_path / "s.json"), *args])
        assert r.exit_code == 2, (args, r.output)
        assert needle in r.output, (args, r.output)
    assert not (tmp_path / "s.json").exists()


def test_market_options_default_to_the_realistic_cost_model():
    assert MarketOptions().costs == CostModel.default()
    with pytest.raises(ValueError, match="costs"):
        MarketOptions(costs=0.0)

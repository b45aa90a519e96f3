"""engine.backtest: sessions, config resolution, the CLI's calling form and bad arguments."""

from __future__ import annotations

import json
from datetime import date

import pytest

from common.config import (
    OesConfig,
    PsmStrategyConfig,
    RotationStrategyConfig,
    original_config_json,
)
from common.errors import ConfigError
from engine.backtest import backtest_sessions, resolve_config, run_backtest, simulate
from engine.market_grid import HistoryError, load_sessions
from engine.signals import batch_signals
from engine.sim_liquidity import backtest_liquidity

PROVENANCE = {
    "data_start": "2025-11-01",
    "data_end": "2025-11-20",
    "trials": 3,
    "score": 0.1,
    "created_at": "2025-11-21T09:41:00-05:00",
}


def test_sessions_are_the_scored_range_and_the_warm_up_before_it():
    warm, scored = backtest_sessions(date(2025, 11, 27), date(2025, 12, 1), 2)
    assert [s.date for s in scored] == [date(2025, 11, 28), date(2025, 12, 1)]
    assert [s.date for s in warm] == [date(2025, 11, 25), date(2025, 11, 26)]
    assert backtest_sessions(date(2025, 11, 28), date(2025, 11, 28), 0)[0] == []
    with pytest.raises(ValueError, match="no NYSE session between 2025-11-29 and 2025-11-30"):
        backtest_sessions(date(2025, 11, 29), date(2025, 11, 30), 2)
    with pytest.raises(ValueError, match="before start"):
        backtest_sessions(date(2025, 11, 28), date(2025, 11, 27), 2)
    with pytest.raises(ValueError, match="warmup_sessions"):
        backtest_sessions(date(2025, 11, 28), date(2025, 11, 28), -1)


def test_the_config_comes_from_the_config_dir_with_best_params_like_live(tmp_path):
    data = original_config_json("psm")  # the ported ladder: buy 0.55
    data["psm_config"]["min_hold_bars"] = 7
    (tmp_path / "psm_strategy.json").write_text(json.dumps(data))
    params = tmp_path / "best_params.json"
    params.write_text(json.dumps({"psm": {"params": {"oes_config.buy_threshold": 0.58}, "provenance": PROVENANCE}}))
    cfg = resolve_config("psm", params_path=params, config_dir=tmp_path)
    assert cfg.psm_config.min_hold_bars == 7 and cfg.oes_config.buy_threshold == 0.58
    assert resolve_config("psm", tmp_path / "psm_strategy.json").oes_config.buy_threshold == 0.55
    given = PsmStrategyConfig(oes_config=OesConfig(buy_threshold=0.6, sell_threshold=0.4))
    assert resolve_config(given) is given and resolve_config("psm", given) is given
    with pytest.raises(ValueError, match="not rotation"):
        resolve_config("rotation", given)
    with pytest.raises(ValueError, match="not both"):
        resolve_config(given, params_path=params)
    with pytest.raises(ConfigError, match="no such config file"):
        resolve_config("rotation", config_dir=tmp_path)


def test_missing_history_names_the_file_and_bad_dates_are_refused(market, tmp_path):
    with pytest.raises(HistoryError, match="ERX_RTH_NH.csv"):
        run_backtest(
            RotationStrategyConfig(),
            "2025-11-28",
            "2025-11-28",
            data_dir=tmp_path,
            warmup_sessions=1,
        )
    with pytest.raises(HistoryError, match="no bars on 2025-11-20"):
        run_backtest(
            PsmStrategyConfig(),
            "2025-11-21",
            "2025-11-21",
            data_dir=market.directory,
            warmup_sessions=1,
        )
    with pytest.raises(ValueError, match="start='Nov 28'"):
        run_backtest(PsmStrategyConfig(), "Nov 28", "2025-11-28", data_dir=market.directory)


def test_the_cli_form_and_simulate_on_precomputed_signals_agree(market):
    cfg = PsmStrategyConfig()
    a = run_backtest(
        cfg,
        data_dir=market.directory,
        start=date(2025, 11, 26),
        end=date(2025, 11, 28),
        warmup_sessions=2,
    )
    grid = load_sessions(cfg.symbols, market.sessions[1:], market.directory / "equities")
    # the warm-up is shorter than the liquidity window: the older sessions' liquidity comes
    # from the files, as run_backtest reads it
    liquidity = backtest_liquidity(
        grid, [2, 3], cfg.costs.liquidity_sessions, history_dir=market.directory / "equities"
    )
    b = simulate(cfg, grid, batch_signals(grid, cfg.oes_config), [2, 3], liquidity=liquidity)
    assert [d.session_date for d in a.days] == [date(2025, 11, 26), date(2025, 11, 28)]
    assert (
        a.fills == b.fills and a.orders == b.orders and a.warmup_sessions == b.warmup_sessions == 2
    )
    with pytest.raises(ValueError, match="ascending indexes"):
        simulate(cfg, grid, batch_signals(grid, cfg.oes_config), [3, 2])
    with pytest.raises(ValueError, match="same list"):
        simulate(RotationStrategyConfig(), grid, batch_signals(grid, cfg.oes_config), [3])

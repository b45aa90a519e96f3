"""``python -m launch backtest`` and ``python -m launch report``: the HTML report on disk, opened
in headless Chromium (every chart drawn, the figures the backtest's / the journal's)."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from common.children import with_pythonpath
from common.config import default_config_json, original_config_json
from engine.backtest import run_backtest
from launch.report_charts import CHARTS
from mockmarket.synthetic import SyntheticConfig, write_market
from tests.support.browser import rendered

ROOT = Path(__file__).resolve().parents[3]
START, END, HELD_OUT = date(2025, 11, 25), date(2025, 12, 2), date(2025, 12, 1)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("report_history")
    write_market(data / "equities", SyntheticConfig(seed=31, sessions=8, end_date=END, signal_strength=0.25))
    return data


def test_launch_backtest_writes_the_report_of_a_traded_day_for_a_backtest(tmp_path, history):
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    # the ported tuning: it trades on this short synthetic history (the defaults wait for skill)
    (home / "config" / "psm_strategy.json").write_text(json.dumps(original_config_json("psm")))
    shutil.copytree(history, home / "data")
    args = ["--strategy", "psm", "--start", str(START), "--end", str(END), "--held-out-from", str(HELD_OUT),
            "--warmup-sessions", "3"]  # fmt: skip
    r = subprocess.run([sys.executable, "-m", "launch", "backtest", *args], cwd=home, env=with_pythonpath(ROOT),
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "backtest psm: 2025-11-25..2025-12-02, 5 session(s), 3 warm-up session(s)" in r.stdout
    m = re.search(r"^Backtest report: (\S+)$", r.stdout, re.M)
    assert m and m.group(1) == "logs/backtests/report_psm_2025-11-25_2025-12-02.html"
    page = rendered(home / m.group(1))
    assert page.charts_drawn == len(CHARTS) and all(page.charts[c] > 0 for c in CHARTS), page.charts
    # the figures are the backtest's own
    result = run_backtest("psm", START, END, data_dir=history, held_out_from=HELD_OUT, warmup_sessions=3,
                          config_dir=home / "config")  # fmt: skip
    v = page.values
    assert float(v["start_equity"]) == result.starting_cash
    assert math.isclose(float(v["end_equity"]), result.final_equity, abs_tol=1e-6)
    assert int(v["fills"]) == len(result.fills) > 0
    assert math.isclose(float(v["fees"]), sum(d.costs.fees for d in result.days), abs_tol=1e-9)
    curve = [result.starting_cash, *result.equity.tolist()]
    peaks = [max(curve[: i + 1]) for i in range(len(curve))]
    assert math.isclose(float(v["max_drawdown"]), max(p - e for p, e in zip(peaks, curve, strict=True)), abs_tol=1e-6)
    assert [(t["cid"], float(t["qty"]), float(t["price"])) for t in page.trades] == \
        [(f.client_order_id, f.qty, f.price) for f in result.fills]  # fmt: skip
    assert "held-out" in page.dom and "in-sample" in page.dom and "Backtest report" in page.dom


def test_a_bad_backtest_range_is_refused_with_a_clear_message(tmp_path):
    r = subprocess.run([sys.executable, "-m", "launch", "backtest", "--start", "2025-12-02", "--end", "2025-11-25"],
                       cwd=tmp_path, env=with_pythonpath(ROOT), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 2 and "--end 2025-11-25 is before --start 2025-12-02" in r.stderr


def test_launch_report_writes_the_last_session_of_the_journal(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from common.bars import Bar
    from common.calendar import ny_datetime, to_ms
    from common.csvfiles import history_path, write_history
    from engine.journal import Journal
    from launch.cli import main

    day = date(2025, 10, 16)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "psm_strategy.json").write_text(json.dumps(default_config_json("psm")))
    t = to_ms(ny_datetime(day, "09:30"))
    for sym in ("SPY", "SPXL", "SH", "SDS"):
        write_history(history_path(tmp_path / "data/mock/equities", sym),
                      [Bar(sym, t - 86_400_000 + k * 60_000, 100.0, 100.0, 100.0, 100.0, 10.0) for k in range(390)]
                      + [Bar(sym, t + k * 60_000, 101.0, 101.0, 101.0, 101.0, 10.0) for k in range(390)])  # fmt: skip
    with Journal(tmp_path / "logs/mock_trading/journal.sqlite") as j:
        j.record_minute("psm", day, t, "CASH_ONLY", {}, {}, {}, None)
        j.record_intent("c1", strategy="psm", session_date=day, t_ms=t, symbol="SPY", side="buy", qty=1)
        j.record_fill("c1", execution_id="e1", cum_qty=1, t_ms=t + 61_000, price=101.01, qty=1)
    runner = CliRunner()
    r = runner.invoke(main, ["report", "--mode", "mock"])
    assert r.exit_code == 0, r.output
    path = tmp_path / "logs/mock_trading/reports/report_2025-10-16_psm.html"
    assert r.output.strip() == f"Session report (psm, 2025-10-16, mock): {path.relative_to(tmp_path)}"
    page = rendered(path)
    assert page.charts_drawn == len(CHARTS) and all(page.charts[c] > 0 for c in CHARTS), page.charts
    assert [(t["cid"], t["price"]) for t in page.trades] == [("c1", "101.01")]
    r = runner.invoke(main, ["report", "--mode", "mock", "--date", "2025-10-17"])
    assert r.exit_code == 1 and "has no decision or fill on 2025-10-17" in r.output

"""``python -m launch live`` as a process, when the operator must act: it says what is wrong,
naming file and key or the variables (never a key's value), and exits 2 before any trading."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from common.config import default_config_json
from tests.support.processes import child_env

SECRET = "sk-do-not-print-0123456789"


def run_live(home: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "launch", "live", *args], cwd=home,
                          env=child_env({"XDG_RUNTIME_DIR": str(home / "xdg"), **(env or {})}),
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def make_home(tmp_path: Path) -> Path:
    (tmp_path / "config").mkdir(parents=True)
    (tmp_path / "config" / "rotation_strategy.json").write_text(json.dumps(default_config_json("rotation")))
    return tmp_path


def test_a_bad_config_names_the_file_and_the_key(tmp_path):
    home = make_home(tmp_path)
    data = default_config_json("rotation")
    data["rotation_manager_config"]["max_positions"] = 0
    (home / "config" / "rotation_strategy.json").write_text(json.dumps(data))
    r = run_live(home)
    assert r.returncode == 2, r.stdout + r.stderr
    assert "rotation_strategy.json" in r.stdout and "rotation_manager_config.max_positions=0" in r.stdout
    log = (home / "logs/live_trading/launch.log").read_text()
    assert "rotation_manager_config.max_positions=0" in log


def test_missing_keys_name_the_variables(tmp_path):
    r = run_live(make_home(tmp_path))
    assert r.returncode == 2
    assert "missing ALPACA_PAPER_API_KEY and ALPACA_PAPER_SECRET_KEY" in r.stdout


def test_the_real_money_url_is_refused_without_the_flag_and_no_key_is_printed(tmp_path):
    env = {"ALPACA_PAPER_API_KEY": "PKABCDEF123", "ALPACA_PAPER_SECRET_KEY": SECRET,
           "ALPACA_TRADING_URL": "https://api.alpaca.markets"}  # fmt: skip
    home = make_home(tmp_path)
    r = run_live(home, env=env)
    assert r.returncode == 2
    assert "is Alpaca's real-money API; pass --i-understand-real-money" in r.stdout
    everything = r.stdout + r.stderr + "".join(p.read_text() for p in (home / "logs").rglob("*.log"))
    assert SECRET not in everything and "PKABCDEF123" not in everything


def test_an_unknown_option_is_refused_and_the_optimizer_options_are_taken(tmp_path):
    r = run_live(make_home(tmp_path), "--no-such-option")
    assert r.returncode == 2 and "No such option '--no-such-option'" in r.stderr
    r = run_live(make_home(tmp_path / "b"), "--midday-optimize", "--trials", "3")
    assert r.returncode == 2 and "missing ALPACA_PAPER_API_KEY" in r.stdout  # got past the options

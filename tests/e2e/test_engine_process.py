"""``python -m engine`` as a process: what it does on a closed day, after the close, with bad
input, on SIGTERM; and ``python -m engine backtest``."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_a_closed_day_exits_at_once_with_a_clear_message(rig_factory, e2e):
    rig = rig_factory(day=e2e.DAY, start_time="09:29")
    rig.write_config("rotation")
    rig.clock(action="set_time", time="2025-10-18T10:00:00-04:00")  # a Saturday
    engine = rig.start_engine("rotation")
    assert engine.wait(60) == 0
    out = engine.output()
    assert "the market is closed today (2025-10-18" in out and "next open 2025-10-20" in out
    assert "nothing to trade today: exiting" in out


def test_after_the_close_it_exits_flat(rig_factory, e2e):
    rig = rig_factory(day=e2e.DAY, start_time="16:05")
    rig.write_config("psm")
    engine = rig.start_engine("psm")
    assert engine.wait(60) == 0
    out = engine.output()
    assert "the 2025-10-16 session closed at 2025-10-16T16:00:00-04:00" in out
    assert "the account is flat: exiting" in out


def test_after_the_close_positions_left_are_an_error(rig_factory, e2e):
    rig = rig_factory(day=e2e.DAY, start_time="15:59")
    rig.clock(action="step", seconds=1)
    rig.rest.submit_order(symbol="SPY", qty=2, side="buy", client_order_id="left-over")
    rig.clock(action="set_time", time="2025-10-16T16:05:00-04:00")
    rig.write_config("psm")
    engine = rig.start_engine("psm")
    assert engine.wait(60) == 3
    assert "positions remain" in engine.output()


def test_a_bad_config_stops_it_naming_the_key(rig_factory, e2e):
    rig = rig_factory(day=e2e.DAY)
    data = e2e.strategy_config("rotation")
    data["rotation_manager_config"]["cooldown_bars"] = -1
    (rig.config_dir / "rotation_strategy.json").write_text(json.dumps(data))
    engine = rig.start_engine("rotation")
    assert engine.wait(60) == 2
    out = engine.output()
    assert "rotation_manager_config.cooldown_bars=-1" in out and "engine cannot run" in out


def test_missing_keys_stop_it_naming_the_variable(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPACA_")}
    env["PYTHONPATH"] = str(ROOT)
    p = subprocess.run(
        [sys.executable, "-m", "engine", "--strategy", "psm", "--log-dir", str(tmp_path / "logs"),
         "--config-env", str(tmp_path / "absent.env"), "--fifo", str(tmp_path / "f.fifo")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert p.returncode == 2
    assert "ALPACA_PAPER_API_KEY" in p.stderr and "ALPACA_PAPER_SECRET_KEY" in p.stderr


@pytest.mark.parametrize("kind", ["symlink", "regular file", "another user's FIFO"])
def test_an_unsafe_fifo_path_is_refused(rig_factory, e2e, tmp_path, kind):
    """The engine refuses a FIFO path that is a symlink (even to a FIFO), a regular file (left
    as it was) or a FIFO owned by another user, naming the path, before any work."""
    if kind == "another user's FIFO" and os.geteuid() != 0:
        pytest.skip("only root can give a FIFO to another user")
    rig = rig_factory(day=e2e.DAY)
    rig.write_config("psm")
    if kind == "symlink":
        target = tmp_path / "elsewhere.fifo"
        os.mkfifo(target, 0o600)
        rig.fifo.symlink_to(target)
        says = f"{rig.fifo} is a symlink; refusing it"
    elif kind == "regular file":
        rig.fifo.write_text("precious\n")
        says = f"{rig.fifo} is a regular file, not a FIFO; refusing it"
    else:
        os.mkfifo(rig.fifo, 0o600)
        os.chown(rig.fifo, 4321, 4321)
        says = f"{rig.fifo} is a FIFO owned by uid 4321, not by this user"
    engine = rig.start_engine("psm")
    assert engine.wait(60) == 2
    assert says in engine.output()
    assert rig.counters()["orders_submitted"] == 0
    if kind == "regular file":
        assert rig.fifo.read_text() == "precious\n"


def test_an_unusable_journal_stops_it_for_the_operator(rig_factory, e2e):
    rig = rig_factory(day=e2e.DAY, start_time="11:00")
    rig.write_config("psm")
    rig.log_dir.mkdir(parents=True)
    journal = rig.log_dir / "journal.sqlite"
    journal.write_bytes(b"not a database " * 400)
    engine = rig.start_engine("psm")
    assert engine.wait(60) == 2
    out = engine.output()
    assert f"journal {journal} cannot be used" in out and "engine needs the operator" in out
    assert rig.counters()["orders_submitted"] == 0
    assert journal.read_bytes().startswith(b"not a database")  # nothing written over it


def test_sigterm_stops_it_cleanly(rig_factory, e2e):
    rig = rig_factory(day=e2e.DAY, start_time="11:00")
    rig.write_config("psm")
    engine = rig.start_engine("psm")
    rig.wait_phase("trading", engine)
    os.kill(engine.pid, signal.SIGTERM)
    assert engine.wait(30) == 0
    state = rig.state()
    assert state["phase"] == "stopped" and state["last_minute"] == "2025-10-16T10:59:00-04:00"
    log = rig.trader_log()
    assert "SIGTERM received: stopping" in log and rig.market.secret not in log
    assert (rig.log_dir / "journal.sqlite").exists()


def test_the_backtest_command_prints_its_report(market_files, tmp_path, e2e):
    data = tmp_path / "data"
    shutil.copytree(market_files(e2e.DAY), data / "equities")
    p = subprocess.run(
        [sys.executable, "-m", "engine", "backtest", "--strategy", "psm", "--start", "2025-10-15",
         "--end", "2025-10-16", "--data-dir", str(data), "--config-dir", str(ROOT / "config")],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    for needle in ("mean daily return (MRD)", "trades", "win rate", "max drawdown",
                   "2025-10-15", "2025-10-16"):  # fmt: skip
        assert needle in p.stdout, needle


def test_the_backtest_command_refuses_bad_dates(tmp_path):
    p = subprocess.run(
        [sys.executable, "-m", "engine", "backtest", "--strategy", "psm", "--start", "2025-10-16",
         "--end", "2025-10-15", "--data-dir", str(tmp_path)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert p.returncode == 2 and "--end 2025-10-15 is before --start 2025-10-16" in p.stderr

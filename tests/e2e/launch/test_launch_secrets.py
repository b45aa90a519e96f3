"""Security after a whole live-mode run (``python -m launch live`` against a local market that
only knows a recognisable pair of keys): no file the run leaves — logs, journal and its WAL,
state files, pid files, downloaded bars — contains the key or the secret, and every file
holding account data is 0600 (common.private_files)."""

from __future__ import annotations

import os
import shutil
import stat

from common.config import apply_params, original_config_json
from launch.paths import Mode, ModePaths
from mockmarket.harness import run_market
from tests.support.processes import poll

from .conftest import DAY, SEED, SESSIONS, Home

KEY = "PKPROBE7Q3Z9X1W2V4T6"
SECRET = "probe-secret-Zx81Kq0MmN4pP7rR2tT5vV8w"
HOLDS = {  # enter at once and hold to the close: positions, fills and P&L in every file
    "oes_config.buy_threshold": 0.5, "oes_config.sell_threshold": 0.06,
    "signal_aggregator_config.min_probability": 0.5, "signal_aggregator_config.min_confidence": 0.0,
    "signal_aggregator_config.min_strength": 0.0, "signal_aggregator_config.max_signal_age_bars": 390,
    "rotation_manager_config.min_strength_to_enter": 0.0,
    "rotation_manager_config.min_strength_to_exit": 0.0,
    "rotation_manager_config.min_hold_bars": 390, "rotation_manager_config.profit_target": 1.0,
    "rotation_manager_config.stop_loss": 1.0,
}  # fmt: skip
ACCOUNT_DATA = ("journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm", "state.json")


def test_a_live_run_leaves_no_key_anywhere_and_its_account_files_private(home: Home, tmp_path, market_files, history):
    live = ModePaths.of(Mode.LIVE)
    log_dir, data_dir = home.dir / live.log_dir, home.dir / live.data_dir
    home.write_config(apply_params(original_config_json("rotation"), HOLDS, source="<test>", strategy="rotation"))
    with run_market(tmp_path / "market", data_dir=market_files(DAY), seed=SEED, sessions=SESSIONS,
                    date=DAY.isoformat(), start_time="15:10", speed=180.0,
                    extra_args=["--correction-rate", "0", "--paused"], key=KEY, secret=SECRET) as m:  # fmt: skip
        shutil.copytree(history(m, DAY), data_dir / "equities")
        launcher = home.launch_live(m.env(), "--skip-optimize", "--download-sessions", str(SESSIONS - 2))

        def trading():
            if not launcher.alive():
                raise AssertionError(launcher.output()[-3000:])
            try:
                return '"phase": "trading"' in (log_dir / "state.json").read_text()
            except OSError:
                return False

        poll(trading, 120, "the engine to trade")
        m.admin("POST", "/admin/clock", json={"action": "resume"})
        code = launcher.wait(240)
        out = launcher.output()
        assert code == 0, out[-4000:]
        assert m.admin("GET", "/admin/counters")["fills"] > 0
    assert "Session summary" in out and KEY not in out and SECRET not in out

    files = [p for p in home.dir.rglob("*") if p.is_file() and not p.is_symlink()]
    assert {p.name for p in files} >= {"journal.sqlite", "state.json"}, sorted(p.name for p in files)
    for p in files:
        data = p.read_bytes()
        for needle in (KEY, SECRET):
            assert needle.encode() not in data, f"{p} contains {'the key' if needle == KEY else 'the secret'}"
    # account data is 0600: the journal (and its WAL), state files, and every log of the run
    private = [p for p in files if p.parent == log_dir and (p.name in ACCOUNT_DATA or p.suffix in (".log", ".json"))]
    assert any(p.suffix == ".log" for p in private) and any(p.name == "journal.sqlite" for p in private)
    for p in private:
        mode = stat.S_IMODE(os.stat(p).st_mode)
        assert mode == 0o600, f"{p} has mode {mode:o}"
    assert stat.S_IMODE(os.stat(log_dir).st_mode) & 0o077 == 0, f"{log_dir} is open to others"

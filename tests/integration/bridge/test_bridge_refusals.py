"""``python -m bridge`` refuses what it must, with exit code 2 and a message that says why."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from common.children import kill_process

KEY, SECRET = "PKREFUSALKEY", "refusal-secret-value"
FAKE_ENV = {
    "ALPACA_PAPER_API_KEY": KEY,
    "ALPACA_PAPER_SECRET_KEY": SECRET,
    # nothing listens here: each case must be refused before any connection
    "ALPACA_DATA_URL": "http://127.0.0.1:9",
    "ALPACA_TRADING_URL": "http://127.0.0.1:9",
    "ALPACA_STREAM_URL": "ws://127.0.0.1:9/v2/iex",
}


def run_bridge(helpers, tmp_path, fifo, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "bridge", "--symbols", "TQQQ,SQQQ", "--fifo", str(fifo),
            "--log-dir", str(tmp_path / "logs"), "--config-env", str(tmp_path / "absent.env"), *extra]
    return subprocess.run(args, cwd=helpers.ROOT, env=helpers.child_env(FAKE_ENV if env is None else env),
                          capture_output=True, text=True, timeout=60)


def test_symlink_at_the_fifo_path_is_refused(helpers, tmp_path):
    real = tmp_path / "real.fifo"
    os.mkfifo(real, 0o600)
    link = tmp_path / "bars.fifo"
    link.symlink_to(real)
    r = run_bridge(helpers, tmp_path, link)
    assert r.returncode == 2
    assert f"{link} is a symlink" in r.stderr


def test_regular_file_at_the_fifo_path_is_refused_and_left_alone(helpers, tmp_path):
    f = tmp_path / "bars.fifo"
    f.write_text("precious\n")
    r = run_bridge(helpers, tmp_path, f)
    assert r.returncode == 2
    assert "is a regular file, not a FIFO" in r.stderr
    assert f.read_text() == "precious\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a FIFO to another user")
def test_another_users_fifo_is_refused(helpers, tmp_path):
    f = tmp_path / "bars.fifo"
    os.mkfifo(f, 0o600)
    os.chown(f, 4321, 4321)
    r = run_bridge(helpers, tmp_path, f)
    assert r.returncode == 2
    assert "owned by uid 4321" in r.stderr


def test_missing_keys_name_the_variables(helpers, tmp_path):
    env = {k: v for k, v in FAKE_ENV.items() if "KEY" not in k}
    r = run_bridge(helpers, tmp_path, tmp_path / "bars.fifo", env=env)
    assert r.returncode == 2
    assert "ALPACA_PAPER_API_KEY" in r.stderr and "ALPACA_PAPER_SECRET_KEY" in r.stderr


def test_a_symbol_set_too_large_for_one_atomic_line_is_refused(helpers, tmp_path):
    many = ",".join(f"S{i:03d}" for i in range(40))
    r = run_bridge(helpers, tmp_path, tmp_path / "bars.fifo", "--symbols", many)
    assert r.returncode == 2
    assert "over the FIFO's atomic limit of 4096" in r.stderr
    assert not (tmp_path / "bars.fifo").exists()


def test_bad_symbol_is_refused(helpers, tmp_path):
    r = run_bridge(helpers, tmp_path, tmp_path / "bars.fifo", "--symbols", "TQQQ,bad symbol!")
    assert r.returncode == 2
    assert "'bad symbol!' is not a ticker symbol" in r.stderr


def test_refused_keys_exit_2_naming_the_variables_never_the_values(rig_factory, helpers, tmp_path):
    # the REST seeding meets the wrong keys first (401); the stream's 402 is covered by unit tests
    rig = rig_factory()
    env = dict(rig.market.env(), ALPACA_PAPER_SECRET_KEY="wrong-secret-value")
    r = run_bridge(helpers, tmp_path, tmp_path / "bars.fifo", env=env)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "refused the keys" in r.stderr
    assert "check ALPACA_PAPER_API_KEY and ALPACA_PAPER_SECRET_KEY" in r.stderr
    logs = "".join(p.read_text() for p in (tmp_path / "logs").glob("bridge_*.log"))
    for text in (r.stderr, logs):
        assert "wrong-secret-value" not in text and rig.market.key not in text


def test_sigint_and_sigterm_exit_cleanly_while_waiting_for_a_market(helpers, tmp_path):
    # the market is unreachable: the bridge is retrying (REST, then the stream) when told to stop
    for sig in (signal.SIGTERM, signal.SIGINT):
        args = [sys.executable, "-m", "bridge", "--symbols", "TQQQ", "--fifo", str(tmp_path / f"{sig.name}.fifo"),
                "--log-dir", str(tmp_path / "logs"), "--config-env", str(tmp_path / "absent.env")]
        p = subprocess.Popen(args, cwd=helpers.ROOT, env=helpers.child_env(FAKE_ENV),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            helpers.poll(lambda s=sig: (tmp_path / f"{s.name}.fifo").exists(), 30, "the FIFO")
            os.kill(p.pid, sig)
            _, err = p.communicate(timeout=30)
        finally:
            kill_process(p)
        assert p.returncode == 0, err[-2000:]
        assert f"{sig.name} received: stopping" in err

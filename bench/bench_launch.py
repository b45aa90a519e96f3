"""The launcher: relaunch → first decision, mid-session, after ``kill -9`` of the launcher.

Set-up: a synthetic mockmarket process running at real-time speed from 11:00 of its replay
date, a working directory with the default rotation config, and a first
``python -m launch mock --skip-optimize`` that downloads the 20 sessions of history and
today's bars and trades. Then, ``RUNS`` times: the launcher is killed with SIGKILL (its
bridge and engine keep running, orphaned), and a new launcher is started; the time is
measured from its start to the moment the new engine has made its first decision (its
``state.json`` names its pid and the phase ``trading``, written just after the first
minute is decided). In between, the new launcher checks config and keys, takes the lock,
stops the old bridge and engine, reads the clock, downloads the minutes of today that are
missing, prints the preview and starts the new processes; the engine warms up (20
sessions + today) and reconciles.

Reference: the start of a bare interpreter that imports the launcher
(``python -m launch --help``), measured in the same run. Target: ≤ 3 s wall.

Run: ``python -m bench launch``.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common.children import with_pythonpath
from common.config import default_config_json
from mockmarket.app import DEFAULT_KEY, DEFAULT_SECRET
from mockmarket.harness import run_market

ROOT = Path(__file__).resolve().parent.parent
REPLAY = "2025-10-16"
RUNS = 5
TARGET_S = 3.0
TIMEOUT_S = 120.0


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPACA_")}
    env["XDG_RUNTIME_DIR"] = str(tmp / "xdg")
    return with_pythonpath(ROOT, env)


def _state(home: Path) -> dict | None:
    try:
        return json.loads((home / "logs/mock_trading/state.json").read_text())
    except (OSError, ValueError):
        return None


def _engine_pid(home: Path) -> int | None:
    try:
        return int(json.loads((home / "logs/mock_trading/run/engine.json").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def _wait_first_decision(home: Path, launcher: subprocess.Popen, not_pid: int | None) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        pid = _engine_pid(home)
        st = _state(home)
        if pid is not None and pid != not_pid and st and st.get("pid") == pid and st.get("phase") == "trading":
            return
        if launcher.poll() is not None:
            raise RuntimeError(f"the launcher exited with {launcher.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError("no first decision from the relaunched engine")
        time.sleep(0.005)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench_launch_") as tmp_s:
        tmp = Path(tmp_s)
        home = tmp / "home"
        (home / "config").mkdir(parents=True)
        (home / "config" / "rotation_strategy.json").write_text(json.dumps(default_config_json("rotation")))
        with run_market(tmp / "market", seed=5, sessions=22, date=REPLAY, start_time="11:00", speed=1.0,
                        key=DEFAULT_KEY, secret=DEFAULT_SECRET,
                        extra_args=["--correction-rate", "0"]) as market:  # fmt: skip
            argv = [sys.executable, "-m", "launch", "mock", "--skip-optimize", "--download-sessions", "20",
                    "--config-dir", "config", "--fifo", str(tmp / "bars.fifo"),
                    "--market-state", str(market.state_file)]  # fmt: skip
            env = _env(tmp)
            procs: list[subprocess.Popen] = []

            def launch() -> subprocess.Popen:
                out = open(tmp / f"launcher{len(procs)}.out", "wb")  # noqa: SIM115 - the child keeps it
                p = subprocess.Popen(argv, cwd=home, env=env, stdout=out, stderr=subprocess.STDOUT)
                out.close()
                procs.append(p)
                return p

            try:
                a = time.perf_counter()
                first = launch()
                _wait_first_decision(home, first, None)
                cold = time.perf_counter() - a
                refs, relaunch = [], []
                current = first
                for _ in range(RUNS):
                    a = time.perf_counter()
                    subprocess.run([sys.executable, "-m", "launch", "--help"], cwd=home, env=env,
                                   capture_output=True, check=True)  # fmt: skip
                    refs.append(time.perf_counter() - a)
                    old = _engine_pid(home)
                    os.kill(current.pid, signal.SIGKILL)
                    current.wait()
                    a = time.perf_counter()
                    current = launch()
                    _wait_first_decision(home, current, old)
                    relaunch.append(time.perf_counter() - a)
            finally:
                for p in procs:
                    if p.poll() is None:
                        p.send_signal(signal.SIGTERM)
                        p.wait(60)
    ref = statistics.median(refs)
    med = statistics.median(relaunch)
    print(f"first launch (20 sessions + today downloaded, warm-up): {cold:.2f} s")
    print(f"{'(seconds)':<52} {'n':>3} {'median':>8} {'min':>7} {'max':>7} {'vs ref':>8}")
    print(f"{'python -m launch --help (reference)':<52} {len(refs):>3} {ref:>8.2f} {min(refs):>7.2f} "
          f"{max(refs):>7.2f} {'(ref)':>8}")  # fmt: skip
    print(f"{'relaunch after kill -9 -> first decision':<52} {len(relaunch):>3} {med:>8.2f} "
          f"{min(relaunch):>7.2f} {max(relaunch):>7.2f} {med / ref:>7.1f}x")  # fmt: skip
    print(f"target <= {TARGET_S:.1f} s: {'met' if med <= TARGET_S else 'NOT met'} (median)")


if __name__ == "__main__":
    main()

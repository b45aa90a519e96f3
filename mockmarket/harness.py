"""Run a real mockmarket server process for tests, demos and benchmarks.

``run_market(workdir)`` starts ``python -m mockmarket serve --port 0 ...`` as a child
process, waits (with a deadline) until its state file names it, yields a
:class:`RunningMarket` and always stops the process (SIGTERM, then SIGKILL).
Everything it writes (synthetic data, state file, log, the child's output) stays
under ``workdir``. The keys go to the child through its environment, never its
command line.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

import mockmarket
from common.children import kill_process, spawn, stop_process, with_pythonpath
from common.env import KEY_VAR, SECRET_VAR, AlpacaEndpoints
from common.market_state import read_state
from common.rest_models import auth_headers

TEST_KEY = "test-key-id"
TEST_SECRET = "test-secret-key"
START_TIMEOUT_S = 60.0
PROJECT_ROOT = Path(mockmarket.__file__).resolve().parent.parent


class MarketStartError(RuntimeError):
    """The server process did not come up; the message carries the tail of its output."""


@dataclass
class RunningMarket:
    base_url: str
    stream_url: str
    trade_stream_url: str
    key: str
    secret: str = field(repr=False)
    pid: int
    state_file: Path
    data_dir: Path
    log_file: Path
    process: subprocess.Popen = field(repr=False)
    state: dict = field(default_factory=dict, repr=False)

    def headers(self) -> dict[str, str]:
        return auth_headers(self.key, self.secret)

    def admin(self, method: str, path: str, json: dict | None = None) -> dict:
        """Call the admin API (``path`` like "/admin/clock"); raises on an error answer."""
        r = requests.request(
            method, self.base_url + path, json=json, headers=self.headers(), timeout=10
        )
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {r.status_code} {r.text[:300]}")
        return r.json()

    def env(self) -> dict[str, str]:
        """Environment variables that point a client (bridge, engine) at this market."""
        return AlpacaEndpoints(self.key, self.secret, self.base_url, self.base_url, self.stream_url).environ()

    def now_ms(self) -> int:
        """The simulated now (GET /admin/clock)."""
        return int(self.admin("GET", "/admin/clock")["now_ms"])

    def wait_until(self, sim_ms: int, timeout: float = 60) -> None:
        """Poll the simulated clock until ``sim_ms``; TimeoutError after ``timeout`` real s."""
        deadline = time.monotonic() + timeout
        while True:
            clock = self.admin("GET", "/admin/clock")
            now = int(clock["now_ms"])
            if now >= sim_ms:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"simulated clock at {clock['now']}, still before {sim_ms} after {timeout} s"
                )
            if clock["paused"]:
                wait = 0.05
            else:
                wait = (sim_ms - now) / 1000 / float(clock["speed"])
            time.sleep(min(max(wait, 0.005), 0.25, max(deadline - time.monotonic(), 0.001)))

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        """SIGTERM, wait, SIGKILL after a timeout; the exit code. Safe to call twice."""
        return stop_process(self.process)


def _tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def serve_command(
    *,
    synthetic: bool,
    seed: int,
    sessions: int,
    date: str | None,
    start_time: str,
    speed: float,
    data_dir: Path,
    state_file: Path,
    log_file: Path,
    extra_args: Sequence[str] = (),
) -> list[str]:
    cmd = [
        sys.executable, "-m", "mockmarket", "serve",
        "--host", "127.0.0.1", "--port", "0",
        "--data-dir", str(data_dir),
        "--start-time", start_time,
        "--speed", repr(float(speed)),
        "--state-file", str(state_file),
        "--log-file", str(log_file),
        "--seed", str(seed),
        "--sessions", str(sessions),
    ]  # fmt: skip
    if synthetic:
        cmd.append("--synthetic")
    if date is not None:
        cmd += ["--date", date]
    return cmd + list(extra_args)


@contextmanager
def run_market(
    workdir: Path,
    *,
    synthetic: bool = True,
    seed: int = 7,
    sessions: int = 3,
    date: str | None = None,
    start_time: str = "09:29",
    speed: float = 60.0,
    data_dir: Path | None = None,
    extra_args: Sequence[str] = (),
    key: str = TEST_KEY,
    secret: str = TEST_SECRET,
    start_timeout: float = START_TIMEOUT_S,
) -> Iterator[RunningMarket]:
    """A real server process serving ``workdir`` (synthetic data in ``workdir/equities``)."""
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = Path(data_dir).resolve() if data_dir is not None else workdir / "equities"
    state_file = workdir / "state.json"
    log_file = workdir / "mockmarket.log"
    output = workdir / "mockmarket.out"
    state_file.unlink(missing_ok=True)
    cmd = serve_command(
        synthetic=synthetic, seed=seed, sessions=sessions, date=date, start_time=start_time,
        speed=speed, data_dir=data_dir, state_file=state_file, log_file=log_file,
        extra_args=extra_args,
    )  # fmt: skip
    env = with_pythonpath(PROJECT_ROOT)
    env[KEY_VAR], env[SECRET_VAR] = key, secret
    process = spawn(cmd, env=env, cwd=workdir, output=output)
    market: RunningMarket | None = None
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            state = read_state(state_file)
            if state is not None and state.get("pid") == process.pid:
                break
            if process.poll() is not None:
                raise MarketStartError(
                    f"mockmarket exited with code {process.returncode} before listening:\n"
                    f"{_tail(output)}"
                )
            if time.monotonic() > deadline:
                raise MarketStartError(
                    f"mockmarket did not start within {start_timeout} s:\n{_tail(output)}"
                )
            time.sleep(0.02)
        market = RunningMarket(
            base_url=state["base_url"],
            stream_url=state["stream_url"],
            trade_stream_url=state["trade_stream_url"],
            key=key,
            secret=secret,
            pid=process.pid,
            state_file=state_file,
            data_dir=Path(state.get("data_dir", data_dir)),
            log_file=Path(state.get("log_file", log_file)),
            process=process,
            state=state,
        )
        yield market
    finally:
        if market is not None:
            market.stop()
        else:
            kill_process(process)

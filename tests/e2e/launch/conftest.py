"""``python -m launch mock`` end to end: the launcher as a process in a fresh working
directory (``config/`` only, as in a clone), with its real bridge, engine and mock market.

A test either lets the launcher start its own market (the ``make mock`` path) or starts one
itself (``market``: a harness market on the shared synthetic files, paused or running,
with the mock keys) which the launcher then reuses through its state file; its history is
then copied in from the session-wide download, so the launcher finds it up to date.
Locks go to a per-test ``XDG_RUNTIME_DIR``. Every process is stopped by its own pid.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import psutil
import pytest

from common.calendar import from_ms
from common.children import stop_pid
from common.env import load_endpoints
from common.rest import AlpacaRestClient
from launch.mock_market import is_market_process, mock_keys, read_market_state
from launch.paths import Mode, ModePaths
from launch.pidfiles import PidRecord, read_record
from mockmarket.harness import RunningMarket, run_market
from tests.support.processes import Proc, child_env, poll

SEED = 5
SESSIONS = 22
DAY = date(2025, 10, 16)


class Home:
    """The launcher's working directory and what it leaves there."""

    def __init__(self, tmp: Path, market_state: Path) -> None:
        self.tmp = tmp
        self.dir = tmp / "home"
        (self.dir / "config").mkdir(parents=True)
        self.fifo = tmp / "bars.fifo"
        self.market_state = market_state
        self.paths = ModePaths.of(Mode.MOCK)
        self.env = child_env({"XDG_RUNTIME_DIR": str(tmp / "xdg")})
        self.procs: list[Proc] = []

    # -- files
    def write_config(self, data: dict) -> None:
        (self.dir / "config" / f"{data['strategy']}_strategy.json").write_text(json.dumps(data, indent=2))

    def path(self, rel: str | Path) -> Path:
        return self.dir / rel

    @property
    def log_dir(self) -> Path:
        return self.dir / self.paths.log_dir

    @property
    def data_dir(self) -> Path:
        return self.dir / self.paths.data_dir

    def record(self, name: str) -> PidRecord | None:
        return read_record(self.dir / self.paths.run_dir, name)

    def state(self) -> dict | None:
        try:
            return json.loads((self.log_dir / "state.json").read_text())
        except (OSError, ValueError):
            return None

    def launch_log(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.log_dir.glob("launch_*.log")))

    def trader_log(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.log_dir.glob("trader_*.log")))

    def journal(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        db = sqlite3.connect(f"file:{self.log_dir / 'journal.sqlite'}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()

    # -- processes
    def launch(self, *args: str) -> Proc:
        argv = [sys.executable, "-m", "launch", "mock", "--config-dir", "config", "--fifo", str(self.fifo),
                "--market-state", str(self.market_state), *args]  # fmt: skip
        p = Proc(argv, self.env, self.tmp / f"launcher{len(self.procs) + 1}.out", cwd=self.dir)
        self.procs.append(p)
        return p

    def launch_live(self, env: dict[str, str], *args: str) -> Proc:
        """``python -m launch live`` with ``env`` added (endpoints and keys)."""
        argv = [sys.executable, "-m", "launch", "live", "--config-dir", "config", "--fifo", str(self.fifo),
                "--config-env", str(self.tmp / "absent.env"), *args]  # fmt: skip
        p = Proc(argv, {**self.env, **env}, self.tmp / f"launcher{len(self.procs) + 1}.out", cwd=self.dir)
        self.procs.append(p)
        return p

    def run(self, *args: str) -> str:
        """``python -m launch ARGS`` to its end (status, stop): its output."""
        r = subprocess.run([sys.executable, "-m", "launch", *args], cwd=self.dir, env=self.env,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout

    def ours(self) -> list[tuple[int, str]]:
        """(pid, module) of every running bridge or engine that uses this test's FIFO."""
        out = []
        for p in psutil.process_iter(["pid", "cmdline", "status"]):
            cmd = p.info["cmdline"] or []
            if p.info["status"] == psutil.STATUS_ZOMBIE or str(self.fifo) not in cmd or "-m" not in cmd:
                continue
            module = cmd[cmd.index("-m") + 1]
            if module in ("bridge", "engine"):
                out.append((p.info["pid"], module))
        return sorted(out)

    def wait_trading(self, launcher: Proc, timeout: float = 60) -> dict:
        """Until a new engine (recorded in its pid file) says it is trading."""

        def ready():
            if not launcher.alive():
                raise AssertionError(f"launcher exited {launcher.p.returncode}:\n{launcher.output()[-3000:]}")
            rec, st = self.record("engine"), self.state()
            return st if rec and st and st.get("pid") == rec.pid and st.get("phase") == "trading" else None

        return poll(ready, timeout, "the engine to trade")

    def close(self) -> None:
        for p in self.procs:
            if p.alive():
                with contextlib.suppress(Exception):
                    p.terminate(30)
        for name in ("engine", "bridge"):
            rec = self.record(name)
            if rec is not None:
                stop_pid(rec.pid, rec.matches, 5)
        state = read_market_state(self.market_state)
        if state and isinstance(state.get("pid"), int):
            stop_pid(state["pid"], is_market_process, 5)


class Market:
    """Admin and REST access to the market a test runs against (the launcher's keys)."""

    def __init__(self, state_file: Path) -> None:
        state = read_market_state(state_file)
        assert state is not None, f"no market state in {state_file}"
        key, secret = mock_keys()
        self.base = state["base_url"]
        self.pid = state["pid"]
        env = {"ALPACA_PAPER_API_KEY": key, "ALPACA_PAPER_SECRET_KEY": secret,
               "ALPACA_TRADING_URL": self.base, "ALPACA_DATA_URL": self.base,
               "ALPACA_STREAM_URL": state["stream_url"]}  # fmt: skip
        self.rest = AlpacaRestClient(load_endpoints(None, env), timeout=10.0)
        self._headers = {"APCA-API-KEY-ID": key, "APCA-API-SECRET-KEY": secret}

    def admin(self, method: str, path: str, **body: Any) -> dict:
        import requests

        r = requests.request(method, self.base + path, json=body or None, headers=self._headers, timeout=10)
        assert r.status_code < 400, f"{method} {path}: HTTP {r.status_code} {r.text[:300]}"
        return r.json()

    def clock(self, **body: Any) -> dict:
        return self.admin("POST", "/admin/clock", **body)

    def now_ms(self) -> int:
        return int(self.admin("GET", "/admin/clock")["now_ms"])

    def orders(self, day: date) -> list:
        from common.calendar import nyse

        after = from_ms(nyse().session(day).open_ms - 3_600_000)
        out: dict[str, Any] = {}
        while True:
            page = self.rest.list_orders(status="all", limit=500, after=after, direction="asc")
            new = [o for o in page if o.id not in out]
            out.update({o.id: o for o in new})
            if len(page) < 500 or not new:
                return sorted(out.values(), key=lambda o: (o.created_at, o.client_order_id))
            after = page[-1].created_at

    def positions(self) -> dict[str, float]:
        return {p.symbol: p.qty for p in self.rest.get_positions() if abs(p.qty) > 1e-9}

    def close(self) -> None:
        self.rest.close()


@pytest.fixture
def home(tmp_path) -> Iterator[Home]:
    h = Home(tmp_path, tmp_path / "market" / "state.json")
    try:
        yield h
    finally:
        h.close()


@pytest.fixture
def webhook():
    """A local webhook receiver for the launcher's alerts (``ALERT_WEBHOOK_URL``)."""
    from tests.support.alert_servers import webhook_server

    with webhook_server() as hook:
        yield hook


@pytest.fixture
def smtp(tmp_path):
    """A local SMTP server (STARTTLS, a login) for the launcher's email alerts (``smtp.env()``)."""
    from tests.support.alert_servers import smtp_server

    with smtp_server(tmp_path) as server:
        yield server


@pytest.fixture
def market(tmp_path, home, market_files, history) -> Iterator[Callable[..., Market]]:
    """``market(start_time, speed=..., paused=...)``: a harness market on the replay ``DAY``,
    found by the launcher through ``home.market_state``; ``home``'s history is filled from it."""
    stack = contextlib.ExitStack()
    made: list[Market] = []

    def make(start_time: str, speed: float = 300.0, paused: bool = False) -> Market:
        key, secret = mock_keys()
        extra = ["--correction-rate", "0", *(["--paused"] if paused else [])]
        running: RunningMarket = stack.enter_context(run_market(
            tmp_path / "market", data_dir=market_files(DAY), seed=SEED, sessions=SESSIONS,
            date=DAY.isoformat(), start_time=start_time, speed=speed, extra_args=extra,
            key=key, secret=secret,
        ))  # fmt: skip
        shutil.copytree(history(running, DAY), home.data_dir / "equities")
        m = Market(running.state_file)
        made.append(m)
        return m

    try:
        yield make
    finally:
        for m in made:
            m.close()
        stack.close()

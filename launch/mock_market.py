"""Mock mode's exchange: reuse the running mockmarket, or start one that outlives the launcher.

The market plays the exchange, so it is not a child: a launcher killed mid-session and run
again meets the same market, clock and paper account. It is found through its state file
(pid and URLs, no secrets), checked with psutil to be a ``mockmarket serve`` process. A
market this module starts is recorded in the run directory and stopped once a session ends
normally; a market someone else started is never stopped.

While the launcher optimizes (before trading, and at midday) the market's simulated clock is
held (:func:`clock_held`): it runs ``speed`` times faster than the optimizer, so a minute of
trials at speed 100 would otherwise let 100 minutes of the session go by untraded. The hold
is written down first (``<run_dir>/market_clock_held.json``), so a launcher killed while
holding it leaves the next one what it needs to let the clock go (:func:`release_stale_hold`).

It always runs with the mock keys, given through its environment (never the operator's
keys: ``ALPACA_*`` variables are removed from what it inherits), and the launcher hands
the same keys to the bridge and the engine through theirs.

This is the only launch module that may touch the ``mockmarket`` package, and it does so
only for the market's default keys; the state file is read through
:func:`read_market_state`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import ModuleType
from typing import Any

from common.atomic_write import write_json_atomic
from common.calendar import iso_ny
from common.children import cmdline_of, spawn, stop_pid, with_pythonpath
from common.env import KEY_VAR, SECRET_VAR, AlpacaEndpoints
from common.errors import OperationalError
from common.rest_models import auth_headers
from launch.children import PROJECT_ROOT
from launch.paths import ModePaths, point_link
from launch.pidfiles import MARKET, live_record, remove_record, write_record

log = logging.getLogger(__name__)

START_TIMEOUT_S = 90.0
DEFAULT_SPEED = 100.0
"""Simulated seconds per wall second: the 390-minute session in about four minutes."""
DEFAULT_START = "09:05"
"""Before the open: a fresh clone generates and downloads, then waits (with a countdown) for it."""
DEFAULT_SEED = 7


def _state_file_module() -> ModuleType:
    """The module of the market's state file: the one place that names it."""
    from common import market_state

    return market_state


def default_state_file() -> Path:
    return _state_file_module().DEFAULT_STATE_FILE


def read_market_state(path: Path) -> dict[str, Any] | None:
    """The running market's state file (pid and URLs), or None."""
    return _state_file_module().read_state(path)


def mock_keys() -> tuple[str, str]:
    """The keys every mock market of the launcher runs with (never the operator's)."""
    from mockmarket.app import DEFAULT_KEY, DEFAULT_SECRET

    return DEFAULT_KEY, DEFAULT_SECRET


class MarketError(OperationalError):
    """The mock market cannot be started or used; the message says why and where its log is."""


@dataclass(frozen=True)
class MarketOptions:
    """How to start a market; None means "not given" (the default is used when starting one,
    and a running market is reused whatever it was started with)."""

    state_file: Path
    sessions: int
    """Synthetic sessions to generate: the history a download wants, plus the replay date."""
    replay_date: date | None = None
    speed: float | None = None
    start_time: str | None = None
    seed: int | None = None
    new_market: bool = False
    """Stop a running market (if a launcher started it) and start a fresh one."""

    def differences(self, state: Mapping[str, Any]) -> list[str]:
        """Options given that a running market (its state file) does not match."""
        out = []
        if self.replay_date is not None and state.get("date") != self.replay_date.isoformat():
            out.append(f"--date {self.replay_date} (it replays {state.get('date')})")
        if self.speed is not None and state.get("speed") != self.speed:
            out.append(f"--speed {self.speed:g} (it runs at {state.get('speed')})")
        if self.start_time is not None:
            out.append(f"--start-time {self.start_time} (its clock is already running)")
        if self.seed is not None:
            out.append(f"--seed {self.seed}")
        return out


@dataclass(frozen=True)
class Market:
    pid: int
    state: Mapping[str, Any]
    started_by_launcher: bool
    """A launcher started it (its pid file says so): stopped when a session ends normally."""
    fresh: bool = False
    """Started by this launcher run: a new paper account."""

    def endpoints(self) -> AlpacaEndpoints:
        key, secret = mock_keys()
        return AlpacaEndpoints(
            key_id=key,
            secret=secret,
            trading_url=str(self.state["trading_url"]).rstrip("/"),
            data_url=str(self.state["data_url"]).rstrip("/"),
            stream_url=str(self.state["stream_url"]),
        )

    def child_env(self, base: Mapping[str, str]) -> dict[str, str]:
        """``base`` without the operator's ALPACA_* variables, pointed at this market."""
        env = {k: v for k, v in base.items() if not k.startswith("ALPACA_")}
        env.update(self.endpoints().environ())
        return env

    def describe(self) -> str:
        return (
            f"mockmarket pid {self.pid} at {self.state.get('base_url')}, replaying "
            f"{self.state.get('date')} at speed {self.state.get('speed')}"
        )


def is_market_process(cmdline: list[str]) -> bool:
    return "mockmarket" in cmdline and "serve" in cmdline


def running_market(state_file: Path) -> Market | None:
    """The market the state file names, if that process is alive and is a mockmarket."""
    state = read_market_state(state_file)
    if not state or not isinstance(state.get("pid"), int):
        return None
    cmd = cmdline_of(state["pid"])
    if cmd is None or not is_market_process(cmd):
        return None
    return Market(state["pid"], state, started_by_launcher=False)


def serve_argv(opts: MarketOptions, log_file: Path) -> list[str]:
    argv = [
        sys.executable, "-m", "mockmarket", "serve", "--synthetic",
        "--host", "127.0.0.1", "--port", "0",
        "--seed", str(DEFAULT_SEED if opts.seed is None else opts.seed),
        "--sessions", str(opts.sessions),
        "--start-time", opts.start_time or DEFAULT_START,
        "--speed", repr(float(opts.speed or DEFAULT_SPEED)),
        "--state-file", str(opts.state_file), "--log-file", str(log_file),
    ]  # fmt: skip
    if opts.replay_date is not None:
        argv += ["--date", opts.replay_date.isoformat()]
    return argv


def _tail(path: Path, n: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
    except OSError:
        return "(no output)"


def start_market(opts: MarketOptions, paths: ModePaths, stamp: str,
                 environ: Mapping[str, str] | None = None) -> Market:  # fmt: skip
    """Start ``python -m mockmarket serve`` in its own session and wait until it listens."""
    log_file = paths.log_file("mockmarket", stamp)
    argv = serve_argv(opts, log_file)
    key, secret = mock_keys()
    env = {k: v for k, v in (os.environ if environ is None else environ).items()
           if not k.startswith("ALPACA_")}  # fmt: skip
    env.update({KEY_VAR: key, SECRET_VAR: secret})
    env = with_pythonpath(PROJECT_ROOT, env)
    log.info("starting a mock market (log %s): %s", log_file, " ".join(argv[3:]))
    proc = spawn(argv, env=env, output=log_file, new_session=True)
    write_record(paths.run_dir, MARKET, proc.pid, argv)
    point_link(paths.latest_link("mockmarket"), log_file)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        state = read_market_state(opts.state_file)
        if state is not None and state.get("pid") == proc.pid:
            market = Market(proc.pid, state, started_by_launcher=True, fresh=True)
            log.info("mock market up: %s", market.describe())
            return market
        if proc.poll() is not None:
            remove_record(paths.run_dir, MARKET, proc.pid)
            raise MarketError(f"the mock market exited with code {proc.returncode} before listening "
                              f"(log {log_file}):\n{_tail(log_file)}")  # fmt: skip
        if time.monotonic() > deadline:
            stop_pid(proc.pid, is_market_process)
            raise MarketError(f"the mock market did not start within {START_TIMEOUT_S:g} s "
                              f"(log {log_file}):\n{_tail(log_file)}")  # fmt: skip
        time.sleep(0.05)


def ours(market: Market, paths: ModePaths) -> bool:
    """Whether a launcher started this market (its pid file in the run directory says so)."""
    rec = live_record(paths.run_dir, MARKET)
    return rec is not None and rec.pid == market.pid


def stop_market(market: Market, paths: ModePaths) -> None:
    log.info("stopping the mock market (pid %d)", market.pid)
    stop_pid(market.pid, is_market_process)
    remove_record(paths.run_dir, MARKET, market.pid)


def ensure_market(opts: MarketOptions, paths: ModePaths, stamp: str) -> Market:
    """The running market (reused), or a new one; with ``new_market`` a running one this
    launcher's kind started is stopped first (one started by someone else is refused)."""
    market = running_market(opts.state_file)
    if market is not None and opts.new_market:
        if not ours(market, paths):
            raise MarketError(f"--new-market: the running {market.describe()} was not started "
                              f"by a launcher; stop it yourself (state file {opts.state_file})")  # fmt: skip
        stop_market(market, paths)
        market = None
    if market is not None:
        market = Market(market.pid, market.state, started_by_launcher=ours(market, paths))
        log.info("reusing the running %s (state file %s)", market.describe(), opts.state_file)
        ignored = opts.differences(market.state)
        if ignored:
            log.warning("ignored, the running market keeps its settings: %s; "
                        "--new-market starts a new one", "; ".join(ignored))  # fmt: skip
        return market
    return start_market(opts, paths, stamp)


ADMIN_TIMEOUT_S = 10.0


def _clock(market: Market, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """GET (no body) or POST ``/admin/clock`` of the market, with the mock keys."""
    import requests

    url = str(market.state["base_url"]).rstrip("/") + "/admin/clock"
    r = requests.request("POST" if body else "GET", url, json=body, headers=auth_headers(*mock_keys()),
                         timeout=ADMIN_TIMEOUT_S)  # fmt: skip
    r.raise_for_status()
    out = r.json()
    if not isinstance(out, dict):
        raise ValueError(f"/admin/clock answered {type(out).__name__}, not an object")
    return out


HOLD_FILE = "market_clock_held.json"


def hold_file(paths: ModePaths) -> Path:
    return paths.run_dir / HOLD_FILE


def _resume(market: Market, hold: Path) -> None:
    try:
        now = _clock(market, {"action": "resume"}).get("now_ms")
        log.info("mock market clock resumed%s", f" at {iso_ny(int(now))[11:19]}" if now else "")
        hold.unlink(missing_ok=True)
    except Exception as e:
        log.error("could not resume the mock market's clock (%s: %s): the next launcher will, or "
                  "POST /admin/clock {\"action\": \"resume\"}", type(e).__name__, e)  # fmt: skip


@contextlib.contextmanager
def clock_held(market: Market | None, paths: ModePaths, why: str) -> Iterator[None]:
    """The market's clock paused for the block (module docstring), then resumed, unless it was
    paused already (someone else holds it: left as it is). Live mode (no market): nothing.
    A market that does not answer is logged and the block runs anyway."""
    if market is None:
        yield
        return
    held = False
    hold = hold_file(paths)
    try:
        if not _clock(market).get("paused"):
            write_json_atomic(hold, {"market_pid": market.pid, "why": why}, sync_dir=True)
            _clock(market, {"action": "pause"})
            held = True
            log.info("mock market clock held while %s", why)
    except Exception as e:  # the optimization must not depend on the market's admin API
        log.warning("could not hold the mock market's clock (%s: %s): it runs on", type(e).__name__, e)
    try:
        yield
    finally:
        if held:
            _resume(market, hold)
        else:
            hold.unlink(missing_ok=True)


def release_stale_hold(market: Market | None, paths: ModePaths) -> None:
    """Let the clock go if a launcher that held it is gone (killed while optimizing); also
    what a launcher does on its way out while its midday thread still holds it."""
    hold = hold_file(paths)
    if market is None or not hold.exists():
        return
    try:
        rec = json.loads(hold.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        rec = {}
    if rec.get("market_pid") != market.pid:  # a hold on another market, gone since
        hold.unlink(missing_ok=True)
        return
    log.warning("the mock market's clock was held by a launcher that is gone (while %s): resuming it",
                rec.get("why", "optimizing"))  # fmt: skip
    _resume(market, hold)


JOURNAL_FILES = ("journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm", "state.json")


def archive_journal(paths: ModePaths, stamp: str) -> Path | None:
    """A new market is a new paper account: move the mock journal and ``state.json`` of the
    previous market to ``archive/<stamp>/`` (kept, never deleted); the engine starts a new one.
    Called once no engine of an earlier run is left running."""
    present = [paths.log_dir / n for n in JOURNAL_FILES if (paths.log_dir / n).exists()]
    if not present:
        return None
    dest = paths.log_dir / "archive" / stamp
    dest.mkdir(parents=True, exist_ok=True)
    for p in present:
        os.replace(p, dest / p.name)
    log.info("new market, new account: the previous mock journal is kept in %s", dest)
    return dest


__all__ = [
    "DEFAULT_SEED",
    "archive_journal",
    "clock_held",
    "release_stale_hold",
    "DEFAULT_SPEED",
    "DEFAULT_START",
    "JOURNAL_FILES",
    "Market",
    "MarketError",
    "MarketOptions",
    "default_state_file",
    "ensure_market",
    "is_market_process",
    "mock_keys",
    "read_market_state",
    "running_market",
    "start_market",
    "stop_market",
]

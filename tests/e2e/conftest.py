"""Whole mock sessions with real processes: mockmarket, ``python -m bridge`` and
``python -m engine``, talking over real sockets and a real FIFO under tmp_path.

The engine warms up on the market's own history: the sessions before the replay date are
downloaded over REST (``AlpacaRestClient.get_bars``) into the engine's
``<data-dir>/equities`` with ``csvfiles.write_history`` — what the launcher does. The
synthetic market files and the downloaded history are made once per test session and
copied per test. Every process is stopped by its own pid.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from common.calendar import from_ms, ny_datetime, nyse, to_ms
from common.config import (
    apply_params,
    default_config_json,
    original_config_json,
    validate_strategy_config,
)
from common.csvfiles import history_path, write_history
from common.env import load_endpoints
from common.rest import AlpacaRestClient
from mockmarket.datasource import ensure_synthetic
from mockmarket.harness import RunningMarket, run_market
from tests.support.processes import Proc, child_env, poll

SEED = 5
SESSIONS = 22  # 20 sessions of warm-up history + the replay date (+1 spare)
HISTORY = 20
DAY = date(2025, 10, 16)  # a Thursday
HALF_DAY = date(2025, 11, 28)  # closes 13:00
ALL_SYMBOLS = ("ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA",
               "UVXY", "SPY", "SPXL", "SH")  # fmt: skip


def at(day: date, hhmm: str) -> int:
    return to_ms(ny_datetime(day, hhmm))


def strategy_config(strategy: str, *, defaults: bool = False, **dotted: Any) -> dict:
    """A full, validated config dict with ``section__knob=value`` overrides.

    The base is the ported system's tuning (``original_config_json``), which trades from the
    first warm minutes: these sessions test the processes, not the edge. ``defaults`` starts
    from the shipped defaults instead (calibrated forecasts, the cost gate)."""
    params = {k.replace("__", "."): v for k, v in dotted.items()}
    base = default_config_json(strategy) if defaults else original_config_json(strategy)
    data = apply_params(base, params, source="<e2e>", strategy=strategy)
    validate_strategy_config(strategy, data, source="<e2e>")
    return data


# A rotation config that enters as soon as signals are warm and then holds to the close:
# every entry filter open, no exits but the end of day.
ROTATION_HOLDS = {
    "oes_config__buy_threshold": 0.5, "oes_config__sell_threshold": 0.06,
    "signal_aggregator_config__min_probability": 0.5, "signal_aggregator_config__min_confidence": 0.0,
    "signal_aggregator_config__min_strength": 0.0, "signal_aggregator_config__max_signal_age_bars": 390,
    "rotation_manager_config__min_strength_to_enter": 0.0,
    "rotation_manager_config__min_strength_to_exit": 0.0,
    "rotation_manager_config__rotation_strength_delta": 5.0,
    "rotation_manager_config__min_hold_bars": 390, "rotation_manager_config__profit_target": 1.0,
    "rotation_manager_config__stop_loss": 1.0, "rotation_manager_config__min_rank_to_hold": 12,
    "risk__daily_loss_limit_pct": 0.5,
}  # fmt: skip


class Rig:
    """One market and the engine's directories; bridges and engines started on demand."""

    def __init__(self, market: RunningMarket, tmp: Path, day: date) -> None:
        self.market = market
        self.tmp = tmp
        self.day = day
        self.session = nyse().session(day)
        self.fifo = tmp / "bars.fifo"
        self.log_dir = tmp / "logs"
        self.data_dir = tmp / "data"
        self.config_dir = tmp / "config"
        self.config_dir.mkdir(exist_ok=True)
        self.procs: list[Proc] = []
        self.n = 0
        self.rest = AlpacaRestClient(load_endpoints(None, market.env()), timeout=10.0)

    # -- processes
    def env(self) -> dict[str, str]:
        return child_env(self.market.env())

    def write_config(self, strategy: str, *, defaults: bool = False, **dotted: Any) -> Path:
        path = self.config_dir / f"{strategy}_strategy.json"
        path.write_text(json.dumps(strategy_config(strategy, defaults=defaults, **dotted), indent=2))
        return path

    def start_bridge(self, symbols: tuple[str, ...]) -> Proc:
        self.n += 1
        args = [sys.executable, "-m", "bridge", "--symbols", ",".join(symbols), "--fifo", str(self.fifo),
                "--log-dir", str(self.log_dir), "--config-env", str(self.tmp / "absent.env")]  # fmt: skip
        p = Proc(args, self.env(), self.tmp / f"bridge{self.n}.out")
        self.procs.append(p)
        return p

    def start_engine(self, strategy: str, *extra: str) -> Proc:
        self.n += 1
        args = [sys.executable, "-m", "engine", "--strategy", strategy, "--fifo", str(self.fifo),
                "--log-dir", str(self.log_dir), "--data-dir", str(self.data_dir),
                "--config-dir", str(self.config_dir), "--config-env", str(self.tmp / "absent.env"),
                *extra]  # fmt: skip
        p = Proc(args, self.env(), self.tmp / f"engine{self.n}.out")
        self.procs.append(p)
        return p

    def close(self) -> None:
        for p in self.procs:
            if p.alive():
                with contextlib.suppress(Exception):
                    p.kill()
        self.rest.close()

    # -- the market
    def clock(self, **body: Any) -> dict:
        return self.market.admin("POST", "/admin/clock", json=body)

    def counters(self) -> dict:
        return self.market.admin("GET", "/admin/counters")

    def broker_orders(self) -> list:
        """Every order of the replay date, oldest first (paged by time)."""
        out: dict[str, Any] = {}
        after = from_ms(self.session.open_ms - 3_600_000)
        while True:
            page = self.rest.list_orders(status="all", limit=500, after=after, direction="asc")
            new = [o for o in page if o.id not in out]
            for o in new:
                out[o.id] = o
            if len(page) < 500 or not new:
                return sorted(out.values(), key=lambda o: (o.created_at, o.client_order_id))
            after = page[-1].created_at

    def positions(self) -> dict[str, float]:
        from engine.position_book import signed_positions

        return signed_positions(self.rest.get_positions())

    # -- the engine's files
    def state(self) -> dict | None:
        try:
            return json.loads((self.log_dir / "state.json").read_text())
        except (OSError, ValueError):
            return None

    def wait_phase(self, phase: str, engine: Proc, timeout: float = 90) -> dict:
        def ready():
            if not engine.alive():
                raise AssertionError(f"engine exited with {engine.p.returncode}:\n{engine.output()[-3000:]}")
            s = self.state()
            return s if s and s.get("pid") == engine.pid and s.get("phase") == phase else None

        return poll(ready, timeout, f"engine phase {phase}")

    def lockstep(self, engine: Proc, *, until_exit: float = 240.0) -> int:
        """Drive the paused clock one minute at a time, each step only once the engine has
        decided the minute before: every order reaches the market in the minute after the
        bar it was decided on, however slow the machine. Returns the engine's exit code."""
        deadline = time.monotonic() + until_exit
        now = self.market.now_ms()
        while engine.alive():
            if time.monotonic() > deadline:
                raise AssertionError(f"lockstep: the engine did not finish in {until_exit} s")
            self.clock(action="step", seconds=60)
            now += 60_000
            closed = (now // 60_000) * 60_000 - 60_000  # the minute whose bars were just published
            if not self.session.contains_minute(closed):
                continue

            def decided(t: int = closed) -> bool:
                s = self.state()
                return not engine.alive() or bool(s and (s.get("last_t_ms") or 0) >= t)

            poll(decided, 30, f"the engine to decide {from_ms(closed).isoformat()}", every=0.005)
        return engine.wait(30)

    def trader_log(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.log_dir.glob("trader_*.log")))

    def journal_rows(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        db = sqlite3.connect(f"file:{self.log_dir / 'journal.sqlite'}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()


@pytest.fixture(scope="session")
def market_files(tmp_path_factory) -> Callable[[date], Path]:
    """The synthetic market ending on a day (generated once per test session)."""
    made: dict[date, Path] = {}

    def get(day: date) -> Path:
        if day not in made:
            d = tmp_path_factory.mktemp(f"e2e_market_{day:%Y%m%d}")
            ensure_synthetic(d, seed=SEED, sessions=SESSIONS, end_date=day)
            made[day] = d
        return made[day]

    return get


def download_history(rest: AlpacaRestClient, day: date, symbols: tuple[str, ...], dest: Path) -> None:
    """The ``HISTORY`` sessions before ``day`` over REST into ``dest`` (history CSVs)."""
    sessions = nyse().sessions_before(day, HISTORY)
    bars = rest.get_bars(symbols, from_ms(sessions[0].open_ms), from_ms(sessions[-1].close_ms - 60_000))
    for sym in symbols:
        write_history(history_path(dest, sym), bars.get(sym, []))


@pytest.fixture(scope="session")
def history(tmp_path_factory, market_files) -> Callable[[RunningMarket, date], Path]:
    """``history(market, day)``: a directory of history CSVs downloaded from the market once."""
    made: dict[date, Path] = {}

    def get(market: RunningMarket, day: date) -> Path:
        if day not in made:
            d = tmp_path_factory.mktemp(f"e2e_history_{day:%Y%m%d}")
            with AlpacaRestClient(load_endpoints(None, market.env())) as rest:
                download_history(rest, day, ALL_SYMBOLS, d)
            made[day] = d
        return made[day]

    return get


@pytest.fixture
def rig_factory(tmp_path, market_files, history) -> Iterator[Callable[..., Rig]]:
    """``rig_factory(day, start_time, speed=..., extra_args=..., data_dir=...)`` → a rig on a
    paused market (``data_dir``: a copy of ``market_files(day)`` a test has changed)."""
    stack = contextlib.ExitStack()
    rigs: list[Rig] = []

    def make(day: date = DAY, start_time: str = "14:59", speed: float = 300.0,
             extra_args: tuple[str, ...] = (), data_dir: Path | None = None) -> Rig:  # fmt: skip
        market = stack.enter_context(run_market(
            tmp_path / "market", data_dir=data_dir or market_files(day), seed=SEED, sessions=SESSIONS,
            date=day.isoformat(), start_time=start_time, speed=speed,
            extra_args=["--paused", "--correction-rate", "0", *extra_args],
        ))  # fmt: skip
        rig = Rig(market, tmp_path, day)
        shutil.copytree(history(market, day), rig.data_dir / "equities")
        rigs.append(rig)
        return rig

    try:
        yield make
    finally:
        for r in rigs:
            r.close()
        stack.close()


@pytest.fixture
def e2e():
    """Helpers for the test modules (conftest modules cannot be imported under importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(at=at, poll=poll, DAY=DAY, HALF_DAY=HALF_DAY, ROTATION_HOLDS=ROTATION_HOLDS,
                           strategy_config=strategy_config)

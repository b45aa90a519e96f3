"""The rig of the whole-session tests: one mock market and an engine's directories, the
bridge and engine processes started on demand, the market's clock and the engine's files."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from common.calendar import from_ms, nyse
from common.config import (
    apply_params,
    default_config_json,
    original_config_json,
    validate_strategy_config,
)
from common.env import load_endpoints
from common.rest import AlpacaRestClient
from mockmarket.harness import RunningMarket
from tests.support.processes import Proc, child_env, poll


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

    def start_engine(self, strategy: str, *extra: str, env: dict[str, str] | None = None) -> Proc:
        """``python -m engine`` on this rig (``env``: variables added to its environment)."""
        self.n += 1
        args = [sys.executable, "-m", "engine", "--strategy", strategy, "--fifo", str(self.fifo),
                "--log-dir", str(self.log_dir), "--data-dir", str(self.data_dir),
                "--config-dir", str(self.config_dir), "--config-env", str(self.tmp / "absent.env"),
                *extra]  # fmt: skip
        p = Proc(args, {**self.env(), **(env or {})}, self.tmp / f"engine{self.n}.out")
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

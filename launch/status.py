"""``python -m launch status``: what runs, what the market and the engine are doing, what is held.

Read from outside, without disturbing anything: the pid files (each process checked with
psutil against its recorded command line), the engine's ``state.json``, and the broker
(clock, positions, account) through REST when its endpoints are known. A part that cannot
be read is reported as such; the rest is still shown.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import psutil

from common.calendar import MINUTE_MS
from common.env import AlpacaEndpoints
from common.errors import TraderError
from common.rest import AlpacaRestClient
from launch.paths import ModePaths
from launch.pidfiles import BRIDGE, ENGINE, LAUNCHER, MARKET, live_record
from launch.preview import money, position_line

CPU_SAMPLE_S = 0.25


def processes(paths: ModePaths, *, sample_s: float = CPU_SAMPLE_S,
              sleep: Callable[[float], None] = time.sleep) -> list[dict[str, Any]]:  # fmt: skip
    """pid, uptime, CPU (% of one core over ``sample_s``) and memory of each recorded process."""
    found: list[tuple[str, psutil.Process]] = []
    out: list[dict[str, Any]] = []
    for name in (LAUNCHER, ENGINE, BRIDGE, MARKET):
        rec = live_record(paths.run_dir, name)
        if rec is None:
            out.append({"name": name, "running": False})
            continue
        try:
            p = psutil.Process(rec.pid)
            p.cpu_percent(None)
            found.append((name, p))
            out.append({"name": name, "running": True, "pid": rec.pid})
        except psutil.Error:
            out.append({"name": name, "running": False})
    if found:
        sleep(sample_s)
    now = time.time()
    by_name = {d["name"]: d for d in out}
    for name, p in found:
        d = by_name[name]
        try:
            with p.oneshot():
                d["uptime_s"] = round(now - p.create_time(), 1)
                d["cpu_percent"] = round(p.cpu_percent(None), 1)
                d["rss_mb"] = round(p.memory_info().rss / 2**20, 1)
        except psutil.Error:
            d["running"] = False
    return out


def engine_state(paths: ModePaths) -> dict[str, Any] | None:
    try:
        obj = json.loads(paths.state_json.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def broker(endpoints: AlpacaEndpoints) -> dict[str, Any]:
    """Clock, positions and today's P&L from the broker (one short-timeout try each)."""
    out: dict[str, Any] = {}
    with AlpacaRestClient(endpoints, timeout=5.0, max_retries=0) as rest:
        c = rest.get_clock()
        out["clock"] = {
            "timestamp": c.timestamp.isoformat(), "timestamp_ms": c.timestamp_ms, "is_open": c.is_open,
            "next_open": c.next_open.isoformat(), "next_close": c.next_close.isoformat(),
        }  # fmt: skip
        positions = rest.get_positions()
        out["positions"] = [
            {"symbol": p.symbol, "qty": p.qty, "avg_entry_price": p.avg_entry_price,
             "current_price": p.current_price, "unrealized_pl": p.unrealized_pl,
             "line": position_line(p)}
            for p in positions
        ]  # fmt: skip
        acct = rest.get_account()
        out["equity"] = acct.equity
        out["pnl_today"] = None if not acct.last_equity else acct.equity - acct.last_equity
    return out


def gather(paths: ModePaths, endpoints: AlpacaEndpoints | None, why_no_broker: str | None,
           *, sample_s: float = CPU_SAMPLE_S) -> dict[str, Any]:  # fmt: skip
    status: dict[str, Any] = {"mode": str(paths.mode), "log_dir": str(paths.log_dir),
                              "processes": processes(paths, sample_s=sample_s), "errors": []}  # fmt: skip
    st = engine_state(paths)
    status["engine"] = None if st is None else {
        k: st.get(k) for k in ("pid", "phase", "session_date", "last_minute", "last_t_ms", "halted",
                               "broker_time")
    }  # fmt: skip
    if endpoints is None:
        status["errors"].append(f"broker not asked: {why_no_broker}")
        return status
    try:
        status.update(broker(endpoints))
    except TraderError as e:  # status shows what it can
        status["errors"].append(f"broker: {e}")
    eng, clock = status.get("engine"), status.get("clock")
    if eng and clock and eng.get("last_t_ms"):
        status["engine"]["lag_s"] = round((clock["timestamp_ms"] - eng["last_t_ms"] - MINUTE_MS) / 1000, 1)
    return status


def _duration(s: float) -> str:
    s = int(s)
    h, rest = divmod(s, 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


def format_status(st: dict[str, Any]) -> list[str]:
    lines = [f"{st['mode']} mode ({st['log_dir']})", "Processes:"]
    for p in st["processes"]:
        if not p.get("running"):
            lines.append(f"  {p['name']:<9} not running")
        else:
            lines.append(f"  {p['name']:<9} pid {p['pid']:<7} up {_duration(p.get('uptime_s', 0)):>7}  "
                         f"CPU {p.get('cpu_percent', 0):5.1f}%  mem {p.get('rss_mb', 0):7.1f} MB")  # fmt: skip
    c = st.get("clock")
    if c:
        state = "open" if c["is_open"] else "closed"
        nxt = f"closes {c['next_close']}" if c["is_open"] else f"opens {c['next_open']}"
        lines.append(f"Market: {state} (broker time {c['timestamp']}); {nxt}")
    e = st.get("engine")
    if e:
        lag = e.get("lag_s")
        lines.append(
            f"Engine: {e.get('phase')}, session {e.get('session_date')}, last bar "
            f"{e.get('last_minute') or 'none yet'}"
            + ("" if lag is None or not (c and c["is_open"]) else f" (lag {lag:g} s)")
            + (" — HALTED" if e.get("halted") else "")
        )
    else:
        lines.append("Engine: no state.json yet")
    if "positions" in st:
        held = st["positions"]
        lines.append(f"Positions: {len(held)}" if held else "Positions: none")
        lines += [f"  {p['line']}" for p in held]
        pnl = st.get("pnl_today")
        lines.append("P&L today: " + ("unknown" if pnl is None else
                                      f"{money(pnl, signed=True)} (equity {money(st['equity'])})"))  # fmt: skip
    lines += [f"({err})" for err in st["errors"]]
    return lines


def status_json(st: dict[str, Any]) -> str:
    return json.dumps(st, indent=2, sort_keys=True, default=str)


__all__ = ["engine_state", "format_status", "gather", "processes", "status_json"]

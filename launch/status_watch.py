"""``python -m launch status --watch``: a live terminal view of a running system (rich).

Refreshed in place every ``interval`` seconds, read from outside without disturbing
anything:

- processes (pid files checked against their command lines; CPU since the last refresh,
  memory, uptime) and the supervisor's view of each child (the latest run record);
- the market clock and the feed's lag: the broker's clock, read every ``broker_every_s``
  seconds and carried forward in between at the pace measured between two reads (a mock
  market's clock runs faster than the wall's); the lag is the broker's time past the end
  of the engine's last minute;
- the engine: phase, last minute, the strategy's state and targets (``state.json``);
- positions with P&L, and the day's P&L (the broker, every ``broker_every_s`` seconds: a
  few requests a minute, well within Alpaca's 200);
- today's trades (the journal's fills, read-only);
- warnings: stale data (the feed's lag over :data:`STALE_AFTER_S` of broker time while the
  market is open), a FATAL child, the kill switch (a halt), the trade-updates stream
  down, the broker unreachable, positions after the close.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from common.calendar import MINUTE_MS, iso_ny
from common.env import AlpacaEndpoints
from common.errors import TraderError
from common.rest import AlpacaRestClient
from launch.paths import ModePaths
from launch.pidfiles import BRIDGE, ENGINE, LAUNCHER, MARKET, live_record
from launch.preview import money
from launch.run_record import latest_run
from launch.status import engine_state

STALE_AFTER_S = 150.0
"""Broker seconds past the end of the last minute before the data counts as stale (the bridge
sends a minute a few seconds after it closes)."""
BROKER_EVERY_S = 10.0
TRADES_SHOWN = 12

EndpointsFn = Callable[[], tuple[AlpacaEndpoints | None, str | None]]


@dataclass
class BrokerView:
    """The last answers of the broker, and when they came."""

    clock_ms: int | None = None
    is_open: bool | None = None
    next_open: str | None = None
    next_close: str | None = None
    read_at: float = 0.0
    """Monotonic time of the clock's answer."""
    speed: float = 1.0
    """Broker seconds per wall second, measured between two reads."""
    positions: list[dict[str, Any]] = field(default_factory=list)
    equity: float | None = None
    pnl_today: float | None = None
    error: str | None = None

    def now_ms(self, mono: float) -> int | None:
        if self.clock_ms is None:
            return None
        ahead = (mono - self.read_at) * 1000 * (self.speed if self.is_open is not False else 1.0)
        return int(self.clock_ms + ahead)


def feed_lag_s(now_ms: int | None, last_t_ms: Any) -> float | None:
    """Broker seconds since the end of the engine's last minute (None: either unknown). Never
    below 0: a minute the engine decided has ended, whatever a carried-forward clock says (a
    mock market's pace is only known from the second read)."""
    if now_ms is None or not last_t_ms:
        return None
    return max(0.0, (now_ms - int(last_t_ms) - MINUTE_MS) / 1000)


class Watch:
    """What the view shows, refreshed on each :meth:`snapshot`."""

    def __init__(self, paths: ModePaths, endpoints: EndpointsFn, *, broker_every_s: float = BROKER_EVERY_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.paths = paths
        self.endpoints = endpoints
        self.broker_every_s = broker_every_s
        self.mono = monotonic
        self.broker = BrokerView()
        self._next_broker = 0.0
        self._procs: dict[str, psutil.Process] = {}

    # ------------------------------------------------------------------ reading

    def processes(self) -> list[dict[str, Any]]:
        out = []
        now = time.time()
        for name in (LAUNCHER, ENGINE, BRIDGE, MARKET):
            rec = live_record(self.paths.run_dir, name)
            if rec is None:
                self._procs.pop(name, None)
                out.append({"name": name, "running": False})
                continue
            p = self._procs.get(name)
            try:
                if p is None or p.pid != rec.pid:
                    p = self._procs[name] = psutil.Process(rec.pid)
                    p.cpu_percent(None)  # the first call only starts the measure
                with p.oneshot():
                    out.append({"name": name, "running": True, "pid": rec.pid, "uptime_s": now - p.create_time(),
                                "cpu_percent": p.cpu_percent(None), "rss_mb": p.memory_info().rss / 2**20})  # fmt: skip
            except psutil.Error:
                self._procs.pop(name, None)
                out.append({"name": name, "running": False})
        return out

    def _ask_broker(self) -> None:
        endpoints, why = self.endpoints()
        if endpoints is None:
            self.broker.error = f"broker not asked: {why}"
            return
        b = self.broker
        try:
            with AlpacaRestClient(endpoints, timeout=5.0, max_retries=0) as rest:
                c = rest.get_clock()
                mono = self.mono()
                if b.clock_ms is not None and mono > b.read_at and c.is_open and b.is_open:
                    b.speed = max(0.0, (c.timestamp_ms - b.clock_ms) / 1000 / (mono - b.read_at))
                b.clock_ms, b.read_at, b.is_open = c.timestamp_ms, mono, c.is_open
                b.next_open, b.next_close = c.next_open.isoformat(), c.next_close.isoformat()
                b.positions = [
                    {"symbol": p.symbol, "qty": p.signed_qty, "entry": p.avg_entry_price,
                     "price": p.current_price, "pl": p.unrealized_pl}
                    for p in sorted(rest.get_positions(), key=lambda p: p.symbol) if p.qty
                ]  # fmt: skip
                a = rest.get_account()
                b.equity = a.equity
                b.pnl_today = None if not a.last_equity else a.equity - a.last_equity
                b.error = None
        except TraderError as e:
            b.error = f"broker: {e}"

    def trades(self, day: str | None) -> tuple[int, list[dict[str, Any]]]:
        """The day's fill count and its latest fills (newest first)."""
        if not day or not self.paths.journal.is_file():
            return 0, []
        try:
            db = sqlite3.connect(f"file:{self.paths.journal}?mode=ro", uri=True, timeout=1.0)
            db.row_factory = sqlite3.Row
            try:
                n = db.execute("SELECT COUNT(*) FROM fills WHERE session_date=?", (day,)).fetchone()[0]
                rows = db.execute("SELECT t_ms, symbol, side, qty, price FROM fills WHERE session_date=?"
                                  " ORDER BY t_ms DESC, rowid DESC LIMIT ?", (day, TRADES_SHOWN)).fetchall()  # fmt: skip
                halts = db.execute("SELECT COUNT(*) FROM events WHERE session_date=? AND kind='halt'", (day,)).fetchone()[0]
            finally:
                db.close()
        except sqlite3.Error:
            return 0, []
        self._halts = int(halts)
        return int(n), [dict(r) for r in rows]

    def snapshot(self) -> dict[str, Any]:
        mono = self.mono()
        if mono >= self._next_broker:
            self._next_broker = mono + self.broker_every_s
            self._ask_broker()
        st = engine_state(self.paths) or {}
        run = latest_run(self.paths) or {}
        day = st.get("session_date") or run.get("session_date")
        self._halts = 0
        n_trades, trades = self.trades(day)
        now = self.broker.now_ms(mono)
        lag_s = feed_lag_s(now, st.get("last_t_ms"))
        snap = {"mode": str(self.paths.mode), "processes": self.processes(), "engine": st, "run": run, "day": day,
                "now_ms": now, "lag_s": lag_s, "broker": self.broker, "n_trades": n_trades, "trades": trades,
                "halts": self._halts}  # fmt: skip
        snap["warnings"] = warnings(snap)
        return snap

    # ------------------------------------------------------------------ drawing

    def render(self, snap: dict[str, Any] | None = None) -> Group:
        return render(snap if snap is not None else self.snapshot())


def warnings(snap: dict[str, Any]) -> list[str]:
    out = []
    b: BrokerView = snap["broker"]
    st, run = snap["engine"], snap["run"]
    running = {p["name"] for p in snap["processes"] if p.get("running")}
    if b.error:
        out.append(b.error)
    for name, c in sorted((run.get("children") or {}).items()):
        if c.get("state") == "FATAL":
            out.append(f"FATAL: the {name} keeps failing ({c.get('why', '')})")
    if st.get("halted") or snap.get("halts"):
        out.append("KILL SWITCH: the engine halted today (no new positions)")
    lag = snap.get("lag_s")
    if b.is_open and ENGINE in running and lag is not None and lag > STALE_AFTER_S:
        out.append(f"STALE DATA: the engine's last minute ended {lag:.0f} s ago (broker time)")
    if b.is_open and st.get("phase") == "trading" and st.get("trade_stream") == "down":
        out.append("the trade-updates stream is down: the engine polls orders over REST")
    if b.is_open and LAUNCHER in running and ENGINE not in running:
        out.append("the market is open and the engine is not running")
    if b.is_open is False and b.positions and run.get("ending"):
        out.append(f"{len(b.positions)} position(s) open after the session")
    return out


def _dur(s: float) -> str:
    s = int(s)
    h, rest = divmod(s, 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


def _signed(x: float | None) -> Text:
    if x is None:
        return Text("n/a")
    return Text(money(x, signed=True), style="green" if x > 0 else ("red" if x < 0 else ""))


def render(snap: dict[str, Any]) -> Group:
    b: BrokerView = snap["broker"]
    st, run = snap["engine"], snap["run"]
    now = snap.get("now_ms")
    if now is None:
        market = "market: unknown"
    else:
        market = f"broker time {iso_ny(now)[11:19]} ET, market {'OPEN' if b.is_open else 'closed'}"
        if b.speed > 1.5:
            market += f" (clock x{b.speed:.0f})"
    head = Text.assemble((f"{snap['mode']} mode", "bold"), f"  {snap.get('day') or ''}  {market}")

    procs = Table(title="Processes", expand=False)
    for col in ("process", "pid", "up", "CPU", "memory", "supervisor"):
        procs.add_column(col)
    children = run.get("children") or {}
    for p in snap["processes"]:
        sup = children.get(p["name"], {})
        state = str(sup.get("state", ""))
        sup_text = Text(f"{state} ({sup.get('restarts', 0)} restarts)" if state else "",
                        style="bold red" if state == "FATAL" else "")  # fmt: skip
        if p.get("running"):
            procs.add_row(p["name"], str(p["pid"]), _dur(p["uptime_s"]), f"{p['cpu_percent']:.0f}%",
                          f"{p['rss_mb']:.0f} MB", sup_text)  # fmt: skip
        else:
            procs.add_row(p["name"], "-", "-", "-", "-", sup_text or Text("not running", style="dim"))

    eng = Table(title="Engine and strategy", show_header=False)
    eng.add_column("what")
    eng.add_column("value")
    if st:
        lag = snap.get("lag_s")
        eng.add_row("phase", f"{st.get('phase')}" + (" — HALTED" if st.get("halted") else ""))
        eng.add_row("last minute", f"{st.get('last_minute') or 'none yet'}"
                    + ("" if lag is None or not b.is_open else f"  (feed lag {lag:.0f} s)"))  # fmt: skip
        d = st.get("last_decision") or {}
        eng.add_row("state", str(d.get("summary", "-")))
        targets = {s: q for s, q in (d.get("targets") or {}).items() if q}
        eng.add_row("targets", ", ".join(f"{s} {q}" for s, q in sorted(targets.items())) or "flat")
        eng.add_row("trade stream", str(st.get("trade_stream", "-")))
    else:
        eng.add_row("engine", "no state.json yet")

    pos = Table(title=f"Positions (day P&L {money(b.pnl_today, signed=True) if b.pnl_today is not None else 'n/a'})")
    for col in ("symbol", "qty", "entry", "price", "P&L"):
        pos.add_column(col, justify="right" if col != "symbol" else "left")
    for p in b.positions:
        pos.add_row(p["symbol"], f"{p['qty']:g}", money(p["entry"]),
                    "n/a" if p["price"] is None else money(p["price"]), _signed(p["pl"]))  # fmt: skip
    if not b.positions:
        pos.add_row("none", "", "", "", "")

    trades = Table(title=f"Today's trades ({snap['n_trades']} fills, latest first)")
    for col in ("time", "side", "qty", "symbol", "price"):
        trades.add_column(col)
    for t in snap["trades"]:
        trades.add_row(iso_ny(int(t["t_ms"]))[11:19], t["side"].upper(), f"{t['qty']:g}", t["symbol"],
                       f"{t['price']:,.4f}")  # fmt: skip
    warn = snap["warnings"]
    warn_panel = Panel(Text("\n".join(warn), style="bold red") if warn else Text("none", style="green"),
                       title="Warnings")  # fmt: skip
    foot = Text(f"refreshed {time.strftime('%H:%M:%S')} (machine time); Ctrl-C to leave", style="dim")
    return Group(head, procs, eng, pos, trades, warn_panel, foot)


def run_watch(paths: ModePaths, endpoints: EndpointsFn, *, interval_s: float = 2.0,
              console: Console | None = None, stop_after: int | None = None) -> int:  # fmt: skip
    """Draw and refresh until Ctrl-C (or ``stop_after`` refreshes); exit code 0."""
    watch = Watch(paths, endpoints)
    n = 0
    try:
        with Live(watch.render(), console=console, auto_refresh=False, screen=False) as live:
            while stop_after is None or n < stop_after:
                time.sleep(interval_s)
                live.update(watch.render(), refresh=True)
                n += 1
    except KeyboardInterrupt:
        pass
    return 0


__all__ = ["STALE_AFTER_S", "BrokerView", "Watch", "feed_lag_s", "render", "run_watch", "warnings"]

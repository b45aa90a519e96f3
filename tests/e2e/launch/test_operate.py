"""Operating a mock session: the report, the alerts, the live view, end to end.

Two whole PSM sessions of ``make mock`` (the launcher, its bridge and engine, a harness
market it reuses), each driven in lockstep (the market's clock paused and stepped a minute
at a time once the engine has decided the minute before, so both sessions decide and fill
the same whatever the machine's load), run side by side:

- ``up``: alerts by email (a local SMTP server with STARTTLS and a login) and by webhook.
  During it the bridge is frozen (SIGSTOP) long enough for the engine's feed-loss alert, and
  ``launch status --watch`` runs under tmux; a daily loss limit of 0.3 % fires the kill
  switch in the afternoon.
- ``hung``: the same, with a mail server that accepts connections and never answers.

Checked on them: the report's path is printed; headless Chromium draws every chart of it
and its numbers are the journal's, its P&L the broker's to the cent; every alert of the
session reached both servers; the live view showed the session; and with the mail server
hung the orders are exactly those of the session with it up.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from common.calendar import MINUTE_MS, ny_datetime, nyse, to_ms
from common.config import apply_params, default_config_json, original_config_json
from launch.mock_market import mock_keys
from launch.report_charts import CHARTS
from mockmarket.harness import run_market
from tests.support.alert_servers import USER, black_hole, smtp_server, webhook_server
from tests.support.browser import rendered
from tests.support.processes import Proc, poll

from .conftest import DAY, SEED, SESSIONS, Home, Market

pytestmark = pytest.mark.slow

SESSION = nyse().session(DAY)
FREEZE_AT = to_ms(ny_datetime(DAY, "10:00"))
"""After the engine decided this minute the bridge is frozen until the feed-loss alert arrives."""
WATCH_AT = to_ms(ny_datetime(DAY, "10:30"))
"""...and here the live view is read."""
PSM_STATES = ("CASH_ONLY", "SPY_ONLY", "SPXL_ONLY", "BASE_BULL_3X", "SH_ONLY", "SDS_ONLY", "BASE_BEAR_2X")
TMUX = shutil.which("tmux")


@dataclass
class Run:
    name: str
    home: Home
    market: Market
    code: int = -1
    out: str = ""
    pane: str = ""
    hook: Any = None
    smtp: Any = None
    alert_env: dict[str, str] = field(default_factory=dict)


def _tmux(sock: str, *args: str, env: dict[str, str] | None = None) -> str:
    assert TMUX is not None
    r = subprocess.run([TMUX, "-L", sock, *args], capture_output=True, text=True, timeout=30, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _decided(home: Home, t: int) -> bool:
    rec, st = home.record("engine"), home.state()
    return rec is None or not rec.is_running() or bool(st and st.get("pid") == rec.pid and (st.get("last_t_ms") or 0) >= t)


def _freeze_bridge_until_the_feed_alert(run: Run) -> None:
    rec = run.home.record("bridge")
    assert rec is not None and rec.is_running()
    os.kill(rec.pid, signal.SIGSTOP)
    try:
        run.hook.wait_for(lambda posts: any(p["kind"] == "feed_lost" for p in posts), 60)
    finally:
        os.kill(rec.pid, signal.SIGCONT)


def _read_the_watch(run: Run, sock: str) -> None:
    want = ("mock mode", "2025-10-16", "market OPEN", "RUNNING", "trading", "Today's trades (", "Warnings")

    def screen() -> str | None:
        text = _tmux(sock, "capture-pane", "-p", "-t", "watch")
        return text if all(w in text for w in want) and any(s in text for s in PSM_STATES) else None

    run.pane = poll(screen, 60, "the live view to show the session", every=0.3)


def lockstep(home: Home, market: Market, launcher: Proc, on_minute: Callable[[int], None] = lambda _t: None) -> int:
    """Step the paused clock a minute at a time, each step once the engine has decided the
    minute before (``on_minute(t)`` then), until the launcher ends; its exit code."""
    now = market.now_ms()
    deadline = time.monotonic() + 400
    while launcher.alive():
        assert time.monotonic() < deadline, "the session did not end in lockstep"
        if now >= SESSION.close_ms + MINUTE_MS:  # past the close: the launcher winds down
            time.sleep(0.05)
            continue
        market.clock(action="step", seconds=60)
        now += MINUTE_MS
        closed = now // MINUTE_MS * MINUTE_MS - MINUTE_MS
        if not SESSION.contains_minute(closed):
            continue
        poll(lambda t=closed: _decided(home, t) or not launcher.alive(), 60,
             f"the engine to decide {closed}", every=0.005)  # fmt: skip
        on_minute(closed)
    return launcher.wait(120)


def play(run: Run, *, watch: bool) -> Run:
    """The launcher's session, in lockstep from 09:29:30 to its end."""
    home, market = run.home, run.market
    home.env.update(run.alert_env)
    market.clock(action="step", seconds=30)  # steps land mid-minute, past each bar's publication (+1 s)
    launcher = home.launch("--strategy", "psm", "--skip-optimize", "--download-sessions", "20")
    sock = f"operate-{os.getpid()}-{run.name}"

    def on_minute(closed: int) -> None:
        if closed == FREEZE_AT:
            _freeze_bridge_until_the_feed_alert(run)
        if watch and closed == WATCH_AT:
            _read_the_watch(run, sock)

    try:
        home.wait_trading(launcher, timeout=120)
        if watch:
            cmd = (f"cd {home.dir} && exec {sys.executable} -m launch status --watch --mode mock "
                   f"--interval 0.5 --market-state {home.market_state}")  # fmt: skip
            _tmux(sock, "new-session", "-d", "-s", "watch", "-x", "160", "-y", "70", cmd, env=home.env)
        run.code = lockstep(home, market, launcher, on_minute)
        run.out = launcher.output()
    finally:
        if watch:
            with contextlib.suppress(AssertionError, OSError, subprocess.SubprocessError):
                _tmux(sock, "kill-server")
    return run


@pytest.fixture(scope="module")
def sessions(tmp_path_factory, market_files, history):
    root = tmp_path_factory.mktemp("operate")
    key, secret = mock_keys()
    # the ported tuning trades from the first warm minutes (no cost gate to wait on): a day
    # with many fills and a kill switch; these sessions test the operation, not the edge
    cfg = apply_params(original_config_json("psm"), {"risk.daily_loss_limit_pct": 0.003}, source="test",
                       strategy="psm")  # fmt: skip
    with contextlib.ExitStack() as stack:
        runs: dict[str, Run] = {}
        for name in ("up", "hung"):
            tmp = root / name
            running = stack.enter_context(run_market(
                tmp / "market", data_dir=market_files(DAY), seed=SEED, sessions=SESSIONS, date=DAY.isoformat(),
                start_time="09:29", speed=300.0, extra_args=["--paused", "--correction-rate", "0"],
                key=key, secret=secret,
            ))  # fmt: skip
            home = Home(tmp, running.state_file)
            stack.callback(home.close)
            shutil.copytree(history(running, DAY), home.data_dir / "equities")
            home.write_config(cfg)
            market = Market(running.state_file)
            stack.callback(market.close)
            run = runs[name] = Run(name, home, market)
            run.hook = stack.enter_context(webhook_server())
            if name == "up":
                run.smtp = stack.enter_context(smtp_server(tmp))
                smtp_env = run.smtp.env()
            else:
                port = stack.enter_context(black_hole())
                smtp_env = {"ALERT_SMTP_HOST": "127.0.0.1", "ALERT_SMTP_PORT": str(port),
                            "ALERT_EMAIL_TO": "trader@example.com"}  # fmt: skip
            run.alert_env = {**smtp_env, "ALERT_WEBHOOK_URL": run.hook.url, "ALERT_FEED_SILENCE_S": "5",
                             "ALERT_TIMEOUT_S": "3"}  # fmt: skip
        with ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(play, runs["up"], watch=TMUX is not None),
                       pool.submit(play, runs["hung"], watch=False)]
            for f in futures:
                f.result()
        yield runs


def _journal_fills(home: Home) -> list[Any]:
    return home.journal("SELECT client_order_id, qty, price FROM fills WHERE session_date=? "
                        "ORDER BY t_ms, created_ms, cum_qty", DAY.isoformat())  # fmt: skip


def test_the_report_path_is_printed_every_chart_draws_and_its_numbers_are_the_journals(sessions):
    up = sessions["up"]
    assert up.code == 0, up.out[-4000:]
    m = re.search(r"Session report: (\S+)", up.out)
    assert m and m.group(1) == "logs/mock_trading/reports/report_2025-10-16_psm.html", up.out[-2000:]
    page = rendered(up.home.dir / m.group(1))
    assert page.charts_drawn == len(CHARTS)
    assert all(page.charts.get(c, 0) > 0 for c in CHARTS), page.charts
    fills = _journal_fills(up.home)
    assert len(fills) > 10 and int(page.values["fills"]) == len(fills)
    assert [(t["cid"], float(t["qty"]), float(t["price"])) for t in page.trades] == \
        [(f["client_order_id"], f["qty"], f["price"]) for f in fills]  # fmt: skip
    orders = up.home.journal("SELECT COUNT(*) AS n FROM orders WHERE session_date=?", DAY.isoformat())[0]["n"]
    assert int(page.values["orders"]) == orders
    traded = sum(f["qty"] * f["price"] for f in fills)
    assert math.isclose(float(page.values["traded_value"]), traded, rel_tol=1e-12)
    # the P&L the curve ends on is the broker's, to the cent
    acct = up.market.rest.get_account()
    assert acct.last_equity is not None
    assert abs(float(page.values["pnl"]) - (acct.equity - acct.last_equity)) < 0.01
    assert abs(float(page.values["broker_pnl"]) - (acct.equity - acct.last_equity)) < 0.01
    assert page.values["end_positions"] == "{}"
    assert "HALT (kill switch)" in page.dom and "feed" in page.dom  # the day's events


def test_every_alert_of_the_session_reached_the_mail_server_and_the_webhook(sessions):
    up = sessions["up"]
    kinds = set(up.hook.kinds())
    assert {"fill", "kill_switch", "feed_lost", "session_summary"} <= kinds, kinds
    summary = next(p for p in up.hook.posts if p["kind"] == "session_summary")
    assert "Session summary — psm, 2025-10-16" in summary["text"] and "report_2025-10-16_psm.html" in summary["text"]
    assert summary["mode"] == "mock" and summary["strategy"] == "psm" and summary["session_date"] == "2025-10-16"
    mails = up.smtp.wait_for(lambda ms: any("session summary" in m.subject for m in ms))
    assert all(m.tls and m.login == USER for m in mails)
    body = "\n".join(m.body for m in mails)
    for what in ("HALT (kill switch)", "no bars and no heartbeats", "Session summary — psm", " @ $"):
        assert what in body, what
    assert up.smtp.kinds() == kinds  # every alert went both ways
    # fills: every journaled fill is in some alert
    alerted = {f["client_order_id"] for p in up.hook.posts if p["kind"] == "fill" for f in p["detail"]["fills"]}
    assert alerted == {f["client_order_id"] for f in _journal_fills(up.home)}


def test_the_live_view_showed_the_running_session(sessions):
    if TMUX is None:
        pytest.skip("tmux is not installed (make tools installs Debian's package)")
    pane = sessions["up"].pane
    assert "mock mode  2025-10-16  broker time 10:" in pane
    assert re.search(r"engine\s+│\s+\d+", pane) and re.search(r"bridge\s+│\s+\d+", pane)
    assert "RUNNING (0 restarts)" in pane and "trading" in pane
    assert re.search(r"Today's trades \(\d+ fills", pane)


def test_with_the_mail_server_hung_the_orders_are_those_of_the_session_with_it_up(sessions):
    up, hung = sessions["up"], sessions["hung"]
    assert hung.code == 0, hung.out[-4000:]

    def orders(run: Run) -> list[tuple]:
        return [(o.client_order_id, o.symbol, o.side, o.qty, o.status, o.filled_qty, o.filled_avg_price)
                for o in run.market.orders(DAY)]  # fmt: skip

    assert orders(hung) == orders(up) and len(orders(up)) > 10
    # the webhook still told everything; the mail server got nothing and the log says why
    assert {"fill", "kill_switch", "feed_lost", "session_summary"} <= set(hung.hook.kinds())
    assert "alerts: email delivery failed (SMTP 127.0.0.1:" in hung.home.launch_log()


def test_positions_found_at_the_start_and_left_after_the_close_are_alerted(home, market, webhook, smtp):
    """The launcher finds 10 SPY (bought by hand), the engine takes them over and flattens them
    at the end of day; a last purchase by hand after that is still held at the close."""
    m = market("15:50", speed=300.0, paused=True)
    m.rest.submit_order(symbol="SPY", qty=10, side="buy", client_order_id="by-hand-1")
    m.clock(action="step", seconds=90)  # 15:51:30: filled at 15:51's open
    poll(lambda: m.positions() == {"SPY": 10.0}, 30, "the hand-made position")
    home.write_config(default_config_json("psm"))
    hook = webhook
    home.env.update({**smtp.env(), "ALERT_WEBHOOK_URL": hook.url, "ALERT_FEED_SILENCE_S": "60"})
    launcher = home.launch("--strategy", "psm", "--skip-optimize", "--download-sessions", "20")
    home.wait_trading(launcher, timeout=120)
    eod = to_ms(ny_datetime(DAY, "15:58"))

    def buy_after_the_end_of_day(closed: int) -> None:
        if closed == eod:  # 15:59:30 now; fills at the close
            m.rest.submit_order(symbol="SPY", qty=5, side="buy", client_order_id="by-hand-2")

    code = lockstep(home, m, launcher, buy_after_the_end_of_day)
    out = launcher.output()
    assert code == 3, out[-4000:]  # the engine halted: not flat after the close
    hook.wait_for(lambda posts: any(p["kind"] == "session_summary" for p in posts))
    kinds = hook.kinds()
    assert {"positions_at_start", "reconciliation", "fill", "positions_after_close"} <= set(kinds), kinds
    assert kinds.count("positions_after_close") == 1
    start = next(p for p in hook.posts if p["kind"] == "positions_at_start")
    assert start["detail"]["positions"] == {"SPY": 10.0} and "SPY: LONG 10 shares" in start["text"]
    took = next(p for p in hook.posts if p["kind"] == "reconciliation")
    assert "SPY 10 -> SPY_ONLY" in took["text"]
    after = next(p for p in hook.posts if p["kind"] == "positions_after_close")
    assert "SPY 5" in after["text"]
    assert "Found 1 existing position(s):" in out and "Session report:" in out
    smtp.wait_for(lambda mails: any("session summary" in m.subject for m in mails))
    assert smtp.kinds() == set(kinds)  # by email too

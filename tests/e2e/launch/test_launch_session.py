"""``make mock`` on a fresh clone: the launcher starts its own market, downloads the
history, waits for 09:30 simulated time, then plays the whole session through the bridge
and the engine, prints the summary, stops the market it started and exits 0."""

from __future__ import annotations

import re
import shutil
from datetime import datetime, time

from common.calendar import NY, iso_ny, ny_datetime, to_ms
from common.config import default_config_json
from launch.mock_market import read_market_state
from launch.report_charts import CHARTS
from tests.support.browser import rendered
from tests.support.processes import poll

from .conftest import DAY, SEED, SESSIONS, Home, Market


def test_a_whole_mock_session_from_a_fresh_clone(home: Home, market_files):
    home.write_config(default_config_json("rotation"))
    # the synthetic market's files as mockmarket generates them (made once per test session)
    shutil.copytree(market_files(DAY), home.path("data/mockmarket/equities"))
    # 40 simulated minutes (40 wall seconds at 60x) before the open: the download and the
    # checks fit in them on a loaded machine too (the test then skips ahead)
    launcher = home.launch("--date", DAY.isoformat(), "--seed", str(SEED), "--start-time", "08:50",
                           "--speed", "60", "--download-sessions", str(SESSIONS - 1),
                           "--skip-optimize")  # fmt: skip
    # it waits for the open, saying so, and starts the processes only then
    line = poll(lambda: re.search(r"the market opens at 09:30 ET; starting the bridge and the engine "
                                  r"at (\d\d:\d\d:\d\d) ET", home.launch_log()),
                60, "the countdown before the open")  # fmt: skip
    market = Market(home.market_state)
    try:
        # time passes faster for the test than for an operator: on to just before the start
        start_at = to_ms(datetime.combine(DAY, time.fromisoformat(line.group(1)), tzinfo=NY))
        if market.now_ms() < start_at - 5_000:
            market.clock(action="set_time", time=iso_ny(start_at - 5_000))
        st = home.wait_trading(launcher)
        assert st["last_t_ms"] is None  # up before the first bar
        market.clock(action="set_speed", speed=1500)  # the day, fast
        open_ms = to_ms(ny_datetime(DAY, "09:30"))
        st = poll(lambda: (s := home.state()) and (s.get("last_t_ms") or 0) >= open_ms and s, 60,
                  "the engine's first decision")  # fmt: skip
        first = home.journal("SELECT MIN(t_ms) AS t FROM decisions WHERE session_date=?", DAY.isoformat())
        assert first[0]["t"] == open_ms, iso_ny(first[0]["t"])
        assert st["phase"] == "trading"
        code = launcher.wait(120)
        out = launcher.output()
        assert code == 0, out[-4000:]
    finally:
        market.close()
    # flat after the close (the market is gone: the engine's snapshot and journal tell)
    st = home.state()
    assert st is not None and st["phase"] == "done" and st["positions"] == {}
    assert home.journal("SELECT COUNT(*) AS n FROM fills")[0]["n"] > 0
    # what the operator saw: the wait, then the processes, started before the open
    assert out.index("starting the bridge and the engine at") < out.index("engine: STOPPED -> STARTING")
    started = re.search(r"rotation engine: session 2025-10-16 .* broker time 2025-10-16T(\d\d:\d\d)", home.trader_log())
    assert started and "09:24" <= started.group(1) < "09:30", started
    assert "downloading" in out and "No existing positions - clean start" in out
    assert "Session summary — rotation, 2025-10-16 (session over, flat)" in out
    assert "Orders sent:" in out and "Restarts: engine 0, bridge 0" in out
    assert "stopping the mock market" in out
    # the market it started is gone, and so is everything else it ran
    assert read_market_state(home.market_state) is None
    assert home.ours() == [] and home.record("engine") is None and home.record("launcher") is None
    # files where design.md puts them, with stable links to the latest logs
    assert len(list((home.data_dir / "equities").glob("*_RTH_NH.csv"))) == 12
    assert "downloading 21 of 21 sessions (2025-09-17..2025-10-15) for 12 symbols" in out
    for name in ("launch", "bridge", "trader", "mockmarket"):
        link = home.log_dir / f"{name}.log"
        assert link.is_symlink() and link.resolve().name.startswith(f"{name}_")
    assert "the account is flat: exiting" in home.trader_log()
    # the session report: its path printed, every chart drawn, the broker's P&L to the cent
    report = re.search(r"Session report: (\S+)", out)
    assert report and report.group(1) == "logs/mock_trading/reports/report_2025-10-16_rotation.html"
    page = rendered(home.path(report.group(1)))
    assert page.charts_drawn == len(CHARTS) and all(page.charts.get(c, 0) > 0 for c in CHARTS), page.charts
    change = re.search(r"Equity change today: ([+-])\$([\d,.]+)  \[broker", out)
    assert change, out[-3000:]
    broker = float(change.group(2).replace(",", "")) * (1 if change.group(1) == "+" else -1)
    assert abs(float(page.values["pnl"]) - broker) < 0.01
    fills = home.journal("SELECT COUNT(*) AS n FROM fills")[0]["n"]
    assert int(page.values["fills"]) == len(page.trades) == fills

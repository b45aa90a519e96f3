"""launch.status_watch: what the live view shows and warns about, from a snapshot."""

from __future__ import annotations

from datetime import date

from rich.console import Console

from common.calendar import ny_datetime, to_ms
from launch.status_watch import STALE_AFTER_S, BrokerView, feed_lag_s, render, warnings

T = to_ms(ny_datetime(date(2025, 10, 16), "11:00"))


def snap(**kw) -> dict:
    b = kw.pop("broker", BrokerView(clock_ms=T, is_open=True, read_at=0.0,
                                    positions=[{"symbol": "TQQQ", "qty": 10.0, "entry": 50.0, "price": 51.0, "pl": 10.0}],
                                    equity=100_010.0, pnl_today=10.0))  # fmt: skip
    base = {"mode": "mock", "day": "2025-10-16", "now_ms": T, "lag_s": 5.0, "broker": b, "n_trades": 1,
            "trades": [{"t_ms": T - 60_000, "symbol": "TQQQ", "side": "buy", "qty": 10.0, "price": 50.0}], "halts": 0,
            "processes": [{"name": n, "running": True, "pid": 10 + i, "uptime_s": 65.0, "cpu_percent": 1.0, "rss_mb": 100.0}
                          for i, n in enumerate(("launcher", "engine", "bridge"))],
            "engine": {"phase": "trading", "last_minute": "2025-10-16T10:59:00-04:00", "last_t_ms": T - 60_000,
                       "halted": False, "trade_stream": "up",
                       "last_decision": {"summary": "ROTATION[TQQQ]", "targets": {"TQQQ": 10, "SQQQ": 0}}},
            "run": {"children": {"engine": {"state": "RUNNING", "restarts": 0}, "bridge": {"state": "RUNNING", "restarts": 1}}}}  # fmt: skip
    base.update(kw)
    return base


def text(s: dict) -> str:
    s["warnings"] = warnings(s)
    console = Console(record=True, width=140, color_system=None)
    console.print(render(s))
    return console.export_text()


def test_a_healthy_system_shows_everything_and_warns_of_nothing():
    out = text(snap())
    for part in ("mock mode", "broker time 11:00:00 ET, market OPEN", "engine", "RUNNING (1 restarts)",
                 "ROTATION[TQQQ]", "TQQQ 10", "feed lag 5 s", "day P&L +$10.00", "$51.00", "+$10.00",
                 "Today's trades (1 fills", "10:59:00", "BUY"):  # fmt: skip
        assert part in out, part
    assert warnings(snap()) == []


def test_stale_data_a_fatal_child_the_kill_switch_and_a_missing_engine_are_warned_of():
    s = snap(lag_s=STALE_AFTER_S + 1, halts=1)
    s["run"]["children"]["bridge"] = {"state": "FATAL", "restarts": 3, "why": "killed by signal 9"}
    s["engine"]["trade_stream"] = "down"
    w = warnings(s)
    assert any(x.startswith("STALE DATA") for x in w)
    assert "FATAL: the bridge keeps failing (killed by signal 9)" in w
    assert any(x.startswith("KILL SWITCH") for x in w)
    assert any("trade-updates stream is down" in x for x in w)
    gone = snap(processes=[{"name": "launcher", "running": True, "pid": 1, "uptime_s": 1.0, "cpu_percent": 0.0,
                            "rss_mb": 1.0}, {"name": "engine", "running": False}])  # fmt: skip
    assert "the market is open and the engine is not running" in warnings(gone)
    after = snap(broker=BrokerView(clock_ms=T, is_open=False, positions=[{"symbol": "TQQQ"}]),
                 run={"ending": "session over", "children": {}})  # fmt: skip
    assert "1 position(s) open after the session" in warnings(after)
    assert "KILL SWITCH" in text(s) and "FATAL (3 restarts)" in text(s)


def test_the_clock_moves_on_between_reads_at_the_measured_pace():
    b = BrokerView(clock_ms=T, is_open=True, read_at=100.0, speed=60.0)
    assert b.now_ms(101.0) == T + 60_000
    b.is_open = False  # a closed market's clock is not extrapolated at a replay's pace
    assert b.now_ms(101.0) == T + 1_000
    assert BrokerView().now_ms(5.0) is None


def test_the_feed_lag_is_broker_time_past_the_end_of_the_last_minute_never_negative():
    assert feed_lag_s(T + 5_000, T - 60_000) == 5.0
    assert feed_lag_s(T - 28_000, T - 60_000) == 0.0  # the clock carried forward before its pace was known
    assert feed_lag_s(None, T) is None and feed_lag_s(T, None) is None

"""After the close, and on a holiday, the launcher says so and exits 0 without starting anything."""

from __future__ import annotations

from common.config import default_config_json

from .conftest import Home


def test_after_the_close_and_on_a_holiday_it_exits_0_with_a_clear_message(home: Home, market):
    m = market("16:05", speed=60.0, paused=True)
    home.write_config(default_config_json("rotation"))
    after_close = home.launch("--download-sessions", "20")
    assert after_close.wait(60) == 0, after_close.output()[-3000:]
    out = after_close.output()
    assert "the 2025-10-16 session closed at 16:00 ET (broker time 16:05): nothing to trade until the next open, 2025-10-17T09:30:00-04:00" in out
    assert "positions are still open" not in out
    assert "the mock market (pid" in out and "keeps running" in out  # not ours: left alone

    m.clock(action="set_time", time="2025-11-27T10:00:00-05:00")  # Thanksgiving
    holiday = home.launch("--download-sessions", "20")
    assert holiday.wait(60) == 0, holiday.output()[-3000:]
    out = holiday.output()
    assert "the market is closed today (Thursday 2025-11-27, broker time 10:00); next open 2025-11-28T09:30:00-05:00: nothing to do" in out
    assert home.record("engine") is None and not list(home.log_dir.glob("trader_*.log"))
    assert home.record("launcher") is None


def test_keys_the_broker_refuses_are_named_never_shown(home: Home, market):
    m = market("10:00", paused=True)
    home.write_config(default_config_json("rotation"))
    secret = "sk-wrong-secret-0123456789"
    env = {"ALPACA_PAPER_API_KEY": "PKWRONG1234", "ALPACA_PAPER_SECRET_KEY": secret,
           "ALPACA_TRADING_URL": m.base, "ALPACA_DATA_URL": m.base,
           "ALPACA_STREAM_URL": m.base.replace("http", "ws") + "/v2/iex"}  # fmt: skip
    live = home.launch_live(env, "--download-sessions", "20")
    assert live.wait(60) == 2
    out = live.output()
    assert "the broker refused the API keys (HTTP 401)" in out
    assert "check ALPACA_PAPER_API_KEY and ALPACA_PAPER_SECRET_KEY" in out
    logs = "".join(p.read_text() for p in home.dir.rglob("*.log"))
    assert secret not in out + logs and "PKWRONG1234" not in out + logs
    assert home.record("engine") is None

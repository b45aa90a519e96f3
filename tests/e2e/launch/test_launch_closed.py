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

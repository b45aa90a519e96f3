"""A child that keeps crashing ends FATAL: the launcher stops the rest and exits non-zero."""

from __future__ import annotations

import os
import signal

from common.config import default_config_json
from tests.support.processes import poll

from .conftest import Home


def test_an_engine_that_keeps_dying_ends_fatal_and_the_launcher_exits_1(home: Home, market, webhook, smtp):
    market("10:30", speed=60.0, paused=True)
    home.write_config(default_config_json("rotation"))
    home.env.update({**smtp.env(), "ALERT_WEBHOOK_URL": webhook.url})
    launcher = home.launch("--skip-optimize", "--download-sessions", "20")
    killed: list[int] = []

    def kill_each_new_engine() -> bool:
        # the OOM killer, in effect: every engine dies (SIGKILL) within a moment of starting
        rec = home.record("engine")
        if rec is not None and rec.pid not in killed and rec.is_running():
            os.kill(rec.pid, signal.SIGKILL)
            killed.append(rec.pid)
        return not launcher.alive()

    poll(kill_each_new_engine, 90, "the launcher to give up", every=0.01)
    out = launcher.output()
    assert launcher.wait(10) == 1, out[-3000:]
    assert len(killed) == 4  # started, and restarted startretries = 3 times
    assert out.count("engine: STARTING -> BACKOFF (killed by signal 9; restarting in") == 3
    assert "engine: STARTING -> FATAL (killed by signal 9; it failed 4 times in a row within 5 s of starting)" in out
    assert "FATAL: the engine keeps failing" in out
    assert "bridge: RUNNING -> STOPPING" in out or "bridge: STARTING -> STOPPING" in out
    assert "Restarts: engine 3, bridge 0" in out
    assert home.ours() == []
    # and someone was told
    posts = webhook.wait_for(lambda p: {"child_fatal", "session_summary"} <= {x["kind"] for x in p})
    fatal = next(p for p in posts if p["kind"] == "child_fatal")
    assert fatal["subject"] == "engine FATAL" and "it failed 4 times in a row" in fatal["text"]
    mails = smtp.wait_for(lambda ms: any("session summary" in m.subject for m in ms))
    assert {"child_fatal", "session_summary"} <= smtp.kinds()
    assert any("engine FATAL" in m.body and "it failed 4 times in a row" in m.body for m in mails)

"""The launcher SIGKILLed at seeded moments (issue 12, item 1, the third process): during its
own start-up (download, preview, starting the children) or a few milliseconds into a minute
while it supervises, then run again on the paused clock, which stops what the killed one
left and takes over. The session must send exactly the orders and get exactly the fills of
the uninterrupted session (the same pinned config run by the rig, ``--skip-optimize``), with
no duplicate, no lost fill, the journal equal to the broker's order list, flat at the close.

``make chaos`` only (``CHAOS_SESSIONS`` set: a third as many sessions of ``CHAOS_KILLS``
kills each, split by ``CHAOS_SHARD``).
"""

from __future__ import annotations

import os
import random
import signal
import time

import pytest

from common.calendar import from_ms
from tests.support.chaos import PINNED, measure, reference
from tests.support.processes import poll

ROTATION = ("ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA", "UVXY")
START = "15:44"
EOD_STEP = 14

LONG = "CHAOS_SESSIONS" in os.environ
SEED = int(os.environ.get("CHAOS_SEED", "1"))
KILLS = int(os.environ.get("CHAOS_KILLS", "3"))
SESSIONS = max(int(os.environ.get("CHAOS_SESSIONS", "0")) // 3, 1)
SHARD, SHARDS = (int(x) for x in os.environ.get("CHAOS_SHARD", "0/1").split("/"))
MINE = [j for j in range(SESSIONS) if j % SHARDS == SHARD] if LONG else []
ARGS = ("--skip-optimize", "--download-sessions", "20")


def _subscribed(m) -> bool:
    return any(c["subscriptions"].get("bars") for c in m.admin("GET", "/admin/streams")["data"])


@pytest.mark.skipif(not MINE, reason="make chaos only (CHAOS_SESSIONS set), or another shard's")
@pytest.mark.parametrize("j", MINE or [0])
def test_launcher_killed_at_seeded_moments(home, market, rig_factory, e2e, j):
    def rig(**kw):
        r = rig_factory(**kw)
        r.write_config("rotation", **PINNED)
        return r

    ref = reference(rig, "rotation", ROTATION, day=e2e.DAY, start_time=START)
    seed = SEED * 1000 + 700 + j
    rng = random.Random(seed)
    steps = set(rng.sample(range(1, EOD_STEP + 2), min(KILLS, EOD_STEP + 1)))
    m = market(START, speed=300.0, paused=True)
    home.write_config(e2e.strategy_config("rotation", **PINNED))
    m.clock(action="step", seconds=30)
    kills = 0

    def launch():
        """A launcher trading with its bridge subscribed; now and then killed during its own
        start-up first (and launched again)."""
        nonlocal kills
        while True:
            launcher = home.launch(*ARGS)
            if rng.random() < 0.3:
                time.sleep(rng.uniform(0.2, 3.0))
                if launcher.alive():
                    launcher.kill()
                    kills += 1
                    continue
            home.wait_trading(launcher, timeout=120)
            poll(lambda: _subscribed(m), 60, "the bridge to subscribe", every=0.01)
            return launcher

    launcher = launch()
    now = m.now_ms()
    day = e2e.DAY.isoformat()
    close_ms = e2e.at(e2e.DAY, "16:00")
    step = 0
    deadline = time.monotonic() + 900
    while launcher.alive():
        assert time.monotonic() < deadline, "the launcher's session did not end in 900 s"
        step += 1
        m.clock(action="step", seconds=60)
        now += 60_000
        if step in steps:
            time.sleep(rng.uniform(0.0, 0.04))
            launcher.kill()
            kills += 1
            launcher = launch()
        closed = (now // 60_000) * 60_000 - 60_000
        if closed >= close_ms:
            continue

        def decided(t: int = closed, p=launcher) -> bool:
            if not p.alive():
                return True
            rec, st = home.record("engine"), home.state()
            return bool(rec and st and st.get("pid") == rec.pid and (st.get("last_t_ms") or 0) >= t)

        poll(decided, 60, f"the engine to decide {from_ms(closed).isoformat()}", every=0.005)
    assert launcher.wait(30) == 0, launcher.output()[-3000:]
    assert launcher.p.returncode != -signal.SIGKILL

    out = measure("launcher killed (lockstep)", seed, {"launcher": kills}, m.orders(e2e.DAY), home.journal,
                  m.positions(), strategy="rotation", day=day, reference=ref)  # fmt: skip
    out.save()
    assert out.duplicates == 0 and out.lost_fills == 0, str(out)
    assert out.journal_equals_broker and out.flat, str(out)
    assert kills >= KILLS, str(out)
    assert out.identical, (str(out), sorted(set(out.orders) ^ set(ref.orders)), sorted(set(out.fills) ^ set(ref.fills)))

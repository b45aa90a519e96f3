"""A whole mock session at high speed: every minute once, in order, complete, filled ones marked."""

from __future__ import annotations

from datetime import date

from common.calendar import from_ms, nyse
from common.env import load_endpoints
from common.rest import AlpacaRestClient


def test_a_whole_session_arrives_minute_by_minute(rig_factory, helpers):
    rig = rig_factory(speed=2400.0, start_time="09:29", extra_args=["--paused"])
    bridge = rig.start_bridge("--silence-min", "10")  # a loaded machine must not look like a silent feed
    reader = rig.start_reader()
    # start the clock only once the bridge is subscribed, so it sees the session from 09:30
    helpers.poll(lambda: any(h["connected"] for h in rig.received().heartbeats), 30, "a connected heartbeat")
    clock = rig.clock(action="resume")
    session = nyse().session(date.fromisoformat(clock["replay_date"]))
    rig.market.wait_until(session.close_ms + 2_000, timeout=120)
    last = session.close_ms - 60_000
    helpers.poll(lambda: last in rig.received().minutes, 10, "the 15:59 batch")
    assert bridge.terminate() == 0
    reader.terminate()

    rec = rig.received()
    helpers.assert_clean(rec)
    assert rec.minutes == list(session.minutes()), "not every session minute exactly once"
    # the real bars are exactly those the market has (REST), the others are filled
    endpoints = load_endpoints(None, rig.market.env())
    with AlpacaRestClient(endpoints) as rest:
        history = rest.get_bars(helpers.ROTATION, from_ms(session.open_ms), from_ms(session.close_ms - 60_000))
    has_bar = {(s, b.t) for s, bars in history.items() for b in bars}
    filled = 0
    for batch in rec.batches:
        for x in batch["bars"]:
            assert x["filled"] == ((x["symbol"], batch["t"]) not in has_bar), (x["symbol"], batch["t"])
            filled += x["filled"]
    assert 0 < filled < len(rec.batches) * len(helpers.ROTATION) // 2  # the synthetic market has thin symbols
    assert rig.counters()["data_connections_total"] == 1
    log = next(rig.log_dir.glob("bridge_*.log")).read_text()
    assert "bridge exited cleanly" in log and rig.market.secret not in log

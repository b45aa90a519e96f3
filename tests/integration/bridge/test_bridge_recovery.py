"""Mid-session faults: each recovers with no crash and no duplicate or out-of-order minute."""

from __future__ import annotations

import json
import os
import re

from common.bars import MINUTE_MS


def gaps(ts: list[int]) -> list[tuple[int, int]]:
    """(after, before) pairs around each run of missing minutes."""
    return [(a, b) for a, b in zip(ts, ts[1:], strict=False) if b - a != MINUTE_MS]


def test_reader_killed_and_restarted(rig_factory, helpers):
    rig = rig_factory(extra_args=["--paused"])
    bridge, reader = rig.start_all()
    rec = rig.wait_minutes(3)
    reader.kill()
    last_seen = rec.minutes[-1]
    # the bridge goes on without a reader: its lines wait in its buffer
    rig.market.wait_until(last_seen + 5 * MINUTE_MS, timeout=30)
    rig.start_reader()
    rec = rig.wait_new_minutes(last_seen, 6)
    assert bridge.alive()
    assert bridge.terminate() == 0
    helpers.assert_clean(rec)
    # minutes written while no reader was attached were delivered when it came back; at most the
    # one line sitting unread in the pipe at the moment of the kill may be lost
    assert all(a == last_seen and b - a <= 2 * MINUTE_MS for a, b in gaps(rec.minutes)), gaps(rec.minutes)
    # the writer saw the reader go (EPIPE), then waited for one, buffering, then handed over
    # what it had kept when the new reader attached
    log = rig.bridge_log()
    assert "went away" in log, log[-2000:]
    after = log[log.index("went away") :]
    assert "no reader on FIFO" in after and "buffering up to" in after, after[-2000:]
    assert re.search(r"reader attached to FIFO \S+ \([1-9][0-9]* line\(s\) waiting\)", after), after[-2000:]


def test_bridge_killed_and_restarted(rig_factory, helpers):
    rig = rig_factory(extra_args=["--paused"])
    bridge, reader = rig.start_all()
    rec = rig.wait_minutes(3)
    bridge.kill()
    last_seen = rec.minutes[-1]
    rig.market.wait_until(last_seen + 3 * MINUTE_MS, timeout=30)
    bridge2 = rig.start_bridge()
    rec = rig.wait_new_minutes(last_seen, 4)
    assert reader.alive(), "the reader must survive the writer's death"
    assert bridge2.terminate() == 0
    helpers.assert_clean(rec)
    after = [t for t in rec.minutes if t > last_seen]
    assert helpers.contiguous(after)


def test_connection_limit_406_after_a_reconnect(rig_factory, helpers):
    rig = rig_factory(extra_args=["--paused"])
    bridge, reader = rig.start_all()
    rec = rig.wait_minutes(2)
    last_seen = rec.minutes[-1]
    # Alpaca keeps refusing a restarted client while the old socket lingers: 406 for
    # 30 simulated seconds after a disconnect. Pause the clock so the window is certain
    # to still be open when the new bridge authenticates.
    rig.faults(connection_limit_seconds=30)
    rig.clock(action="pause")
    bridge.kill()
    bridge2 = rig.start_bridge()
    helpers.poll(lambda: rig.counters()["data_auth_406"] >= 1, 30, "a 406 at auth")
    rig.clock(action="resume")
    rec = rig.wait_new_minutes(last_seen, 3)
    assert bridge2.alive()
    assert bridge2.terminate() == 0
    helpers.assert_clean(rec)
    log = rig.bridge_log()
    assert "connection limit (406" in log and "retrying in" in log
    assert rig.counters()["data_connections_open"] == 0


def test_silent_socket_is_replaced(rig_factory, helpers):
    rig = rig_factory(extra_args=["--paused"])
    bridge, reader = rig.start_all()
    rec = rig.wait_minutes(4)  # enough minutes for the bridge to know the feed's pace
    rig.faults(silence_open=True)  # pings still answered, no data
    helpers.poll(lambda: rig.counters()["data_connections_total"] >= 2, 30, "a replacement connection")
    last_seen = rig.received().minutes[-1]
    rec = rig.wait_new_minutes(last_seen, 3)
    assert bridge.terminate() == 0
    helpers.assert_clean(rec)
    assert "replacing a silent socket" in rig.bridge_log()
    # the bridge counts it in its state file beside its log (what the launcher's summary reads)
    (state_file,) = rig.log_dir.glob("bridge_*.state.json")
    state = json.loads(state_file.read_text())
    assert state["silent_replaced"] >= 1 and state["reconnects"] >= 1 and state["connections"] >= 2
    assert state["connected"] is False and state["pid"] == bridge.pid and state["batches"] >= 4


def test_handshake_429_mid_session(rig_factory, helpers):
    rig = rig_factory(extra_args=["--paused"])
    bridge, reader = rig.start_all()
    rig.wait_minutes(4)
    # force a reconnect (a silent socket) into two handshakes answered HTTP 429
    rig.faults(handshake_429_count=2, silence_open=True)
    helpers.poll(lambda: rig.counters()["handshake_429"] == 2 and rig.counters()["data_connections_open"] == 1,
                 60, "two 429s then a connection")
    last_seen = rig.received().minutes[-1]
    rec = rig.wait_new_minutes(last_seen, 3)
    assert bridge.terminate() == 0
    helpers.assert_clean(rec)
    assert "HTTP 429" in rig.bridge_log()


def test_fifo_deleted_and_recreated(rig_factory, helpers):
    rig = rig_factory(extra_args=["--paused"])
    bridge, reader = rig.start_all()
    rec = rig.wait_minutes(2)
    # deleted: the bridge recreates it, the reader follows it
    os.unlink(rig.fifo)
    rec = rig.wait_new_minutes(rec.minutes[-1], 3)
    # deleted and recreated by someone else (the same user): the bridge reopens the new one
    os.unlink(rig.fifo)
    os.mkfifo(rig.fifo, 0o600)
    rec = rig.wait_new_minutes(rec.minutes[-1], 3)
    assert bridge.alive() and reader.alive()
    assert bridge.terminate() == 0
    helpers.assert_clean(rec)
    assert "was deleted" in rig.bridge_log()

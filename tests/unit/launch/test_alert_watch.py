"""launch.alert_watch: the journal's new fills and events become alerts, each once, across relaunches."""

from __future__ import annotations

import os
from datetime import date

from common.calendar import ny_datetime, to_ms
from engine.journal import Journal
from launch.alert_config import AlertKind
from launch.alert_watch import JournalWatcher

DAY = date(2025, 10, 16)
T = to_ms(ny_datetime(DAY, "10:00"))


def add_fill(j: Journal, cid: str, side: str = "buy", qty: float = 10, price: float = 50.0, day: date = DAY) -> None:
    j.record_intent(cid, strategy="rotation", session_date=day, t_ms=T, symbol="TQQQ", side=side, qty=qty)
    j.record_fill(cid, execution_id=f"x-{cid}", cum_qty=qty, t_ms=T + 65_000, price=price, qty=qty)


def test_new_fills_and_events_become_alerts_once(tmp_path):
    path, cursor = tmp_path / "journal.sqlite", tmp_path / "run" / "alerts_cursor.json"
    w = JournalWatcher(path, "rotation", DAY, cursor)
    assert w.poll() == []  # no journal yet
    with Journal(path) as j:
        add_fill(j, "a")
        add_fill(j, "b", side="sell", qty=5, price=51.25)
        add_fill(j, "other-day", day=date(2025, 10, 15))
        j.record_event("rotation", DAY, T, "reconciliation", {"holdings": {}, "state": "ROTATION[]", "action": "fresh"})
        j.record_event("rotation", DAY, T, "reconciliation", {"holdings": {"TQQQ": 10.0}, "state": "ROTATION[TQQQ]",
                                                              "action": "keep"})  # fmt: skip
        j.record_event("rotation", DAY, T, "halt", {"reason": "daily loss limit -3.1% <= -3.0%"})
        j.record_event("rotation", DAY, T, "feed_silent", {"message": "no bars and no heartbeats for 31 s"})
        j.record_event("rotation", DAY, T, "trade_stream_down", {"reason": "closed"})
        j.record_event("rotation", DAY, T, "order_rejected", {"client_order_id": "c9", "why": "insufficient"})
        j.record_event("rotation", DAY, T, "not_flat_after_close", {"positions": {"TQQQ": 10.0}})
    alerts = w.poll()
    assert [a.kind for a in alerts] == [AlertKind.FILL, AlertKind.RECONCILIATION, AlertKind.KILL_SWITCH,
                                        AlertKind.FEED_LOST, AlertKind.ERROR, AlertKind.POSITIONS_AFTER_CLOSE]  # fmt: skip
    fills = alerts[0]
    assert fills.subject == "2 fills" and [f["client_order_id"] for f in fills.detail["fills"]] == ["a", "b"]
    assert fills.text.splitlines() == ["10:01:05 BUY 10 TQQQ @ $50.0000", "10:01:05 SELL 5 TQQQ @ $51.2500"]
    assert alerts[2].text == "HALT (kill switch): daily loss limit -3.1% <= -3.0%"
    assert alerts[3].text == "no bars and no heartbeats for 31 s"
    assert "TQQQ 10" in alerts[1].text and "TQQQ 10" in alerts[5].text
    assert w.poll() == []  # each row once
    with Journal(path) as j:
        add_fill(j, "c")
    # a relaunched launcher goes on where the last one stopped
    again = JournalWatcher(path, "rotation", DAY, cursor)
    (only,) = again.poll()
    assert only.kind is AlertKind.FILL and only.detail["fills"][0]["client_order_id"] == "c"


def test_a_journal_seen_for_the_first_time_is_read_from_its_end(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(path) as j:
        add_fill(j, "old")
    w = JournalWatcher(path, "rotation", DAY, tmp_path / "cursor.json")
    assert w.poll() == []
    # a new journal in its place (a new mock account archived the old one): all of it is new
    os.replace(path, tmp_path / "archived.sqlite")
    with Journal(path) as j:
        add_fill(j, "new")
    (a,) = w.poll()
    assert a.detail["fills"][0]["client_order_id"] == "new"


def test_a_journal_the_engine_is_still_creating_is_nothing_yet_not_an_error(tmp_path, caplog):
    import sqlite3

    path = tmp_path / "journal.sqlite"
    w = JournalWatcher(path, "rotation", DAY, tmp_path / "cursor.json")
    sqlite3.connect(path).close()  # the file exists, its tables do not yet
    with caplog.at_level("WARNING", logger="launch.alert_watch"):
        assert w.poll() == []
    assert caplog.records == [] and w.errors == 0
    with Journal(path) as j:
        add_fill(j, "a")
    (only,) = w.poll()
    assert only.kind is AlertKind.FILL and only.detail["fills"][0]["client_order_id"] == "a"

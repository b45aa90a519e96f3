"""launch.summary: the session summary's figures, each from where it says."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest

from bridge.state_file import StateFile, state_path_for
from launch.summary import (
    Fill,
    JournalTally,
    SessionSummary,
    bridge_reconnects,
    read_journal,
    realised_pnl,
)

DAY = date(2025, 10, 16)


def test_realised_pnl_by_average_cost():
    fills = [
        Fill("A", "buy", 100, 10.0),
        Fill("A", "buy", 100, 12.0),  # average 11
        Fill("A", "sell", 50, 13.0),  # +100
        Fill("A", "sell", 150, 10.0),  # -150
        Fill("B", "sell", 10, 20.0),  # a short
        Fill("B", "buy", 10, 18.0),  # +20
    ]
    pnl, still_open = realised_pnl(fills)
    assert pnl == pytest.approx(-30.0) and still_open == {}


def test_a_fill_that_crosses_zero_opens_the_other_side_at_its_price():
    pnl, still_open = realised_pnl([Fill("A", "buy", 10, 10.0), Fill("A", "sell", 15, 11.0),
                                    Fill("A", "buy", 5, 9.0)])  # fmt: skip
    assert pnl == pytest.approx(10.0 + 10.0) and still_open == {}


def test_what_is_still_open_is_not_realised():
    pnl, still_open = realised_pnl([Fill("A", "buy", 10, 10.0), Fill("A", "sell", 4, 12.0)])
    assert pnl == pytest.approx(8.0) and still_open == {"A": 6}


def make_journal(path, orders, fills) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE orders (client_order_id TEXT, strategy TEXT, session_date TEXT, status TEXT)")
    db.execute("CREATE TABLE fills (strategy TEXT, session_date TEXT, symbol TEXT, side TEXT, qty REAL, "
               "price REAL, cum_qty REAL, t_ms INTEGER, created_ms INTEGER)")  # fmt: skip
    db.executemany("INSERT INTO orders VALUES (?, ?, ?, ?)", orders)
    db.executemany("INSERT INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", fills)
    db.commit()
    db.close()


def test_the_journal_is_read_for_one_strategy_and_session(tmp_path):
    path = tmp_path / "journal.sqlite"
    make_journal(path, [
        ("a", "rotation", "2025-10-16", "filled"), ("b", "rotation", "2025-10-16", "filled"),
        ("c", "rotation", "2025-10-16", "canceled"), ("d", "rotation", "2025-10-15", "filled"),
        ("e", "psm", "2025-10-16", "filled"),
    ], [
        ("rotation", "2025-10-16", "TQQQ", "sell", 10, 12.0, 10, 2, 0),
        ("rotation", "2025-10-16", "TQQQ", "buy", 10, 10.0, 10, 1, 0),
        ("rotation", "2025-10-15", "TQQQ", "buy", 10, 99.0, 10, 1, 0),
    ])  # fmt: skip
    t = read_journal(path, "rotation", DAY)
    assert t.orders_by_status == {"filled": 2, "canceled": 1} and t.orders == 3
    assert [(f.side, f.price) for f in t.fills] == [("buy", 10.0), ("sell", 12.0)]  # in time order
    assert t.error is None


def test_a_missing_or_broken_journal_is_said_not_raised(tmp_path):
    assert read_journal(tmp_path / "none.sqlite", "rotation", DAY).error.startswith("no journal at")
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a database")
    assert "cannot read" in read_journal(bad, "rotation", DAY).error


def test_reconnects_are_the_bridge_s_own_count_beside_its_log(tmp_path):
    log = tmp_path / "bridge_x.log"
    log.write_text("... reconnecting to the market-data stream in 1.0 s\n")  # the wording no longer counts
    assert bridge_reconnects(log) is None  # no state file: unknown, not 0
    StateFile(state_path_for(log)).update({"reconnects": 2, "connections": 3}, connected=True, wall_ms=1)
    assert (tmp_path / "bridge_x.state.json").is_file()
    assert bridge_reconnects(log) == 2
    (tmp_path / "bridge_x.state.json").write_text("[1, 2]")
    assert bridge_reconnects(log) is None


def test_the_summary_says_where_each_figure_comes_from():
    tally = JournalTally({"filled": 4}, [Fill("A", "buy", 10, 10.0), Fill("A", "sell", 10, 10.5)])
    lines = SessionSummary("rotation", DAY, "session over, flat", tally, 12.5, 1,
                           {"engine": 0, "bridge": 2}).lines()  # fmt: skip
    assert lines[0] == "Session summary — rotation, 2025-10-16 (session over, flat)"
    text = "\n".join(lines)
    assert "Orders sent: 4 (4 filled); fills: 2  [journal]" in text
    assert "Realised P&L: +$5.00  [today's journal fills, average cost]" in text
    assert "Equity change today: +$12.50  [broker: equity - last_equity]" in text
    assert "Bridge reconnects: 1" in text and "Restarts: engine 0, bridge 2" in text

"""SQLite journal: durability settings, intents before sending, fills without double counting."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from common.errors import OperationalError
from engine.journal import Intent, IntentExistsError, Journal, JournalUnusableError
from tests.support import journal_reads as jr

DAY = date(2025, 10, 16)
T = 1_760_621_400_000  # 09:30 of DAY
REPO = Path(__file__).resolve().parents[3]


def intent(
    j: Journal, cid: str = "it-rot-20251016-0930-TQQQ-b-0", qty: float = 100, side: str = "buy"
) -> str:
    j.record_intent(
        cid,
        strategy="rotation",
        session_date=DAY,
        t_ms=T,
        symbol="TQQQ",
        side=side,
        qty=qty,
        reason="enter",
    )
    return cid


def test_wal_and_synchronous_full(journal: Journal) -> None:
    assert journal._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert journal._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_intent_is_durable_before_sending(journal: Journal, tmp_path: Path) -> None:
    cid = intent(journal)
    other = sqlite3.connect(tmp_path / "journal.sqlite")  # e.g. a relaunched process
    row = other.execute("SELECT status, qty FROM orders WHERE client_order_id=?", (cid,)).fetchone()
    other.close()
    assert row == ("intent", 100.0)
    assert [o.client_order_id for o in journal.open_orders("rotation")] == [cid]


def test_intent_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    code = (
        "import os, signal, sys\n"
        "from datetime import date\n"
        "from engine.journal import Journal\n"
        f"j = Journal({str(path)!r})\n"
        "j.record_intent('it-psm-20251016-0930-SPY-b-0', strategy='psm', session_date=date(2025,10,16),"
        " t_ms=0, symbol='SPY', side='buy', qty=5)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    assert proc.returncode == -signal.SIGKILL
    with Journal(path) as j:
        assert [o.client_order_id for o in j.open_orders()] == ["it-psm-20251016-0930-SPY-b-0"]


def test_an_intent_is_journaled_once(journal: Journal) -> None:
    cid = intent(journal)
    with pytest.raises(IntentExistsError, match=f"{cid} is already journaled"):
        intent(journal, cid)


def test_status_updates_never_leave_a_terminal_status(journal: Journal) -> None:
    cid = intent(journal)
    assert journal.update_order(cid, "sent")
    assert journal.update_order(cid, "new", broker_order_id="b-1")
    assert journal.update_order(cid, "canceled")
    assert not journal.update_order(cid, "new")  # a late event cannot reopen it
    o = journal.order(cid)
    assert o is not None and (o.status, o.broker_order_id, o.is_open) == ("canceled", "b-1", False)
    assert not journal.update_order("nope", "new")
    assert journal.open_orders() == []


def test_partial_fills_and_average_price(journal: Journal) -> None:
    cid = intent(journal)
    f1 = journal.record_fill(cid, execution_id="e1", cum_qty=40, qty=40, price=10.0, t_ms=T)
    assert f1 is not None and f1.qty == 40 and f1.symbol == "TQQQ"
    o = journal.order(cid)
    assert o is not None and (o.status, o.filled_qty, o.remaining_qty) == (
        "partially_filled",
        40,
        60,
    )
    journal.record_fill(cid, execution_id="e2", cum_qty=100, qty=60, price=11.0, t_ms=T + 60_000)
    o = journal.order(cid)
    assert (
        o is not None
        and o.status == "filled"
        and o.filled_avg_price == pytest.approx((400 + 660) / 100)
    )
    assert [f.qty for f in jr.fills(journal.path, "rotation", DAY)] == [40, 60]


def test_duplicate_execution_is_ignored(journal: Journal) -> None:
    cid = intent(journal)
    assert journal.record_fill(cid, execution_id="e1", cum_qty=40, qty=40, price=10.0, t_ms=T)
    assert (
        journal.record_fill(cid, execution_id="e1", cum_qty=40, qty=40, price=10.0, t_ms=T) is None
    )
    assert len(jr.fills(journal.path, "rotation", DAY)) == 1


def test_stream_and_polling_do_not_double_count(journal: Journal) -> None:
    cid = intent(journal)
    journal.record_fill(cid, execution_id="e1", cum_qty=40, qty=40, price=10.0, t_ms=T)
    # polling sees cumulative 40 (nothing new), then 100 at avg 10.6 → 60 more at 11.0
    assert journal.record_fill_progress(cid, cum_qty=40, avg_price=10.0, t_ms=T) is None
    f = journal.record_fill_progress(
        cid, cum_qty=100, avg_price=10.6, t_ms=T + 60_000, broker_order_id="b-1"
    )
    assert (
        f is not None
        and f.qty == pytest.approx(60)
        and f.price == pytest.approx(11.0)
        and f.source == "poll"
    )
    # the stream's event for that second execution arrives late: already covered
    assert (
        journal.record_fill(cid, execution_id="e2", cum_qty=100, qty=60, price=11.0, t_ms=T) is None
    )
    assert sum(f.qty for f in jr.fills(journal.path, "rotation", DAY)) == pytest.approx(100)


def test_fill_of_an_unjournaled_order_needs_its_fields(journal: Journal) -> None:
    with pytest.raises(ValueError, match="unjournaled order x"):
        journal.record_fill("x", execution_id="e9", cum_qty=1, price=1.0, t_ms=T)
    f = journal.record_fill(
        "x",
        execution_id="e9",
        cum_qty=1,
        price=1.0,
        t_ms=T,
        symbol="SPY",
        side="sell",
        strategy="psm",
        session_date=DAY,
    )
    assert f is not None and jr.fills(journal.path, "psm", DAY)[0].side == "sell"


def test_bad_fill_input(journal: Journal) -> None:
    cid = intent(journal)
    with pytest.raises(ValueError, match="cum_qty"):
        journal.record_fill(cid, execution_id="e", cum_qty=0, price=1.0, t_ms=T)
    with pytest.raises(ValueError, match="neither price nor avg_price"):
        journal.record_fill(cid, execution_id="e", cum_qty=1, t_ms=T)
    with pytest.raises(ValueError, match="qty"):
        intent(journal, "other", qty=0)


def test_decisions_states_events(journal: Journal, tmp_path: Path) -> None:
    journal.record_minute("psm", DAY, T, "SPY_ONLY", {"SPY": 10}, {"SPY": "enter"},
                          {"prob": 0.57}, {"state": "SPY_ONLY"})  # fmt: skip
    journal.record_minute("psm", DAY, T + 60_000, "CASH_ONLY", {}, {}, None, {"state": "CASH_ONLY"})
    journal.record_event("psm", DAY, T, "halt", {"reason": "daily loss limit"})
    journal.close()
    with Journal(tmp_path / "journal.sqlite") as j:  # everything is still there after reopening
        d, d2 = jr.decisions(j.path, "psm", DAY)
        assert (d["summary"], d["targets"], d["details"]) == ("SPY_ONLY", {"SPY": 10}, {"prob": 0.57})
        assert (d2["t_ms"], d2["summary"]) == (T + 60_000, "CASH_ONLY")
        last = j.last_state("psm", DAY)
        assert last is not None and last.state == {"state": "CASH_ONLY"} and last.t_ms == T + 60_000
        assert j.last_state("psm", date(2025, 10, 17)) is None
        assert j.last_state("rotation", DAY) is None
        assert j.is_halted("psm", DAY) and not j.is_halted("psm", date(2025, 10, 17))
        assert j.events("psm", DAY)[0].detail == {"reason": "daily loss limit"}


def test_ids_for_minute(journal: Journal) -> None:
    intent(journal)
    intent(journal, "it-rot-20251016-0930-TQQQ-b-1")
    assert journal.ids_for_minute("rotation", T) == {
        "it-rot-20251016-0930-TQQQ-b-0",
        "it-rot-20251016-0930-TQQQ-b-1",
    }
    assert journal.ids_for_minute("rotation", T + 60_000) == set()
    assert len(jr.orders(journal.path, "rotation", DAY)) == 2


def test_record_minute_writes_decision_and_state_together(journal: Journal) -> None:
    journal.record_minute(
        "psm", DAY, T, "SPY_ONLY", {"SPY": 10}, {"SPY": "enter"}, None, {"state": "SPY_ONLY"}
    )
    assert jr.decisions(journal.path, "psm", DAY)[0]["targets"] == {"SPY": 10}
    last = journal.last_state("psm", DAY)
    assert last is not None and (last.t_ms, last.state) == (T, {"state": "SPY_ONLY"})
    with pytest.raises(ValueError):  # a state that is not JSON leaves neither row behind
        journal.record_minute("psm", DAY, T + 60_000, "X", {}, {}, None, {"bad": float("nan")})
    assert [d["t_ms"] for d in jr.decisions(journal.path, "psm", DAY)] == [T]
    last = journal.last_state("psm", DAY)
    assert last is not None and last.t_ms == T


# ------------------------------------------------------------------ a journal that cannot be used


def test_a_file_that_is_not_a_database_is_an_operator_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"this is not a database, it is a text file " * 100)
    with pytest.raises(JournalUnusableError, match=f"journal {path} cannot be used") as ei:
        Journal(path)
    assert isinstance(ei.value, OperationalError) and ei.value.path == path
    assert path.read_bytes().startswith(b"this is not a database")  # left as it was


def test_a_journal_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(JournalUnusableError, match="schema version '99', this engine reads 1"):
        Journal(path)


def test_a_directory_that_cannot_be_made_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(JournalUnusableError, match="cannot create its directory"):
        Journal(tmp_path / "file" / "journal.sqlite")


def test_a_full_disk_is_an_operator_error(journal: Journal) -> None:
    pages = journal._db.execute("PRAGMA page_count").fetchone()[0]
    journal._db.execute(f"PRAGMA max_page_count={pages}")  # the file may not grow: as if full
    with pytest.raises(JournalUnusableError, match="database or disk is full"):
        for i in range(1000):
            journal.record_event("psm", DAY, T, "alert", {"i": i, "pad": "x" * 4000})


def test_a_lock_held_too_long_is_an_operator_error(tmp_path: Path, monkeypatch) -> None:
    import engine.journal as journal_module

    monkeypatch.setattr(journal_module, "BUSY_TIMEOUT_S", 0.05)
    path = tmp_path / "journal.sqlite"
    j = Journal(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # e.g. a second engine on the same journal
    try:
        with pytest.raises(JournalUnusableError, match="database is locked"):
            intent(j)
    finally:
        other.execute("ROLLBACK")
        other.close()
    intent(j)  # once the lock is gone it works again
    j.close()


def test_an_intent_journaled_twice_is_not_an_unusable_journal(journal: Journal) -> None:
    cid = intent(journal)
    with pytest.raises(IntentExistsError) as ei:
        intent(journal, cid)
    assert not isinstance(ei.value, OperationalError)


def test_the_intents_of_a_minute_are_journaled_in_one_transaction(journal: Journal) -> None:
    already = intent(journal, "it-rot-20251016-0930-TQQQ-b-0")
    commits = []
    journal._db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    mk = lambda cid, sym: Intent(cid, "rotation", DAY, T, sym, "buy", 10, "enter")  # noqa: E731
    existing = journal.record_intents([mk(already, "TQQQ"), mk("it-rot-20251016-0930-SSO-b-0", "SSO"),
                                       mk("it-rot-20251016-0930-TNA-b-0", "TNA")])  # fmt: skip
    assert existing == {already} and commits == ["COMMIT"]  # one fsync for the minute's orders
    assert journal.order("it-rot-20251016-0930-SSO-b-0").status == "intent"
    assert journal.order(already).qty == 100  # the earlier intent is left as it was
    assert journal.record_intents([]) == set()
    with pytest.raises(ValueError, match="side='short'"):
        journal.record_intents([Intent("x", "rotation", DAY, T, "SSO", "short", 1)])
    assert journal.order("x") is None


def test_filled_orders_are_the_sessions_orders_with_a_fill(journal: Journal) -> None:
    cid = intent(journal)
    intent(journal, "it-rot-20251016-0930-SSO-b-0")
    journal.record_fill(cid, execution_id="e1", cum_qty=40, t_ms=T, price=10.0, qty=40)
    assert [r.client_order_id for r in journal.filled_orders("rotation", DAY)] == [cid]
    assert journal.filled_orders("psm", DAY) == []


def test_the_minutes_reads_use_indexes_however_long_the_history(journal: Journal) -> None:
    """Open orders and a minute's ids are read before every decision: they must not scan a
    history of months (a partial index holds only the orders still open)."""
    from engine.journal import _NOT_FINISHED

    db = journal._db
    rows = [(f"old-{i}", "rotation", "2025-01-02", i, "SPY", "buy", 1.0, "filled", 0, 0) for i in range(2000)]
    db.executemany("INSERT INTO orders (client_order_id, strategy, session_date, t_ms, symbol, side, qty,"
                   " status, created_ms, updated_ms) VALUES (?,?,?,?,?,?,?,?,?,?)", rows)  # fmt: skip
    cid = intent(journal)
    assert [r.client_order_id for r in journal.open_orders("rotation")] == [cid]
    plans = {
        "open": db.execute(f"EXPLAIN QUERY PLAN SELECT * FROM orders WHERE {_NOT_FINISHED} AND strategy=?"
                           " ORDER BY t_ms, client_order_id", ("rotation",)).fetchall(),  # fmt: skip
        "ids": db.execute("EXPLAIN QUERY PLAN SELECT client_order_id FROM orders WHERE strategy=? AND t_ms=?",
                          ("rotation", T)).fetchall(),  # fmt: skip
    }
    assert "USING INDEX orders_open" in plans["open"][0]["detail"]
    assert "USING INDEX orders_by_t" in plans["ids"][0]["detail"]
    journal.checkpoint()  # the write-ahead log copied into the database: nothing lost
    assert journal.order(cid) is not None

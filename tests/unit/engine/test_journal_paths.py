"""The journal's settings, transitions and queries, one behaviour each: the file it makes
(directories, modes, pragmas), what each write stores and returns, what each query selects,
how a fill's quantity, price and status follow from what was journaled before, and the
errors that name what was wrong."""

from __future__ import annotations

import stat
import time
from datetime import date
from pathlib import Path

import pytest

from common.quantities import QTY_EPS
from engine.journal import BUSY_TIMEOUT_S, Intent, Journal, JournalUnusableError
from tests.support import journal_reads as jr

DAY = date(2025, 10, 16)
T = 1_760_621_400_000  # 09:30 of DAY
CID = "it-rot-20251016-0930-TQQQ-b-0"


def intent(j: Journal, cid: str = CID, *, qty: float = 100, side: str = "buy", symbol: str = "TQQQ",
           strategy: str = "rotation", t_ms: int = T, day: date = DAY) -> str:  # fmt: skip
    j.record_intent(cid, strategy=strategy, session_date=day, t_ms=t_ms, symbol=symbol, side=side, qty=qty,
                    reason="enter")  # fmt: skip
    return cid


# ---------------------------------------------------------------- the file


def test_a_journal_in_a_missing_directory_tree_makes_it(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "journal.sqlite"
    with Journal(path) as j:
        assert j.path == path and path.exists()


def test_the_journal_and_its_log_files_are_private(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    for part in ("-wal", "-shm"):  # left by an earlier run with a wider mode
        Path(f"{path}{part}").write_bytes(b"")
    Path(f"{path}-wal").chmod(0o644)
    Path(f"{path}-shm").chmod(0o644)
    with Journal(path):
        for part in ("", "-wal", "-shm"):
            assert stat.S_IMODE(Path(f"{path}{part}").stat().st_mode) == 0o600, part


def test_the_busy_timeout_is_set_in_milliseconds(journal: Journal) -> None:
    assert journal._db.execute("PRAGMA busy_timeout").fetchone()[0] == int(BUSY_TIMEOUT_S * 1000)


def test_the_default_clock_is_the_wall_clock_in_milliseconds(tmp_path: Path) -> None:
    before = int(time.time() * 1000)
    with Journal(tmp_path / "j.sqlite") as j:
        now = j.now_ms()
        intent(j)
        created = jr.rows(j.path, "SELECT created_ms FROM orders")[0][0]
    after = int(time.time() * 1000)
    assert before <= now <= after and before <= created <= after


def test_an_unusable_journal_s_error_names_the_file_the_step_and_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    path.write_bytes(b"not a database " * 200)
    with pytest.raises(JournalUnusableError) as ei:
        Journal(path)
    assert ei.value.path == path and ei.value.reason.startswith("opening it: DatabaseError")
    j = Journal(tmp_path / "ok.sqlite")
    j.close()  # every later use is SQLite trouble
    for use, step in ((lambda: j.order(CID), "reading"), (lambda: j.open_orders(), "reading"),
                      (j.checkpoint, "checkpointing"), (lambda: intent(j), "writing")):  # fmt: skip
        with pytest.raises(JournalUnusableError) as ei:
            use()
        assert ei.value.path == j.path and ei.value.reason.startswith(f"{step}: ProgrammingError"), step


def test_another_schema_version_is_refused_naming_the_file(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='7' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(JournalUnusableError) as ei:
        Journal(path)
    assert ei.value.path == path and ei.value.reason == "schema version '7', this engine reads 1"


def test_a_journal_that_cannot_switch_to_wal_is_refused_naming_the_file(tmp_path: Path, monkeypatch) -> None:
    import engine.journal as journal_module

    real_connect = journal_module.sqlite3.connect

    class NoWal:
        def __init__(self, db) -> None:
            self.db = db

        def execute(self, sql: str, *args):
            if sql == "PRAGMA journal_mode=WAL":
                return self.db.execute("PRAGMA journal_mode")  # an old or read-only medium: still delete
            return self.db.execute(sql, *args)

        def __getattr__(self, name: str):
            return getattr(self.db, name)

        def __setattr__(self, name: str, value) -> None:
            if name == "db":
                object.__setattr__(self, name, value)
            else:
                setattr(self.db, name, value)

    monkeypatch.setattr(journal_module.sqlite3, "connect", lambda *a, **kw: NoWal(real_connect(*a, **kw)))
    path = tmp_path / "journal.sqlite"
    with pytest.raises(JournalUnusableError) as ei:
        Journal(path)
    assert ei.value.path == path and ei.value.reason == "cannot switch to WAL (journal_mode=delete)"


# ---------------------------------------------------------------- decisions, states, events


def test_a_decision_stores_its_summary_targets_reasons_and_details_as_sorted_json(journal: Journal) -> None:
    journal.record_minute("psm", DAY, T, "SPY_ONLY", {"SPY": 10, "AAA": 1}, {"SPY": "enter", "AAA": "x"},
                          {"z": 1, "when": date(2025, 10, 16)}, {"b": 2, "a": 1})  # fmt: skip
    (row,) = jr.rows(journal.path, "SELECT * FROM decisions")
    assert (row["strategy"], row["session_date"], row["t_ms"], row["summary"]) == ("psm", "2025-10-16", T, "SPY_ONLY")
    assert row["targets"] == '{"AAA": 1, "SPY": 10}' and row["reasons"] == '{"AAA": "x", "SPY": "enter"}'
    assert row["details"] == '{"when": "2025-10-16", "z": 1}'  # a date is written as text
    (state,) = jr.rows(journal.path, "SELECT * FROM strategy_states")
    assert state["state"] == '{"a": 1, "b": 2}' and state["created_ms"] == row["created_ms"]
    with pytest.raises(ValueError):  # NaN is not JSON: refused, not written as NaN
        journal.record_minute("psm", DAY, T + 60_000, "X", {}, {}, {"p": float("inf")}, None)


def test_a_decision_without_a_state_writes_no_state(journal: Journal) -> None:
    journal.record_minute("psm", DAY, T, "CASH_ONLY", {}, {}, None, None)
    assert len(jr.rows(journal.path, "SELECT * FROM decisions")) == 1
    assert jr.rows(journal.path, "SELECT * FROM strategy_states") == [] and journal.last_state("psm", DAY) is None


def test_the_last_state_is_the_latest_written_not_the_latest_minute(journal: Journal) -> None:
    journal.record_minute("psm", DAY, T + 60_000, "B", {}, {}, None, {"n": 1})
    journal.record_minute("psm", DAY, T, "A", {}, {}, None, {"n": 2})  # a relaunch re-deciding an earlier minute
    last = journal.last_state("psm", DAY)
    assert last is not None and (last.strategy, last.session_date, last.t_ms, last.state) == ("psm", DAY, T, {"n": 2})


def test_events_are_read_by_strategy_session_and_kind_in_order(journal: Journal) -> None:
    journal.record_event("psm", DAY, T, "alert", {"i": 1})
    journal.record_event("psm", DAY, T + 1, "reconciliation")
    journal.record_event("psm", DAY, T + 2, "alert", {"i": 2})
    journal.record_event("rotation", DAY, T, "alert", {"i": 3})
    journal.record_event("psm", date(2025, 10, 17), T, "alert", {"i": 4})
    alerts = journal.events("psm", DAY, "alert")
    assert [(e.strategy, e.session_date, e.t_ms, e.kind, e.detail) for e in alerts] == [
        ("psm", DAY, T, "alert", {"i": 1}), ("psm", DAY, T + 2, "alert", {"i": 2})]  # fmt: skip
    assert [e.kind for e in journal.events("psm", DAY)] == ["alert", "reconciliation", "alert"]
    assert journal.events("psm", DAY, "reconciliation")[0].detail == {}
    (row,) = jr.rows(journal.path, "SELECT created_ms FROM events WHERE t_ms=? AND strategy='psm' AND kind='reconciliation'", T + 1)
    assert row[0] > 1_000
    assert not journal.is_halted("psm", DAY)  # other kinds of event are not a halt
    journal.record_event("psm", DAY, T + 3, "halt", {"reason": "daily loss limit"})
    assert journal.is_halted("psm", DAY) and not journal.is_halted("rotation", DAY)


# ---------------------------------------------------------------- intents and statuses


def test_an_intent_stores_every_field_as_given(journal: Journal) -> None:
    intent(journal, side="sell", qty=2.5)
    rec = journal.order(CID)
    assert rec is not None
    assert (rec.strategy, rec.session_date, rec.t_ms, rec.symbol, rec.side, rec.qty, rec.reason) == (
        "rotation", DAY, T, "TQQQ", "sell", 2.5, "enter")  # fmt: skip
    assert (rec.status, rec.broker_order_id, rec.filled_qty, rec.filled_avg_price, rec.detail) == ("intent", None, 0, None, "")
    assert rec.created_ms == rec.updated_ms > 1_000


@pytest.mark.parametrize(("side", "qty", "message"), [
    ("short", 1, "side='short' is not buy or sell"),
    ("buy", 0, "qty=0 is not a positive finite number"),
    ("sell", float("nan"), "qty=nan is not a positive finite number"),
])  # fmt: skip
def test_an_intent_with_a_bad_side_or_quantity_is_refused_naming_it(journal: Journal, side, qty, message) -> None:
    with pytest.raises(ValueError) as ei:
        intent(journal, side=side, qty=qty)
    assert str(ei.value) == message and journal.order(CID) is None
    with pytest.raises(ValueError) as ei:
        journal.record_intents([Intent(CID, "rotation", DAY, T, "TQQQ", side, qty)])
    assert CID in str(ei.value) and journal.order(CID) is None


def test_intents_store_every_field_and_return_only_the_ids_journaled_before(journal: Journal) -> None:
    existing = journal.record_intents([Intent(CID, "rotation", DAY, T, "TQQQ", "sell", 3, "exit"),
                                       Intent("it-rot-20251016-0930-SSO-b-0", "rotation", DAY, T, "SSO", "buy", 1)])  # fmt: skip
    assert existing == set()
    rec = journal.order(CID)
    assert (rec.side, rec.qty, rec.reason, rec.status, rec.symbol, rec.t_ms) == ("sell", 3, "exit", "intent", "TQQQ", T)
    assert journal.record_intents([Intent(CID, "rotation", DAY, T, "TQQQ", "sell", 3, "exit")]) == {CID}


def test_a_lost_intent_planned_again_is_revived_under_its_own_id_only_if_it_never_reached_the_broker(journal: Journal) -> None:
    lost = intent(journal)
    journal.update_order(lost, "lost", detail="not found at the broker")
    known = intent(journal, "it-rot-20251016-0930-SSO-b-0", symbol="SSO")
    journal.update_order(known, "new", broker_order_id="b-2")
    journal.update_order(known, "lost")
    assert journal.ids_for_minute("rotation", T, taken_only=True) == {known}
    again = journal.record_intents([Intent(lost, "rotation", DAY, T, "TQQQ", "buy", 90, "re-decided"),
                                    Intent(known, "rotation", DAY, T, "SSO", "buy", 100)])  # fmt: skip
    assert again == {known}  # the one the broker had is settled, never sent again
    rec = journal.order(lost)
    assert (rec.status, rec.qty, rec.reason, rec.detail) == ("intent", 90, "re-decided", "")
    assert journal.order(known).status == "lost"
    other_side = journal.record_intents([Intent(lost, "rotation", DAY, T, "TQQQ", "sell", 5)])
    assert other_side == {lost}  # journaled already (as an intent): not revived twice


def test_a_lost_intent_is_revived_only_for_the_same_minute_symbol_and_side(journal: Journal) -> None:
    for field, value in (("strategy", "psm"), ("t_ms", T + 60_000), ("symbol", "SSO"), ("side", "sell")):
        cid = f"lost-{field}"
        intent(journal, cid)
        journal.update_order(cid, "lost")
        args = {"strategy": "rotation", "t_ms": T, "symbol": "TQQQ", "side": "buy", field: value}
        i = Intent(cid, args["strategy"], DAY, args["t_ms"], args["symbol"], args["side"], 5)
        assert journal.record_intents([i]) == {cid}, field
        assert journal.order(cid).status == "lost", field


def test_update_order_moves_status_and_figures_and_keeps_what_a_report_leaves_out(journal: Journal) -> None:
    intent(journal)
    assert journal.update_order(CID, "new", broker_order_id="b-1", detail="accepted at 09:30")
    assert journal.update_order(CID, "partially_filled", filled_qty=40, filled_avg_price=10.5)
    rec = journal.order(CID)
    assert (rec.status, rec.broker_order_id, rec.filled_qty, rec.filled_avg_price, rec.detail) == (
        "partially_filled", "b-1", 40, 10.5, "accepted at 09:30")  # fmt: skip
    assert rec.updated_ms > rec.created_ms


def test_a_report_that_brings_nothing_new_is_accepted_without_a_write(journal: Journal) -> None:
    intent(journal)
    journal.update_order(CID, "new", broker_order_id="b-1")
    writes: list[str] = []
    journal._db.set_trace_callback(lambda sql: writes.append(sql) if sql.startswith("UPDATE") else None)
    assert journal.update_order(CID, "new", broker_order_id="b-1") is True
    assert journal.update_order(CID, "new") is True
    assert writes == []
    assert journal.update_order(CID, "new", broker_order_id="b-2") is True  # a new broker id is news
    assert journal.update_order(CID, "new", detail="again") is True
    assert len(writes) == 2 and journal.order(CID).broker_order_id == "b-2"


def test_a_report_changing_only_the_fill_figures_is_written(journal: Journal) -> None:
    intent(journal)
    journal.update_order(CID, "partially_filled", filled_qty=40, filled_avg_price=10.0)
    journal.update_order(CID, "partially_filled", filled_qty=60, filled_avg_price=10.0)
    assert journal.order(CID).filled_qty == 60
    journal.update_order(CID, "partially_filled", filled_qty=60, filled_avg_price=10.2)
    assert journal.order(CID).filled_avg_price == 10.2
    journal.update_order(CID, "canceled")
    assert journal.order(CID).status == "canceled"


def test_open_orders_are_the_unfinished_ones_of_a_strategy_oldest_first(journal: Journal) -> None:
    late = intent(journal, "it-rot-20251016-0931-AAA-b-0", t_ms=T + 60_000, symbol="AAA")
    b = intent(journal, "it-rot-20251016-0930-BBB-b-0", symbol="BBB")
    a = intent(journal, "it-rot-20251016-0930-AAA-b-0", symbol="AAA")
    done = intent(journal, "it-rot-20251016-0930-CCC-b-0", symbol="CCC")
    journal.update_order(done, "canceled")
    other = intent(journal, "it-psm-20251016-0930-SPY-b-0", strategy="psm", symbol="SPY")
    journal.update_order(b, "held_for_review")  # a status the engine does not know reads as open
    assert [r.client_order_id for r in journal.open_orders("rotation")] == [a, b, late]
    assert [r.client_order_id for r in journal.open_orders()] == [other, a, b, late]


def test_filled_orders_are_the_session_s_oldest_first(journal: Journal) -> None:
    second = intent(journal, "it-rot-20251016-0931-AAA-b-0", t_ms=T + 60_000, symbol="AAA")
    first = intent(journal)
    intent(journal, "it-rot-20251017-0930-TQQQ-b-0", day=date(2025, 10, 17))
    for cid in (second, first, "it-rot-20251017-0930-TQQQ-b-0"):
        journal.record_fill(cid, execution_id=f"e-{cid}", cum_qty=1, qty=1, price=10.0, t_ms=T)
    assert [r.client_order_id for r in journal.filled_orders("rotation", DAY)] == [first, second]


def test_ids_for_minute_are_the_strategy_s(journal: Journal) -> None:
    intent(journal)
    intent(journal, "it-psm-20251016-0930-SPY-b-0", strategy="psm", symbol="SPY")
    assert journal.ids_for_minute("rotation", T) == {CID}
    assert journal.ids_for_minute("psm", T, taken_only=True) == {"it-psm-20251016-0930-SPY-b-0"}


# ---------------------------------------------------------------- fills


def test_a_fill_row_holds_what_it_adds_and_the_order_follows(journal: Journal) -> None:
    intent(journal)
    f = journal.record_fill(CID, execution_id="e1", cum_qty=40, qty=40, price=10.0, t_ms=T + 5,
                            broker_order_id="b-1", source="poll")  # fmt: skip
    assert f is not None
    assert (f.execution_id, f.client_order_id, f.broker_order_id, f.strategy, f.session_date, f.symbol, f.side,
            f.qty, f.price, f.cum_qty, f.t_ms, f.source) == (
        "e1", CID, "b-1", "rotation", DAY, "TQQQ", "buy", 40, 10.0, 40, T + 5, "poll")  # fmt: skip
    (row,) = jr.fills(journal.path, "rotation", DAY)
    assert row == f
    rec = journal.order(CID)
    assert (rec.status, rec.filled_qty, rec.filled_avg_price, rec.broker_order_id) == ("partially_filled", 40, 10.0, "b-1")


def test_a_fill_keeps_the_broker_id_the_journal_has(journal: Journal) -> None:
    intent(journal)
    journal.update_order(CID, "new", broker_order_id="b-1")
    journal.record_fill(CID, execution_id="e1", cum_qty=10, qty=10, price=10.0, t_ms=T, broker_order_id="b-other")
    assert journal.order(CID).broker_order_id == "b-1"


def test_a_fill_is_priced_by_its_execution_only_when_its_quantity_is_what_it_adds(journal: Journal) -> None:
    intent(journal)
    journal.record_fill(CID, execution_id="e1", cum_qty=40, qty=40, price=10.0, t_ms=T)
    # a missed execution: the event's 30 @ 12 is not the 60 added; the average prices the 60
    f = journal.record_fill(CID, execution_id="e3", cum_qty=100, qty=30, price=12.0, avg_price=11.2, t_ms=T)
    assert f is not None and f.qty == pytest.approx(60) and f.price == pytest.approx((11.2 * 100 - 400) / 60)
    rec = journal.order(CID)
    assert rec.status == "filled" and rec.filled_avg_price == pytest.approx(11.2)


def test_a_fill_without_an_average_is_priced_by_its_execution_whatever_its_quantity(journal: Journal) -> None:
    intent(journal)
    f = journal.record_fill(CID, execution_id="e1", cum_qty=50, qty=20, price=9.5, t_ms=T)
    assert f is not None and (f.qty, f.price) == (50, 9.5)


def test_the_first_fill_priced_by_the_average_is_the_average(journal: Journal) -> None:
    intent(journal)
    f = journal.record_fill(CID, execution_id="e1", cum_qty=30, avg_price=10.25, t_ms=T)
    assert f is not None and f.price == 10.25 and journal.order(CID).filled_avg_price == 10.25


def test_an_execution_quantity_within_a_millionth_of_the_addition_is_that_addition(journal: Journal) -> None:
    intent(journal)
    f = journal.record_fill(CID, execution_id="e1", cum_qty=40, qty=40 + 1e-7, price=10.0, avg_price=10.5, t_ms=T)
    assert f is not None and f.price == 10.0
    g = journal.record_fill(CID, execution_id="e2", cum_qty=60, qty=20.5, price=10.0, avg_price=10.5, t_ms=T)
    assert g is not None and g.price == pytest.approx((10.5 * 60 - 400) / 20)


def test_a_fill_reaching_the_order_s_quantity_within_tolerance_fills_it(journal: Journal) -> None:
    intent(journal, qty=10)
    journal.record_fill(CID, execution_id="e1", cum_qty=10 - QTY_EPS, qty=10 - QTY_EPS, price=10.0, t_ms=T)
    assert journal.order(CID).status == "filled"
    other = intent(journal, "it-rot-20251016-0930-SSO-b-0", qty=10, symbol="SSO")
    journal.record_fill(other, execution_id="e2", cum_qty=9.99, qty=9.99, price=10.0, t_ms=T)
    assert journal.order(other).status == "partially_filled"


def test_a_cumulative_quantity_not_beyond_the_journal_s_adds_nothing(journal: Journal) -> None:
    intent(journal)
    journal.record_fill(CID, execution_id="e1", cum_qty=40, qty=40, price=10.0, t_ms=T)
    assert journal.record_fill(CID, execution_id="e2", cum_qty=40 + QTY_EPS, qty=40, price=10.0, t_ms=T) is None
    assert journal.record_fill(CID, execution_id="e3", cum_qty=30, qty=30, price=10.0, t_ms=T) is None
    assert len(jr.fills(journal.path, "rotation", DAY)) == 1


def test_a_fill_of_a_finished_order_still_counts_and_the_status_stays(journal: Journal) -> None:
    intent(journal)
    journal.update_order(CID, "canceled")
    f = journal.record_fill(CID, execution_id="e1", cum_qty=10, qty=10, price=10.0, t_ms=T)
    assert f is not None
    rec = journal.order(CID)
    assert (rec.status, rec.filled_qty) == ("canceled", 10)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"cum_qty": 0, "price": 1.0}, "cum_qty=0 is not a positive finite number"),
    ({"cum_qty": 1, "price": -1.0}, f"fill price of {CID}=-1.0 is not a positive finite number"),
    ({"cum_qty": 1}, f"fill of {CID}: neither price nor avg_price given"),
])  # fmt: skip
def test_a_fill_with_a_bad_quantity_or_price_is_refused_naming_it(journal: Journal, kwargs, message) -> None:
    intent(journal)
    with pytest.raises(ValueError) as ei:
        journal.record_fill(CID, execution_id="e1", t_ms=T, **kwargs)
    assert str(ei.value) == message and jr.fills(journal.path, "rotation", DAY) == []


@pytest.mark.parametrize("missing", ["symbol", "side", "strategy", "session_date"])
def test_a_fill_of_an_unjournaled_order_names_the_fields_it_needs(journal: Journal, missing) -> None:
    fields = {"symbol": "SPY", "side": "buy", "strategy": "psm", "session_date": DAY}
    del fields[missing]
    with pytest.raises(ValueError) as ei:
        journal.record_fill("x", execution_id="e9", cum_qty=1, price=1.0, t_ms=T, **fields)
    assert str(ei.value) == "fill of unjournaled order x: symbol, side, strategy and session_date are needed"


def test_a_fill_of_an_unjournaled_order_with_a_bad_side_is_refused(journal: Journal) -> None:
    with pytest.raises(ValueError) as ei:
        journal.record_fill("x", execution_id="e9", cum_qty=1, price=1.0, t_ms=T, symbol="SPY", side="short",
                            strategy="psm", session_date=DAY)  # fmt: skip
    assert str(ei.value) == "fill of x: side='short' is not buy or sell"


def test_fill_progress_is_keyed_by_source_broker_id_and_cumulative(journal: Journal) -> None:
    intent(journal)
    f = journal.record_fill_progress(CID, cum_qty=12.5, avg_price=10.0, t_ms=T, broker_order_id="b-1", source="response")
    g = journal.record_fill_progress(CID, cum_qty=20, avg_price=10.0, t_ms=T)
    assert f is not None and (f.execution_id, f.source, f.broker_order_id) == ("response:b-1:12.5", "response", "b-1")
    assert g is not None and (g.execution_id, g.source) == (f"poll:{CID}:20", "poll")
    h = journal.record_fill_progress("y", cum_qty=1, avg_price=5.0, t_ms=T, symbol="SPY", side="sell",
                                     strategy="psm", session_date=DAY)  # fmt: skip
    assert h is not None and (h.symbol, h.side, h.strategy) == ("SPY", "sell", "psm")


def test_an_order_record_s_derived_figures() -> None:
    from engine.journal import OrderRecord

    rec = OrderRecord(CID, "rotation", DAY, T, "TQQQ", "buy", 10, "", "partially_filled", "b-1", 4, 10.0, "", 0, 0)
    assert rec.remaining_qty == 6 and rec.is_open and rec.progress.filled_qty == 4
    over = OrderRecord(CID, "rotation", DAY, T, "TQQQ", "buy", 10, "", "filled", "b-1", 12, 10.0, "", 0, 0)
    assert over.remaining_qty == 0 and not over.is_open


def test_a_minute_s_ids_include_its_lost_intents_unless_only_the_taken_ones_are_asked(journal: Journal) -> None:
    lost = intent(journal)
    journal.update_order(lost, "lost")
    assert journal.ids_for_minute("rotation", T) == {lost}
    assert journal.ids_for_minute("rotation", T, taken_only=True) == set()


def test_a_fill_names_the_stream_as_its_source_unless_told(journal: Journal) -> None:
    intent(journal)
    f = journal.record_fill(CID, execution_id="e1", cum_qty=1, qty=1, price=10.0, t_ms=T)
    assert f is not None and f.source == "stream" and jr.fills(journal.path, "rotation", DAY)[0].source == "stream"


def test_an_execution_quantity_exactly_a_millionth_off_the_addition_is_that_addition(journal: Journal) -> None:
    intent(journal, qty=1)
    f = journal.record_fill(CID, execution_id="e1", cum_qty=2e-6, qty=1e-6, price=10.0, avg_price=11.0, t_ms=T)
    assert f is not None and f.price == 10.0  # 2e-6 - 1e-6 is exactly 1e-6: within tolerance


def test_the_log_tells_a_lost_intent_planned_again(journal: Journal, caplog) -> None:
    lost = intent(journal)
    journal.update_order(lost, "lost")
    journal.record_intents([Intent(lost, "rotation", DAY, T, "TQQQ", "buy", 100)])
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "engine.journal"] == [
        ("WARNING", f"order {lost} never reached the broker and is planned again: sending it under its own id")]  # fmt: skip


def test_an_intent_without_a_reason_has_an_empty_one(journal: Journal) -> None:
    journal.record_intent(CID, strategy="rotation", session_date=DAY, t_ms=T, symbol="TQQQ", side="buy", qty=1)
    assert journal.order(CID).reason == ""


def test_a_journal_that_cannot_be_created_or_opened_names_its_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(JournalUnusableError) as ei:
        Journal(tmp_path / "file" / "journal.sqlite")
    assert ei.value.path == tmp_path / "file" / "journal.sqlite"
    assert ei.value.reason.startswith("cannot create its directory: ")
    (tmp_path / "dir.sqlite").mkdir()  # a directory where the file should be
    with pytest.raises(JournalUnusableError) as ei:
        Journal(tmp_path / "dir.sqlite")
    assert ei.value.path == tmp_path / "dir.sqlite" and ei.value.reason.startswith("opening it: OperationalError")

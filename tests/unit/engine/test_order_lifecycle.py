"""The order lifecycle: one table of allowed moves (common.order_status), one function applying
a report (engine.order_lifecycle.advance), and the journal going through it."""

from __future__ import annotations

import itertools
import logging
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.order_status import MOVES, OPEN, TERMINAL, OrderStatus, is_terminal
from common.rest_models import Order
from engine.journal import TERMINAL_STATUSES, Journal
from engine.order_lifecycle import OrderProgress, advance, allowed

S = OrderStatus
ALL = list(OrderStatus)
ROWS = [(a, b) for a in sorted(MOVES) for b in sorted(MOVES[a])]  # sorted: the same ids in every process
NOT_ROWS = [(a, b) for a, b in itertools.product(ALL, ALL) if a != b and b not in MOVES[a]]
WORKING = OPEN - {S.INTENT, S.UNKNOWN}


def test_the_table_covers_every_status_and_the_derived_sets() -> None:
    assert set(MOVES) == set(OrderStatus)
    assert {S.FILLED, S.CANCELED, S.EXPIRED, S.REJECTED, S.REPLACED, S.DONE_FOR_DAY, S.LOST} == TERMINAL
    assert set(OrderStatus) - TERMINAL == OPEN
    assert TERMINAL_STATUSES == TERMINAL  # the journal's set is the table's
    for s in ALL:  # a REST order's is_open reads the same table
        raw = {"id": "o", "client_order_id": "c", "symbol": "SPY", "side": "buy", "qty": "1",
               "status": s.value, "type": "market", "time_in_force": "day",
               "created_at": "2025-10-16T14:00:00Z"}  # fmt: skip
        assert Order.from_json(raw).is_open == (s in OPEN)


@pytest.mark.parametrize(("current", "reported"), ROWS, ids=[f"{a}->{b}" for a, b in ROWS])
def test_every_row_of_the_table_is_a_legal_move(current, reported) -> None:
    moved = advance(OrderProgress(current, 2.0, 10.0), reported, order="o")
    assert moved == OrderProgress(reported, 2.0, 10.0)


@pytest.mark.parametrize(
    ("current", "reported"), NOT_ROWS, ids=[f"{a}->{b}" for a, b in NOT_ROWS]
)
def test_a_move_outside_the_table_is_refused_and_logged(current, reported, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="engine.order_lifecycle"):
        assert advance(OrderProgress(current, 1.0, 5.0), reported, filled_qty=3.0, order="it-x") is None
    (rec,) = caplog.records
    assert f"it-x: illegal status move {current} -> {reported}" in rec.getMessage()


def test_the_rules_the_table_encodes() -> None:
    for s in TERMINAL:  # a finished order never moves again
        assert MOVES[s] == frozenset()
    for s in ALL:  # nothing goes back to intent; only intent may become unknown
        assert S.INTENT not in MOVES[s]
        assert (S.UNKNOWN in MOVES[s]) == (s == S.INTENT)
    for s in OPEN:  # an open order can always finish or be found lost
        assert MOVES[s] >= TERMINAL
    for a, b in itertools.permutations(WORKING, 2):  # and moves freely between working states
        assert b in MOVES[a]


@pytest.mark.parametrize("done", sorted(TERMINAL))
def test_a_finished_order_never_reopens(done) -> None:
    for reported in [*OPEN, "some_new_status"]:
        assert advance(OrderProgress(done), reported) is None
    assert advance(OrderProgress(done, 1.0, 2.0), done, filled_qty=3.0, filled_avg_price=2.5) == (
        OrderProgress(done, 3.0, 2.5)
    )  # staying in the same status may still bring fill progress


def test_an_unknown_status_is_logged_and_read_as_open(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="engine.order_lifecycle"):
        moved = advance(OrderProgress(S.NEW), "held_for_review", order="it-y")
    assert moved is not None and moved.status == "held_for_review" and moved.is_open
    assert "it-y: status 'held_for_review' is not one the engine knows" in caplog.text
    assert not is_terminal("held_for_review")
    assert allowed("held_for_review", S.FILLED) and allowed("held_for_review", S.PARTIALLY_FILLED)
    assert not allowed("held_for_review", S.INTENT) and not allowed("held_for_review", S.UNKNOWN)
    assert allowed(S.INTENT, "held_for_review") and not allowed(S.LOST, "held_for_review")


@settings(max_examples=300, deadline=None)
@given(
    reports=st.lists(
        st.tuples(
            st.sampled_from([*ALL, "other"]),
            st.one_of(st.none(), st.floats(0, 100, allow_nan=False)),
            st.one_of(st.none(), st.floats(1, 100, allow_nan=False)),
        ),
        max_size=20,
    )
)
def test_filled_qty_never_shrinks_and_a_finished_order_stays_finished(reports) -> None:
    now = OrderProgress(S.INTENT)
    finished_as = None
    for status, qty, avg in reports:
        moved = advance(now, status, filled_qty=qty, filled_avg_price=avg)
        if moved is None:
            continue
        assert moved.filled_qty >= now.filled_qty
        if finished_as is not None:
            assert moved.status == finished_as
        if is_terminal(moved.status):
            finished_as = moved.status
        now = moved


# ------------------------------------------------------------------ the journal goes through it


@pytest.fixture
def journal(tmp_path: Path):
    j = Journal(tmp_path / "journal.sqlite", now_ms=lambda: 1)
    j.record_intent("it-psm-20251016-1000-SPY-b-0", strategy="psm", session_date=date(2025, 10, 16),
                    t_ms=0, symbol="SPY", side="buy", qty=10)  # fmt: skip
    yield j
    j.close()


CID = "it-psm-20251016-1000-SPY-b-0"


def test_journal_updates_follow_the_table(journal, caplog) -> None:
    assert journal.update_order(CID, S.UNKNOWN)
    assert journal.update_order(CID, S.NEW, broker_order_id="b-1", filled_qty=0)
    assert not journal.update_order(CID, S.INTENT)  # never back to intent
    assert journal.update_order(CID, S.PARTIALLY_FILLED, filled_qty=4, filled_avg_price=10.0)
    assert journal.update_order(CID, S.CANCELED, filled_qty=3)  # a stale quantity: kept at 4
    rec = journal.order(CID)
    assert rec is not None and (rec.status, rec.filled_qty, rec.filled_avg_price) == ("canceled", 4, 10.0)
    with caplog.at_level(logging.WARNING, logger="engine.order_lifecycle"):
        assert not journal.update_order(CID, S.FILLED, filled_qty=10, broker_order_id="b-2")
    assert f"{CID}: illegal status move canceled -> filled" in caplog.text
    rec = journal.order(CID)
    assert rec is not None and (rec.status, rec.filled_qty, rec.broker_order_id) == ("canceled", 4, "b-1")
    assert journal.open_orders() == []


def test_a_fill_after_the_order_finished_counts_but_does_not_reopen_it(journal, caplog) -> None:
    assert journal.update_order(CID, S.CANCELED)
    with caplog.at_level(logging.WARNING, logger="engine.order_lifecycle"):
        f = journal.record_fill(CID, execution_id="e1", cum_qty=4, qty=4, price=10.0, t_ms=5)
    assert f is not None and f.qty == 4  # the shares were bought: the fill is journaled
    rec = journal.order(CID)
    assert rec is not None and (rec.status, rec.filled_qty) == ("canceled", 4)
    assert "illegal status move canceled -> partially_filled" in caplog.text


def test_an_unknown_broker_status_keeps_the_order_open_in_the_journal(journal) -> None:
    assert journal.update_order(CID, "held_for_review")
    assert [r.client_order_id for r in journal.open_orders("psm")] == [CID]
    assert journal.update_order(CID, S.FILLED, filled_qty=10, filled_avg_price=1.0)
    assert journal.open_orders("psm") == []

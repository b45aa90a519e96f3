"""The broker view: seeded by the broker's word, moved by order reports, each fill counted once
whichever way it is reported, average entry and cash kept the broker's way."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.broker_view import BrokerView
from engine.strategies import Holding
from engine.trade_events import Execution


@dataclass
class Pos:
    symbol: str
    qty: float
    avg_entry_price: float

    @property
    def signed_qty(self) -> float:
        return self.qty


@dataclass
class Ord:
    id: str
    symbol: str
    side: str
    filled_qty: float
    filled_avg_price: float | None
    status: str = "partially_filled"


def seeded(*positions: Pos, cash: float = 10_000.0, orders: tuple[Ord, ...] = ()) -> BrokerView:
    v = BrokerView()
    v.seed(positions, cash=cash, start_equity=12_000.0, orders=orders)
    return v


def test_the_seed_is_the_brokers_word() -> None:
    v = seeded(Pos("SPY", 10, 500.0), Pos("SH", -4, 40.0), orders=(Ord("o1", "SPY", "buy", 3, 499.0),))
    snap = v.snapshot()
    assert snap.holdings == {"SPY": Holding(10, 500.0), "SH": Holding(-4, 40.0)}
    assert (snap.cash, snap.start_equity) == (10_000.0, 12_000.0)
    assert v.filled("o1") == 3  # already in the positions: a report of it adds only what is new
    assert v.apply(Ord("o1", "SPY", "buy", 3, 499.0)) is None
    f = v.apply(Ord("o1", "SPY", "buy", 5, 499.4))
    assert f is not None and f.signed_qty == 2 and f.price == pytest.approx((499.4 * 5 - 499.0 * 3) / 2)


def test_a_fill_reported_by_the_response_then_the_stream_counts_once() -> None:
    v = seeded()
    response = Ord("o1", "TQQQ", "buy", 100, 50.0, "filled")
    assert v.apply(response) is not None
    assert v.apply(response, Execution(100, 50.0)) is None  # the stream's event of the same fill
    assert v.quantities() == {"TQQQ": 100}
    assert v.cash == pytest.approx(10_000.0 - 5_000.0)


def test_partial_fills_priced_by_execution_or_by_the_average() -> None:
    v = seeded()
    v.apply(Ord("o1", "TQQQ", "buy", 40, 50.0), Execution(40, 50.0))
    v.apply(Ord("o1", "TQQQ", "buy", 100, 50.6), Execution(60, 51.0))  # qty matches: its own price
    assert v.position("TQQQ").avg_entry == pytest.approx(50.6)
    v.apply(Ord("o2", "TQQQ", "sell", 30, 52.0))  # a poll: priced from the cumulative average
    assert v.quantities() == {"TQQQ": 70} and v.position("TQQQ").avg_entry == pytest.approx(50.6)
    assert v.cash == pytest.approx(10_000 - 40 * 50 - 60 * 51 + 30 * 52)
    v.apply(Ord("o1", "TQQQ", "buy", 90, 50.6))  # an older report arriving late changes nothing
    assert v.quantities() == {"TQQQ": 70}


def test_reducing_keeps_the_entry_and_crossing_zero_starts_a_new_one() -> None:
    v = seeded(Pos("SPY", 10, 500.0))
    v.apply(Ord("s1", "SPY", "sell", 4, 510.0, "filled"))
    assert v.position("SPY").qty == 6 and v.position("SPY").avg_entry == 500.0
    v.apply(Ord("s2", "SPY", "sell", 8, 505.0, "filled"))
    assert v.position("SPY").qty == -2 and v.position("SPY").avg_entry == 505.0
    v.apply(Ord("b1", "SPY", "buy", 2, 501.0, "filled"))
    assert v.position("SPY") is None and v.snapshot().holdings == {}


def test_before_the_seed_only_progress_is_remembered() -> None:
    v = BrokerView()
    assert v.apply(Ord("o1", "SPY", "buy", 5, 500.0)) is None and v.quantities() == {}
    v.seed([Pos("SPY", 5, 500.0)], cash=100.0, start_equity=None)
    assert v.apply(Ord("o1", "SPY", "buy", 5, 500.0, "filled")) is None  # in the seed already
    assert v.quantities() == {"SPY": 5}


def test_an_unpriced_fill_moves_the_position_and_marks_cash_unknown() -> None:
    v = seeded()
    v.apply(Ord("o1", "SPY", "buy", 5, None))
    assert v.quantities() == {"SPY": 5} and not v.cash_known
    v.take_cash(9_000.0)
    assert v.cash_known and v.cash == 9_000.0


def test_diff_and_take_positions() -> None:
    v = seeded(Pos("SPY", 10, 500.0))
    assert [str(m) for m in v.diff({"SPY": 10, "SH": 3})] == ["SH: book 0, broker 3"]
    v.take_positions([Pos("SH", 3, 40.0)])
    assert v.diff({"SH": 3}) == [] and v.snapshot().holdings == {"SH": Holding(3, 40.0)}
    with pytest.raises(ValueError, match="cash=nan"):
        v.take_cash(float("nan"))


# ------------------------------------------------------------------ any order of reports

fills = st.lists(st.tuples(st.integers(1, 50), st.integers(100, 200)), min_size=1, max_size=6)


@given(fills, st.data())
def test_any_interleaving_of_stream_and_poll_reports_counts_each_fill_once(executions, data) -> None:
    """One order filled in several executions; each cumulative state is reported by the
    stream (with its execution) and by polls (cumulative only), any number of times, in
    any order: the view ends with the whole quantity and its exact cost."""
    reports = []
    cum, value = 0.0, 0.0
    for qty, cents in executions:
        price = cents / 100
        cum += qty
        value += qty * price
        state = Ord("o1", "XYZ", "buy", cum, value / cum)
        reports.append((state, Execution(qty, price)))
        reports += [(state, None)] * data.draw(st.integers(0, 2))
    order = data.draw(st.permutations(reports))
    v = seeded(cash=0.0)
    for state, ex in order:
        v.apply(state, ex)
    assert v.quantities() == {"XYZ": pytest.approx(cum)}
    assert -v.cash == pytest.approx(value)
    assert v.position("XYZ").avg_entry == pytest.approx(value / cum)

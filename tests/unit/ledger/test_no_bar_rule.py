"""The rule for a market order in a minute without a bar, on a session grid given as arrays."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest

from ledger.no_bar_rule import GridFill, grid_market_fill

D = Decimal
NAN = float("nan")
# six grid minutes; real bars at 1, 4; the grid carries the last close through filled minutes
REAL = np.array([False, True, False, False, True, False])
OPEN = np.array([9.9, 10.02, 10.05, 10.05, 10.11, 10.2])
CLOSE = np.array([9.9, 10.05, 10.05, 10.05, 10.2, 10.2])


@pytest.mark.parametrize(
    ("arrival", "expected"),
    [
        (1, GridFill(1, D("10.02"), False)),  # a bar in the minute it arrives: its open
        (2, GridFill(4, D("10.11"), False)),  # no bar: rests until the next bar, its open
        (4, GridFill(4, D("10.11"), False)),
        (5, GridFill(5, D("10.2"), True)),  # no bar to the end: the session's last close, at the close
        (0, GridFill(1, D("10.02"), False)),
    ],
)
def test_the_order_fills_at_the_next_real_bars_open_else_at_the_close(arrival, expected):
    assert grid_market_fill(REAL, OPEN, CLOSE, arrival) == expected


def test_an_order_arriving_after_the_session_or_without_any_price_does_not_fill():
    assert grid_market_fill(REAL, OPEN, CLOSE, 6) is None
    none = np.zeros(3, dtype=bool)
    assert grid_market_fill(none, np.full(3, NAN), np.full(3, NAN), 0) is None
    # a symbol that never traded this session: the previous close the grid carries
    assert grid_market_fill(none, np.full(3, 7.5), np.full(3, 7.5), 1) == GridFill(2, D("7.5"), True)


def test_the_stale_close_is_never_the_price_when_a_later_bar_exists():
    """The pre-cost rule filled minute 2 at 10.05 (the close the decision saw); this one doesn't."""
    fill = grid_market_fill(REAL, OPEN, CLOSE, 2)
    assert fill is not None and fill.reference != D(str(CLOSE[1]))


def test_bad_arrays_are_refused():
    with pytest.raises(ValueError, match="one entry per grid minute"):
        grid_market_fill(REAL, OPEN[:-1], CLOSE, 0)
    with pytest.raises(ValueError, match="arrival"):
        grid_market_fill(REAL, OPEN, CLOSE, -1)

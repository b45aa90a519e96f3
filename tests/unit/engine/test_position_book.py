"""The engine's position book: broker positions plus journaled fills, compared with the broker."""

from __future__ import annotations

from dataclasses import dataclass

from common.rest_models import Position
from engine.position_book import PositionBook, signed_positions


def Pos(symbol: str, qty: float, side: str) -> Position:
    return Position.from_json({"symbol": symbol, "qty": str(qty), "side": side, "avg_entry_price": "1"})


@dataclass
class Fill:
    symbol: str
    side: str
    qty: float

    @property
    def signed_qty(self) -> float:
        return self.qty if self.side == "buy" else -self.qty


def test_signed_positions_makes_shorts_negative_and_drops_flat_ones():
    got = signed_positions([Pos("A", 5, "long"), Pos("B", 3, "short"), Pos("C", -2, "short"),
                            Pos("D", 0, "long")])  # fmt: skip
    assert got == {"A": 5.0, "B": -3.0, "C": -2.0}


def test_fills_move_the_book_and_a_round_trip_leaves_nothing():
    book = PositionBook({"A": 5})
    book.apply(Fill("A", "sell", 5))
    book.apply(Fill("B", "buy", 2))
    book.apply(Fill("B", "buy", 1))
    assert book.quantities() == {"B": 3.0} and book.qty("A") == 0


def test_diff_names_every_disagreement_and_reset_takes_the_broker():
    book = PositionBook({"A": 5, "B": 1})
    diff = book.diff({"A": 5, "C": 2})
    assert [(m.symbol, m.book, m.broker) for m in diff] == [("B", 1.0, 0.0), ("C", 0.0, 2.0)]
    assert str(diff[0]) == "B: book 1, broker 0"
    book.reset({"A": 5, "C": 2})
    assert book.diff({"A": 5, "C": 2}) == []

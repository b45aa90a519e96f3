"""One minute of bars: the value every stage hands on, from the bridge's batcher to the strategy.

A :class:`Minute` is built in few places, each of which applies the session-grid rule
(:mod:`common.session_grid`) or reads a grid that did: the bridge's batcher and the
engine's feed (through :class:`~common.session_grid.GridFiller`), the FIFO codec
(:func:`common.batch_line.decode_line`, which validates every bar once, at the process
boundary) and :meth:`engine.market_grid.MinuteGrid.bars_at`. Everything downstream (the
signal engine, the decision step, the backtest) trusts it and checks nothing again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from common.bars import Bar


@dataclass(frozen=True, slots=True)
class Minute:
    """Bar start ``t`` (Unix ms) and the bar of every symbol that has a price this minute.

    ``bars`` maps each symbol to its bar (``bar.t == t``, ``bar.symbol`` is the key), in
    the producer's symbol order; a symbol with no real bar this minute has a flat bar at
    its last close marked ``filled``, and a symbol with no price yet is absent. ``bars``
    is shared, never mutated.

    ``source`` says what produced the minute: in the bridge, the batcher's reason for
    writing it (``complete``, ``later``, ``deadline``, ``quiet``); in the engine, ``fifo``
    (a batch line), ``backfill`` (REST), ``gap-fill`` (REST failed: all filled),
    ``warm-up`` (the last warm-up minute) or ``history`` (a grid of stored bars).
    """

    t: int
    bars: Mapping[str, Bar]
    source: str

    @property
    def symbols(self) -> tuple[str, ...]:
        """The symbols with a price this minute, in the producer's order."""
        return tuple(self.bars)

    @property
    def closes(self) -> dict[str, float]:
        """Every priced symbol's close (a filled bar carries the last real close)."""
        return {s: b.close for s, b in self.bars.items()}

    @property
    def real_prices(self) -> dict[str, float]:
        """Closes of the symbols that traded this minute (not grid-filled)."""
        return {s: b.close for s, b in self.bars.items() if not b.filled}

    @property
    def filled_symbols(self) -> tuple[str, ...]:
        """The symbols whose bar this minute is a grid fill."""
        return tuple(s for s, b in self.bars.items() if b.filled)


__all__ = ["Minute"]

"""Late bar corrections: which bars the websocket first sends in a preliminary version.

Alpaca sends a bar about a second after its minute closes and, when late trades
change it, an ``updatedBars`` message (``T:"u"``) some 30 s later. mockmarket
imitates this: with probability ``rate`` a bar's first message is a preliminary
version (a little less volume and fewer trades) and the ``T:"u"`` message carries
the CSV truth. The choice is a pure function of (seed, symbol, minute), so a
replay makes the same corrections whatever the timing.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace

from common.bars import Bar
from mockmarket.wire import derived_n_vw

CORRECTION_DELAY_MS = 30_000
"""Simulated delay between a bar's first message and its correction."""


def _uniforms(seed: int, symbol: str, t_ms: int) -> tuple[float, float]:
    digest = hashlib.blake2b(f"{seed}|{symbol}|{t_ms}".encode(), digest_size=16).digest()
    a = int.from_bytes(digest[:8], "big") / 2**64
    b = int.from_bytes(digest[8:], "big") / 2**64
    return a, b


@dataclass(frozen=True, slots=True)
class CorrectionPolicy:
    rate: float = 0.02
    seed: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate) and 0.0 <= self.rate <= 1.0):
            raise ValueError(f"correction rate {self.rate!r} must be within [0, 1]")

    def is_corrected(self, bar: Bar) -> bool:
        """True if ``bar`` is first sent preliminary and corrected later."""
        if self.rate <= 0.0 or bar.volume < 2:
            return False
        return _uniforms(self.seed, bar.symbol, bar.t)[0] < self.rate

    def preliminary(self, bar: Bar) -> Bar:
        """The first, incomplete version of ``bar``: 5–30 % less volume and the trades to match."""
        cut = 0.05 + 0.25 * _uniforms(self.seed, bar.symbol, bar.t)[1]
        volume = float(max(1, math.floor(bar.volume * (1.0 - cut))))
        n, vw = derived_n_vw(bar)
        n_pre = max(1, min(n, math.floor(n * volume / bar.volume))) if n else 0
        return replace(bar, volume=volume, trade_count=n_pre, vwap=vw)

    def first_versions(self, bars: list[Bar]) -> tuple[list[Bar], list[Bar]]:
        """(what to send now, the true bars to send as corrections later)."""
        now: list[Bar] = []
        later: list[Bar] = []
        for b in bars:
            if self.is_corrected(b):
                now.append(self.preliminary(b))
                later.append(b)
            else:
                now.append(b)
        return now, later

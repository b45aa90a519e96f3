"""The per-minute publisher: one task that walks every simulated minute boundary in order.

For each boundary M (never skipping one, even when the clock jumps ahead):

1. at M: ``broker.on_minute(M)`` (queued orders fill at the open, limits re-checked...);
2. at M + 1 s: the bars of minute M − 60 s go to the websocket subscribers (a bar
   whose correction is due goes out in its preliminary version);
3. at M + 31 s: the ``updatedBars`` corrections of minute M − 60 s.

A failure in one step is logged and the loop goes on: the market never stops.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from common.bars import MINUTE_MS
from mockmarket.clock import SimClock
from mockmarket.corrections import CORRECTION_DELAY_MS, CorrectionPolicy
from mockmarket.data_stream import DataStreamHub
from mockmarket.store import MarketStore

log = logging.getLogger(__name__)

PUBLISH_DELAY_MS = 1_000
"""A bar goes out this long (simulated) after its minute closes."""


class MinuteListener(Protocol):
    def on_minute(self, minute_start_ms: int) -> None: ...


def first_boundary(now_ms: int) -> int:
    """The first minute boundary at or after ``now_ms``."""
    return -(-now_ms // MINUTE_MS) * MINUTE_MS


class MinuteLoop:
    def __init__(
        self,
        clock: SimClock,
        store: MarketStore,
        broker: MinuteListener,
        hub: DataStreamHub,
        corrections: CorrectionPolicy,
    ) -> None:
        self.clock = clock
        self.store = store
        self.broker = broker
        self.hub = hub
        self.corrections = corrections
        self.waiting_until: int | None = None
        """The simulated instant the loop waits for now (tests watch it)."""

    def _on_minute(self, m: int) -> None:
        try:
            self.broker.on_minute(m)
        except Exception:
            log.exception("broker.on_minute(%d) failed", m)

    def _publish(self, t: int) -> list:
        try:
            now, later = self.corrections.first_versions(self.store.bars_at_minute(t))
            self.hub.publish(now, "b")
            return later
        except Exception:
            log.exception("publishing the bars of minute %d failed", t)
            return []

    def _correct(self, bars: list) -> None:
        try:
            self.hub.publish(bars, "u")
        except Exception:
            log.exception("publishing corrections failed")

    async def _until(self, t_ms: int) -> None:
        self.waiting_until = t_ms
        await self.clock.sleep_until(t_ms)

    async def run(self) -> None:
        m = first_boundary(self.clock.now_ms())
        log.info("minute loop: first boundary %d", m)
        while True:
            await self._until(m)
            self._on_minute(m)
            await self._until(m + PUBLISH_DELAY_MS)
            later = self._publish(m - MINUTE_MS)
            if later:
                await self._until(m + PUBLISH_DELAY_MS + CORRECTION_DELAY_MS)
                self._correct(later)
            m += MINUTE_MS
            await asyncio.sleep(0)  # let clients and requests in, even while catching up

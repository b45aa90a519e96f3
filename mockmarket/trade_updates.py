"""Fan-out of trade_updates events from the (synchronous) broker to stream connections.

The broker calls :meth:`TradeUpdateHub.publish` from plain code on the server's
loop; each listening connection owns a bounded queue of encoded frames. A
client too slow to drain its queue is marked ``overflowed`` and dropped by its
connection handler instead of holding the broker back. :meth:`TradeUpdateHub.drop_all`
(the ``drop_trade_streams`` fault) closes every connection at once, losing what was queued,
as a network drop would.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque


class Subscription:
    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize)
        self.overflowed = False
        self.dropped = False

    def drop(self) -> None:
        """Close the connection now: frames still queued are not sent."""
        self.dropped = True
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            self.overflowed = True

    def offer(self, frame: bytes | None) -> None:
        """Queue a frame (``None``: close once the frames before it are sent)."""
        if self.overflowed or self.dropped:
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed = True


class TradeUpdateHub:
    def __init__(self, history: int = 10_000, queue_size: int = 10_000) -> None:
        self._subs: set[Subscription] = set()
        self._open: set[Subscription] = set()
        self._queue_size = queue_size
        self.dropped_at_ms: int | None = None
        """Simulated time the connections were last dropped on purpose (a fault)."""
        self.history: deque[dict] = deque(maxlen=history)
        """The latest published messages (``{"stream": "trade_updates", "data": ...}``)."""

    def new_subscription(self) -> Subscription:
        """A queue for one connection, not yet listening (its own replies can go through it)."""
        sub = Subscription(self._queue_size)
        self._open.add(sub)
        return sub

    def close_subscription(self, sub: Subscription) -> None:
        """The connection of ``sub`` is gone."""
        self._subs.discard(sub)
        self._open.discard(sub)

    def drop_all(self, now_ms: int) -> int:
        """Close every connection (its writer closes the socket); how many there were."""
        n = len(self._open)
        for sub in tuple(self._open):
            sub.drop()
        self._subs.clear()
        self.dropped_at_ms = now_ms
        return n

    def subscribe(self, sub: Subscription | None = None) -> Subscription:
        """Start delivering trade updates to ``sub`` (a new one if not given)."""
        sub = sub if sub is not None else self.new_subscription()
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, data: dict) -> None:
        """Send one trade update (the ``data`` object) to every listener."""
        message = {"stream": "trade_updates", "data": data}
        self.history.append(message)
        if not self._subs:
            return
        frame = json.dumps(message, separators=(",", ":")).encode()
        for sub in tuple(self._subs):
            sub.offer(frame)

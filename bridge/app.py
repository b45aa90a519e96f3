"""The bridge process's insides: stream → batcher → FIFO, plus heartbeats and path checks.

Everything runs on one asyncio loop. A frame's bars go to the batcher and the
batches that become due are written at once (so the latency from the last
symbol's bar to its batch line is a few function calls). A ticker wakes at the
next minute deadline (it is woken when a frame leaves a minute pending), and
otherwise every ``tick_s`` seconds at most, to retry buffered lines, check the
FIFO path and write heartbeats; few wakeups keep the idle cost low.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from bridge.batcher import MinuteBatcher
from bridge.messages import StreamBar
from bridge.silence import SilenceWatch
from bridge.state_file import StateFile
from bridge.stream import MarketDataStream, StreamSettings
from common.batch_line import encode_heartbeat, encode_minute
from common.calendar import TradingCalendar, iso_ny, nyse
from common.fifo import FifoWriter
from common.minute import Minute

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class BridgeSettings:
    flush_deadline_s: float = 3.0
    """Wall seconds after a minute's first bar before it is written with what arrived
    (shortened in a fast replay: see :mod:`bridge.batcher`)."""
    heartbeat_s: float = 2.0
    tick_s: float = 1.0
    path_check_s: float = 1.0
    max_buffered_lines: int = 240
    silence_min_s: float = 5.0
    silence_factor: float = 2.0
    silence_fallback_s: float = 90.0
    stream: StreamSettings = field(default_factory=StreamSettings)

    def __post_init__(self) -> None:
        for name in ("flush_deadline_s", "heartbeat_s", "tick_s", "path_check_s",
                     "silence_min_s", "silence_factor", "silence_fallback_s"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and v > 0):
                raise ValueError(f"bridge setting {name}={v!r} must be a positive number")
        if self.max_buffered_lines < 1:
            raise ValueError(f"bridge setting max_buffered_lines={self.max_buffered_lines!r} must be >= 1")


@dataclass
class BridgeStats:
    batches: int = 0
    by_reason: dict[str, int] = field(default_factory=dict)
    filled_bars: int = 0
    heartbeats: int = 0


class Bridge:
    def __init__(
        self,
        symbols: Sequence[str],
        *,
        url: str,
        key: str,
        secret: str,
        writer: FifoWriter,
        settings: BridgeSettings | None = None,
        seed: Callable[[Sequence[str]], Mapping[str, float]] | None = None,
        calendar: TradingCalendar | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: int(time.time() * 1000),
        rng: random.Random | None = None,
        state_file: StateFile | None = None,
    ) -> None:
        self.settings = s = settings or BridgeSettings()
        self.state_file = state_file
        cal = calendar or nyse()
        self.symbols = tuple(symbols)
        self.writer = writer
        self._seed = seed
        self._now = monotonic
        self._wall_ms = wall_ms
        self.batcher = MinuteBatcher(self.symbols, deadline_s=s.flush_deadline_s, calendar=cal)
        watch = SilenceWatch(
            min_silence_s=s.silence_min_s, factor=s.silence_factor, fallback_s=s.silence_fallback_s, calendar=cal
        )
        self.stream = MarketDataStream(
            url, key, secret, self.symbols,
            on_frame=self._on_frame, on_state=self._on_state, watch=watch,
            settings=s.stream, monotonic=monotonic, rng=rng,
        )
        self.stats = BridgeStats()
        self._wake = asyncio.Event()
        self.latencies: deque[float] = deque(maxlen=100_000)
        """Seconds from receiving the frame that completed a minute to its line written."""

    # -- callbacks from the stream

    def _on_frame(self, bars: list[StreamBar], received_at: float) -> None:
        self.batcher.feed_gap_s = self.stream.watch.median_gap()
        add = self.batcher.add
        for sb in bars:
            add(sb.bar, received_at, updated=sb.updated)
        self._emit(self.batcher.ready(received_at), received_at)
        if self.batcher.has_pending:
            self._wake.set()  # the ticker must see this minute's deadline

    def _on_state(self, connected: bool) -> None:
        if not connected:
            self.batcher.connection_lost()
        self._heartbeat()

    def counters(self) -> dict[str, int]:
        """Connections, reconnects and batches so far (what :mod:`bridge.state_file` keeps)."""
        st = self.stream.stats
        return {"connections": st.connections, "reconnects": st.reconnects,
                "handshake_retries": st.handshake_retries, "limit_406": st.limit_406,
                "silent_replaced": st.silent_replaced, "dropped": st.dropped,
                "batches": self.stats.batches}  # fmt: skip

    def _write_state(self) -> None:
        if self.state_file is not None:
            self.state_file.update(self.counters(), connected=self.stream.connected, wall_ms=self._wall_ms())

    # -- output

    def _emit(self, minutes: list[Minute], received_at: float | None) -> None:
        for m in minutes:
            self.writer.write_line(encode_minute(m))
            reason = m.source
            if received_at is not None and reason == "complete":
                self.latencies.append(self._now() - received_at)
            st = self.stats
            st.batches += 1
            st.by_reason[reason] = st.by_reason.get(reason, 0) + 1
            filled = m.filled_symbols
            st.filled_bars += len(filled)
            log.info(
                "minute %s: %d bars (%s)%s%s", iso_ny(m.t), len(m.bars), reason,
                f", filled {','.join(filled)}" if filled else "",
                "" if self.writer.attached else f", waiting for a reader ({self.writer.buffered} buffered)",
            )

    def _heartbeat(self) -> None:
        line = encode_heartbeat(self._wall_ms(), self.stream.connected, self.batcher.last_written)
        if self.writer.write_line(line, buffer=False):
            self.stats.heartbeats += 1
        self._write_state()

    async def _ticker(self) -> None:
        s = self.settings
        now = self._now()
        next_heartbeat = now
        next_check = now + s.path_check_s
        while True:
            now = self._now()
            self._emit(self.batcher.ready(now), None)
            if now >= next_check:
                self.writer.check_path()
                next_check = now + s.path_check_s
            else:
                self.writer.flush()
            if now >= next_heartbeat:
                self._heartbeat()
                next_heartbeat = now + s.heartbeat_s
            wake = min(next_heartbeat, next_check, now + s.tick_s)
            deadline = self.batcher.next_deadline()
            if deadline is not None:
                wake = min(wake, deadline)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, wake - self._now())):
                    await self._wake.wait()

    # -- life cycle

    async def _seed_closes(self, stop: asyncio.Event) -> bool:
        """Seed last closes from REST (blocking calls, in a daemon thread); False if stopped first."""
        if self._seed is None:
            return True
        seeding = _in_daemon_thread(self._seed, self.symbols)
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({seeding, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not seeding.done():
            return False  # stopping: the daemon thread must not hold up the exit
        self.batcher.seed(seeding.result())
        return True

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; OperationalError (auth, FIFO path...) ends it early."""
        self.writer.open()
        log.info("bridge for %d symbols (%s) writing to %s", len(self.symbols), ",".join(self.symbols), self.writer.path)
        try:
            if not await self._seed_closes(stop):
                return
            tasks = {
                asyncio.ensure_future(self.stream.run()),
                asyncio.ensure_future(self._ticker()),
                asyncio.ensure_future(stop.wait()),
            }
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for t in done:
                exc = t.exception()
                if exc is not None:
                    raise exc
        finally:
            with contextlib.suppress(Exception):
                self.writer.flush()
            self.writer.close()
            self._write_state()
            log.info(
                "bridge stopped: %d batches written (%s), %d filled bars, %d lines dropped, %d buffered",
                self.stats.batches, self.stats.by_reason, self.stats.filled_bars,
                self.writer.lines_dropped, self.writer.buffered,
            )


def _in_daemon_thread(fn: Callable[..., T], *args: object) -> asyncio.Future[T]:
    """Run blocking ``fn`` in a daemon thread (unlike the default executor, never joined at exit)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, exc: BaseException | None) -> None:
        if fut.done():
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result = fn(*args)
        except BaseException as e:  # handed to the loop, raised where the future is awaited
            with contextlib.suppress(RuntimeError):  # loop already closed: nobody is waiting
                loop.call_soon_threadsafe(settle, None, e)
        else:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=work, name="bridge-seed", daemon=True).start()
    return fut


__all__ = ["Bridge", "BridgeSettings", "BridgeStats"]

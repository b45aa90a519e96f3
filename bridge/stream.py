"""The market-data websocket client (alpaca-protocol.md §5), surviving every fault of §7.

One loop, ``async for ws in connect(...)`` from ``websockets``: each connection
waits for the welcome, authenticates, subscribes to ``bars`` and ``updatedBars``
for every symbol (from stored state, on every connection) and then hands each
frame's bars to a callback. JSON encoding (no msgpack content type is sent).

What happens when things go wrong:

- handshake failures (refused, reset, timeout, HTTP 429, HTTP 5xx) are retried
  by the library's loop; :meth:`MarketDataStream.process_exception` says retry
  (None) or fatal, and delays come from :meth:`common.retry.Backoff.delays`;
- in-band failures after the handshake (406 connection limit — a previous
  socket on these keys is still open, for up to ~90 s — 401/403/404/407/500
  errors, a dropped connection, a missing reply, a silent socket) close the
  socket and wait a jittered, growing delay (capped at ``limit_backoff_cap``)
  before reconnecting; the series restarts after a connection that delivered data;
- fatal: 402 auth failed (:class:`AuthFailedError`, names the key variables,
  never their values), 400/405/409, a handshake refused with another 4xx.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from bridge.messages import Control, Malformed, StreamBar, parse_frame
from bridge.silence import SilenceWatch
from common.env import KEY_VAR, SECRET_VAR, STREAM_URL_VAR
from common.errors import OperationalError
from common.retry import Backoff

log = logging.getLogger(__name__)


class StreamFatalError(OperationalError):
    """The stream cannot work with this configuration; retrying will not help."""


class AuthFailedError(StreamFatalError):
    """402 auth failed: the keys were refused."""


class _Reconnect(Exception):
    """End this connection and reconnect after a delay."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _ConnectionLimit(_Reconnect):
    """406: another connection with these keys is still open."""


@dataclass(frozen=True)
class StreamSettings:
    reply_timeout: float = 10.0
    """Seconds to wait for the welcome, the auth reply and the subscription reply."""
    open_timeout: float = 10.0
    ping_interval: float = 10.0
    ping_timeout: float = 20.0
    close_timeout: float = 2.0
    check_interval: float = 1.0
    """Seconds between silence checks (the threshold is 5 s or more)."""
    backoff_initial: float = 1.0
    backoff_cap: float = 60.0
    """Delays between failed handshakes (HTTP 429, refused...)."""
    limit_backoff_initial: float = 1.0
    limit_backoff_cap: float = 90.0
    """Delays after in-band failures (406 connection limit, errors, drops)."""

    def __post_init__(self) -> None:
        pairs = (("backoff_initial", "backoff_cap"), ("limit_backoff_initial", "limit_backoff_cap"))
        for base, cap in pairs:
            b, c = getattr(self, base), getattr(self, cap)
            try:
                Backoff(b, c)
            except ValueError:
                raise ValueError(
                    f"stream setting {base}={b!r}, {cap}={c!r}: need 0 < {base} <= {cap} seconds"
                ) from None


@dataclass
class StreamStats:
    connections: int = 0
    reconnects: int = 0
    """Connections that ended (any reason) after which the stream connected again."""
    subscribed: int = 0
    limit_406: int = 0
    handshake_retries: int = 0
    silent_replaced: int = 0
    dropped: int = 0
    malformed: int = 0


FrameHandler = Callable[[list[StreamBar], float], None]


class MarketDataStream:
    def __init__(
        self,
        url: str,
        key: str,
        secret: str,
        symbols: Sequence[str],
        *,
        on_frame: FrameHandler,
        on_state: Callable[[bool], None] = lambda connected: None,
        watch: SilenceWatch | None = None,
        settings: StreamSettings | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        if not symbols:
            raise ValueError("subscribe at least one symbol")
        self.url = url
        self._key = key
        self._secret = secret
        self.symbols = tuple(symbols)
        self._on_frame = on_frame
        self._on_state = on_state
        self.watch = watch or SilenceWatch()
        self.settings = settings or StreamSettings()
        self._now = monotonic
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.connected = False
        self.stats = StreamStats()
        self._got_data = False
        self._silent_reason: str | None = None
        s = self.settings
        self._handshake_backoff = Backoff(s.backoff_initial, s.backoff_cap, self._rng)
        self._session_backoff = Backoff(s.limit_backoff_initial, s.limit_backoff_cap, self._rng)
        self._retry: Iterator[float] = self._session_backoff.delays()

    # -- retry vs fatal for the library's loop

    def process_exception(self, exc: Exception) -> Exception | None:
        """None to retry a failed handshake, or the exception to raise (fatal)."""
        if isinstance(exc, InvalidStatus):
            status = exc.response.status_code
            if status == 429 or status >= 500:
                self.stats.handshake_retries += 1
                log.warning("market-data handshake answered HTTP %d; backing off before retrying", status)
                return None
            return StreamFatalError(
                f"market-data handshake at {self.url} answered HTTP {status}: check {STREAM_URL_VAR}"
            )
        if isinstance(exc, InvalidURI):
            return StreamFatalError(f"{STREAM_URL_VAR}={self.url!r} is not a websocket URL: {exc}")
        if isinstance(exc, OSError | TimeoutError | InvalidHandshake | EOFError):
            self.stats.handshake_retries += 1
            log.warning("market-data connection to %s failed: %s; retrying", self.url, exc or type(exc).__name__)
            return None
        return exc

    # -- the loop

    async def run(self) -> None:
        """Stream until cancelled; raises StreamFatalError when retrying cannot help."""
        s = self.settings
        conn = connect(
            self.url,
            process_exception=self.process_exception,
            reconnect_delays=self._handshake_backoff.delays,
            open_timeout=s.open_timeout,
            ping_interval=s.ping_interval,
            ping_timeout=s.ping_timeout,
            close_timeout=s.close_timeout,
            max_size=2**20,
            logger=log,
        )
        async with contextlib.aclosing(conn.__aiter__()) as connections:
            async for ws in connections:
                self.stats.connections += 1
                self._got_data = False
                try:
                    await self._session(ws)
                except _ConnectionLimit as e:
                    self.stats.limit_406 += 1
                    self.stats.reconnects += 1
                    delay = next(self._retry)
                    log.warning(
                        "connection limit (406: %s): another connection with these keys is still open "
                        "(a previous bridge?); retrying in %.1f s", e, delay,
                    )
                    await self._end(ws, delay)
                    continue
                except _Reconnect as e:
                    log.warning("market-data connection ended: %s", e.reason)
                except ConnectionClosed as e:
                    self.stats.dropped += 1
                    log.warning("market-data connection lost: %s", e)
                finally:
                    self._set_connected(False)
                if self._got_data:
                    self._retry = self._session_backoff.delays()
                self.stats.reconnects += 1
                delay = next(self._retry)
                log.info("reconnecting to the market-data stream in %.1f s", delay)
                await self._end(ws, delay)

    async def _end(self, ws: ClientConnection, delay: float) -> None:
        with contextlib.suppress(Exception):
            await ws.close()
        await self._sleep(delay)

    def _set_connected(self, value: bool) -> None:
        if self.connected != value:
            self.connected = value
            self._on_state(value)

    async def _session(self, ws: ClientConnection) -> None:
        """One connection's life; raises when it should be replaced."""
        await self._expect(ws, "welcome", lambda c: c.kind == "success" and c.msg == "connected")
        await ws.send(json.dumps({"action": "auth", "key": self._key, "secret": self._secret}))
        await self._expect(ws, "authentication", lambda c: c.kind == "success" and c.msg == "authenticated")
        syms = list(self.symbols)
        await ws.send(json.dumps({"action": "subscribe", "bars": syms, "updatedBars": syms}))
        sub = await self._expect(ws, "subscription", lambda c: c.kind == "subscription")
        granted = set((sub.raw or {}).get("bars") or [])
        if "*" not in granted and not granted >= set(syms):
            log.warning("subscription lacks bars for: %s", ", ".join(sorted(set(syms) - granted)))
        self.stats.subscribed += 1
        self.watch.on_subscribed(self._now())
        self._set_connected(True)
        log.info("subscribed to bars and updatedBars for %d symbols at %s", len(syms), self.url)
        self._silent_reason = None
        watchdog = asyncio.ensure_future(self._watch_silence(ws))
        try:
            async for frame in ws:  # ends on a normal close (ours after silence, or the server's)
                self._dispatch(frame)
        finally:
            watchdog.cancel()
        if self._silent_reason is not None:
            self.stats.silent_replaced += 1
            raise _Reconnect(self._silent_reason)
        self.stats.dropped += 1
        raise _Reconnect("the server closed the connection")

    async def _watch_silence(self, ws: ClientConnection) -> None:
        """Close ``ws`` once the feed has been silent too long while the market is open."""
        while True:
            await asyncio.sleep(self.settings.check_interval)
            now = self._now()
            if self.watch.is_silent(now):
                self._silent_reason = (
                    f"no data for {self.watch.silent_for(now):.1f} s while the market is open "
                    f"(threshold {self.watch.threshold():.1f} s): replacing a silent socket"
                )
                await ws.close()
                return

    async def _expect(self, ws: ClientConnection, what: str, match: Callable[[Control], bool]) -> Control:
        deadline = self._now() + self.settings.reply_timeout
        while True:
            left = deadline - self._now()
            if left <= 0:
                raise _Reconnect(f"no {what} reply within {self.settings.reply_timeout:.0f} s")
            try:
                async with asyncio.timeout(left):
                    frame = await ws.recv()
            except TimeoutError:
                continue
            found: Control | None = None
            bars: list[StreamBar] = []
            for m in parse_frame(frame):
                if isinstance(m, Control):
                    if m.kind == "error":
                        self._raise_for_error(m)
                    if found is None and match(m):
                        found = m
                elif isinstance(m, StreamBar):
                    bars.append(m)
            if bars:
                self._deliver(bars, self._now())
            if found is not None:
                return found

    def _dispatch(self, frame: str | bytes) -> None:
        """Deliver a frame's bars, then act on its first error message (if any): an error
        never costs the bars that came in the same frame."""
        now = self._now()
        bars: list[StreamBar] = []
        error: Control | None = None
        for m in parse_frame(frame):
            if isinstance(m, StreamBar):
                bars.append(m)
            elif isinstance(m, Control):
                if m.kind == "error" and error is None:
                    error = m
                log.debug("stream message %s %s", m.kind, m.msg)
            elif isinstance(m, Malformed):
                self.stats.malformed += 1
                log.warning("skipped a malformed stream message: %s", m.reason)
        if bars:
            self._deliver(bars, now)
        if error is not None:
            self._raise_for_error(error)

    def _deliver(self, bars: list[StreamBar], now: float) -> None:
        self._got_data = True
        for sb in bars:
            self.watch.on_data(now, None if sb.updated else sb.bar.t)
        self._on_frame(bars, now)

    def _raise_for_error(self, m: Control) -> None:
        code, msg = m.code, m.msg
        if code == 402:
            raise AuthFailedError(
                f"market-data authentication failed (402 {msg}): check {KEY_VAR} and {SECRET_VAR}"
            )
        if code == 406:
            raise _ConnectionLimit(msg or "connection limit exceeded")
        if code in (400, 405, 409):
            hint = {
                400: "the bridge sent a message the server did not understand",
                405: "too many symbols for this account",
                409: f"this feed is not in the account's subscription: check {STREAM_URL_VAR}",
            }[code]
            raise StreamFatalError(f"market-data stream error {code} ({msg}): {hint}")
        raise _Reconnect(f"stream error {code}: {msg}")


__all__ = ["AuthFailedError", "MarketDataStream", "StreamFatalError", "StreamSettings", "StreamStats"]

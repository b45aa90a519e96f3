"""The trade-updates websocket client (alpaca-protocol.md §6): the broker's order events,
handed to the engine's main loop through a thread-safe queue.

Where: the trading endpoint with a websocket scheme and ``/stream``
(``https://paper-api.alpaca.markets`` → ``wss://paper-api.alpaca.markets/stream``;
mockmarket serves the same path), see :func:`trade_stream_url`.

Protocol, on every connection: no welcome; the client sends
``{"action":"authenticate","data":{"key_id":K,"secret_key":S}}`` and waits for
``authorization``/``authorized``, then ``{"action":"listen","data":{"streams":["trade_updates"]}}``
and waits for ``listening``; then every frame is read with :func:`engine.trade_events.parse_frame`
(text or binary JSON, numbers as strings). A usable event goes into :attr:`TradeStream.items`;
a message that cannot be used is logged and skipped, never a crash.

Into the same queue go :class:`StreamStatus` items — up once listening, down when the
connection is lost — so the loop knows when to fall back to REST polling and when to
resync. Reconnects wait :class:`common.retry.Backoff` delays (exponential, with jitter),
the series restarting after a connection that got to listening; nothing is ever retried
without a pause. Keys refused (``unauthorized``) are logged as an error and retried at
the backoff's cap: the REST client meets the same keys and stops the engine (exit 2).

Why the synchronous client in a thread (websockets' ``sync.client``) and not asyncio:
the engine's loop is synchronous (a FIFO read with a timeout, then the minute), so one
background thread and a ``queue.Queue`` is the whole concurrency story — no event loop to
run, share or shut down beside it; ``recv(timeout)`` lets the thread see a stop request
within half a second; the library's own pings (every ``ping_interval``) detect a dead
socket; and a handful of events a minute needs no throughput. The thread only reads the
socket and parses: it never touches the journal or the broker view, which belong to the
main loop.

The key and secret are sent in the authenticate message only; they are never logged and
never part of an error message or a repr.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.exceptions import InvalidURI, WebSocketException
from websockets.sync.client import ClientConnection, connect

from common.retry import Backoff
from engine.trade_events import TRADE_UPDATES, Malformed, Reply, TradeEvent, parse_frame

log = logging.getLogger(__name__)
_WS_LOG = logging.getLogger(f"{__name__}.websocket")
_WS_LOG.setLevel(logging.INFO)  # the library logs frames at DEBUG: the authenticate frame holds the keys


def trade_stream_url(trading_url: str) -> str:
    """The trade-updates websocket of a trading endpoint (``http(s)`` → ``ws(s)``, ``/stream``)."""
    parts = urlsplit(trading_url)
    scheme = {"https": "wss", "http": "ws", "wss": "wss", "ws": "ws"}.get(parts.scheme)
    if scheme is None or not parts.hostname:
        raise ValueError(f"trading URL {trading_url!r} is not http(s)://host")
    path = parts.path.rstrip("/") + "/stream"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """The stream went up (listening) or down (the connection is gone)."""

    up: bool
    reason: str = ""


@dataclass(frozen=True)
class StreamSettings:
    open_timeout: float = 10.0
    reply_timeout: float = 10.0
    """Seconds to wait for the authorization and listening replies."""
    ping_interval: float = 10.0
    ping_timeout: float = 20.0
    close_timeout: float = 2.0
    stop_check_s: float = 0.5
    """Longest wait in ``recv`` before the thread looks at the stop request."""
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_message_bytes: int = 1 << 20


@dataclass
class StreamStats:
    connections: int = 0
    listening: int = 0
    events: int = 0
    malformed: int = 0
    drops: int = 0
    handshake_failures: int = 0


class _Reconnect(Exception):
    """End this connection and try again after a backoff delay."""


class _KeysRefused(_Reconnect):
    """``unauthorized``: retried at the backoff's cap."""


StreamItem = TradeEvent | StreamStatus
Connect = Callable[..., ClientConnection]


class TradeStream:
    """A background thread that keeps ``trade_updates`` flowing into :attr:`items`."""

    def __init__(
        self,
        url: str,
        key_id: str,
        secret: str,
        *,
        settings: StreamSettings | None = None,
        rng: random.Random | None = None,
        connector: Connect = connect,
    ) -> None:
        self.url = url
        self._key_id = key_id
        self._secret = secret
        self.settings = settings or StreamSettings()
        self._backoff = Backoff(self.settings.backoff_base, self.settings.backoff_cap,
                                rng or random.Random())  # fmt: skip
        self._connect = connector
        self.items: queue.Queue[StreamItem] = queue.Queue()
        self.stats = StreamStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ws: ClientConnection | None = None
        self._lock = threading.Lock()
        self.up = False

    def __repr__(self) -> str:
        return f"TradeStream(url={self.url!r}, up={self.up})"

    # ------------------------------------------------------------------ life

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("the trade stream is started already")
        self._thread = threading.Thread(target=self._run, name="trade-stream", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to end, close the socket, wait up to ``timeout`` s for it."""
        self._stop.set()
        with self._lock:
            ws = self._ws
        if ws is not None:
            try:
                ws.close()
            except (OSError, WebSocketException, RuntimeError) as e:
                log.debug("closing the trade stream: %r", e)
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            try:
                got_up = self._connection()
            except InvalidURI as e:
                log.error("trade-updates stream disabled: %s (REST polling stays on)", e)
                return
            except _KeysRefused as e:
                got_up = False
                log.error("trade-updates stream: %s", e)
                attempt = max(attempt, 64)  # the cap: the keys will not change by themselves
            except _Reconnect as e:
                got_up = False
                log.warning("trade-updates stream: %s", e)
            except (OSError, WebSocketException) as e:  # refused, reset, timed out, closed, bad handshake
                got_up = self.up  # False: the connection or its handshake failed
                if self._stop.is_set():
                    log.debug("trade-updates stream closed: %s", e)
                    return
                if not got_up:
                    self.stats.handshake_failures += 1
                log.warning("trade-updates stream: %s: %s", type(e).__name__, e)
            finally:
                self._went_down()
            if self._stop.is_set():
                return
            attempt = 0 if got_up else attempt
            delay = self._backoff.delay(attempt)
            attempt += 1
            log.info("trade-updates stream: reconnecting in %.2f s", delay)
            self._stop.wait(delay)

    def _went_down(self) -> None:
        with self._lock:
            self._ws = None
        if self.up:
            self.up = False
            self.stats.drops += 1
            self.items.put(StreamStatus(False, "connection lost"))

    def _connection(self) -> bool:
        """One connection, to its end; True if it got to listening."""
        s = self.settings
        ws = self._connect(
            self.url,
            open_timeout=s.open_timeout,
            ping_interval=s.ping_interval,
            ping_timeout=s.ping_timeout,
            close_timeout=s.close_timeout,
            max_size=s.max_message_bytes,
            logger=_WS_LOG,
        )
        with ws:
            with self._lock:
                self._ws = ws
            self.stats.connections += 1
            if self._stop.is_set():
                return False
            self._handshake(ws)
            self.up = True
            self.stats.listening += 1
            log.info("trade-updates stream: listening on %s", self.url)
            self.items.put(StreamStatus(True, "listening"))
            while not self._stop.is_set():
                try:
                    raw = ws.recv(timeout=s.stop_check_s)
                except TimeoutError:
                    continue
                self._frame(raw)
        return True

    def _send(self, ws: ClientConnection, action: str, data: dict[str, Any]) -> None:
        ws.send(json.dumps({"action": action, "data": data}))

    def _reply(self, ws: ClientConnection, stream: str) -> Reply:
        """Wait for the protocol reply on ``stream`` (events before it are queued)."""
        while True:
            try:
                raw = ws.recv(timeout=self.settings.reply_timeout)
            except TimeoutError:
                raise _Reconnect(f"no {stream!r} reply within {self.settings.reply_timeout:g} s") from None
            for item in parse_frame(raw):
                if isinstance(item, Reply) and item.stream == stream:
                    return item
                if isinstance(item, Reply) and item.stream == "error":
                    raise _Reconnect(f"error before {stream!r}: {dict(item.data)}")
                self._item(item)

    def _handshake(self, ws: ClientConnection) -> None:
        self._send(ws, "authenticate", {"key_id": self._key_id, "secret_key": self._secret})
        auth = self._reply(ws, "authorization")
        if auth.data.get("status") != "authorized":
            raise _KeysRefused(
                "the broker refused the keys (authorization "
                f"{auth.data.get('status')!r}); check ALPACA_PAPER_API_KEY/ALPACA_PAPER_SECRET_KEY"
            )
        self._send(ws, "listen", {"streams": [TRADE_UPDATES]})
        listening = self._reply(ws, "listening")
        streams = listening.data.get("streams")
        if not isinstance(streams, list) or TRADE_UPDATES not in streams:
            raise _Reconnect(f"listening reply without {TRADE_UPDATES!r}: {streams!r}")

    def _frame(self, raw: str | bytes) -> None:
        for item in parse_frame(raw):
            self._item(item)

    def _item(self, item: TradeEvent | Reply | Malformed) -> None:
        if isinstance(item, TradeEvent):
            self.stats.events += 1
            self.items.put(item)
        elif isinstance(item, Malformed):
            self.stats.malformed += 1
            log.warning("trade-updates message skipped: %s", item.reason)
        elif item.stream == "error":
            log.warning("trade-updates stream error: %s", dict(item.data))
        else:
            log.debug("trade-updates %s: %s", item.stream, dict(item.data))


__all__ = ["StreamSettings", "StreamStats", "StreamStatus", "TradeStream", "trade_stream_url"]

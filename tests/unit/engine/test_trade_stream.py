"""The trade-updates client against a real local websocket server that fails on demand:
authenticate and listen, events into the queue, ups and downs, reconnects after backoff
delays, malformed messages skipped, the keys never logged."""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections.abc import Iterator
from http import HTTPStatus

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from engine.trade_events import TradeEvent
from engine.trade_stream import StreamSettings, StreamStatus, TradeStream, trade_stream_url

KEY, SECRET = "PKSTREAMKEY42", "STREAMSECRET4242"
FAST = StreamSettings(open_timeout=2, reply_timeout=0.5, stop_check_s=0.05, backoff_base=0.01,
                      backoff_cap=0.05, close_timeout=0.5)  # fmt: skip


def fill_event(cid: str = "it-rot-20251016-1000-TQQQ-b-0", filled: str = "10") -> dict:
    return {"stream": "trade_updates", "data": {
        "event": "fill", "execution_id": f"x-{filled}", "qty": filled, "price": "50.5",
        "timestamp": "2025-10-16T14:01:00Z", "position_qty": filled,
        "order": {"id": "b-1", "client_order_id": cid, "symbol": "TQQQ", "side": "buy",
                  "qty": filled, "filled_qty": filled, "filled_avg_price": "50.5",
                  "status": "filled", "type": "market", "time_in_force": "day",
                  "created_at": "2025-10-16T14:00:59Z"}}}  # fmt: skip


class Scripted:
    """Each connection takes the next plan: ok | drop | unauthorized | http503 | mute | garbage.

    ``ok`` authenticates, listens and stays open (the test sends events with :meth:`send`);
    ``drop`` closes right after listening; ``unauthorized`` refuses the keys; ``http503``
    refuses the handshake; ``mute`` never answers; ``garbage`` sends malformed messages,
    then an event, then stays open. Plans run out → ``ok``."""

    def __init__(self, plans: list[str]) -> None:
        self.plans = list(plans)
        self.received: list[dict] = []
        self.active: ServerConnection | None = None
        self.listening = threading.Event()
        self._plan_of: dict[int, str] = {}
        self.server = serve(self.handler, "127.0.0.1", 0, process_request=self.process_request)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/stream"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def process_request(self, connection: ServerConnection, request: object):
        plan = self.plans.pop(0) if self.plans else "ok"
        if plan == "http503":
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "try later\n")
        self._plan_of[id(connection)] = plan
        return None

    def handler(self, ws: ServerConnection) -> None:
        plan = self._plan_of.pop(id(ws), "ok")
        try:
            if plan == "mute":
                ws.recv()
                ws.recv(timeout=5)
                return
            self.received.append(json.loads(ws.recv()))
            status = "unauthorized" if plan == "unauthorized" else "authorized"
            ws.send(json.dumps({"stream": "authorization", "data": {"status": status, "action": "authenticate"}}))
            if plan == "unauthorized":
                return
            self.received.append(json.loads(ws.recv()))
            ws.send(json.dumps({"stream": "listening", "data": {"streams": ["trade_updates"]}}).encode())
            if plan == "drop":
                return
            if plan == "garbage":
                for raw in ("not json", "[]", '{"stream":"trade_updates","data":{"event":"fill"}}',
                            '{"stream":"error","data":{"code":500,"message":"internal"}}'):  # fmt: skip
                    ws.send(raw)
                ws.send(json.dumps(fill_event(filled="3")).encode())
            self.active = ws
            self.listening.set()
            for _ in ws:  # until the client or the server's shutdown closes it
                pass
        except ConnectionClosed:
            pass

    def send(self, msg: dict) -> None:
        assert self.listening.wait(5), "no connection got to listening"  # the client may know first
        assert self.active is not None
        self.active.send(json.dumps(msg).encode())

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def server_of() -> Iterator:
    made: list[Scripted] = []

    def make(*plans: str) -> Scripted:
        s = Scripted(list(plans))
        made.append(s)
        return s

    yield make
    for s in made:
        s.close()


@pytest.fixture
def client_of() -> Iterator:
    made: list[TradeStream] = []

    def make(url: str) -> TradeStream:
        c = TradeStream(url, KEY, SECRET, settings=FAST, rng=random.Random(7))
        made.append(c)
        c.start()
        return c

    yield make
    for c in made:
        c.stop(timeout=5)


def take(q: queue.Queue, n: int, timeout: float = 10.0) -> list:
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < n:
        out.append(q.get(timeout=max(0.01, deadline - time.monotonic())))
    return out


def test_it_authenticates_listens_and_queues_events(server_of, client_of) -> None:
    srv = server_of("ok")
    c = client_of(srv.url)
    (up,) = take(c.items, 1)
    assert up == StreamStatus(True, "listening") and c.up
    assert srv.received == [
        {"action": "authenticate", "data": {"key_id": KEY, "secret_key": SECRET}},
        {"action": "listen", "data": {"streams": ["trade_updates"]}},
    ]
    srv.send(fill_event())
    (ev,) = take(c.items, 1)
    assert isinstance(ev, TradeEvent) and ev.event == "fill" and ev.order.filled_qty == 10
    assert c.stats.events == 1


def test_a_dropped_connection_goes_down_and_comes_back(server_of, client_of) -> None:
    srv = server_of("drop", "ok")
    c = client_of(srv.url)
    items = take(c.items, 3)
    assert items == [StreamStatus(True, "listening"), StreamStatus(False, "connection lost"),
                     StreamStatus(True, "listening")]  # fmt: skip
    assert c.stats.drops == 1 and c.stats.listening == 2
    srv.send(fill_event())
    assert isinstance(take(c.items, 1)[0], TradeEvent)


def test_refusals_are_retried_after_a_pause_and_the_keys_never_logged(server_of, client_of, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    srv = server_of("http503", "unauthorized", "mute", "ok")
    started = time.monotonic()
    c = client_of(srv.url)
    assert take(c.items, 1) == [StreamStatus(True, "listening")]
    assert time.monotonic() - started >= FAST.reply_timeout  # the mute one timed out first
    assert c.stats.connections == 3 and c.stats.handshake_failures == 1
    ours = [r for r in caplog.records if r.name.startswith("engine")]  # the test server logs frames
    log = "\n".join(r.getMessage() for r in ours)
    assert "HTTP 503" in log and "refused the keys" in log and "no 'authorization' reply" in log
    assert log.count("reconnecting in") == 3
    assert SECRET not in log and KEY not in log
    # the library logs frames (the authenticate one holds the keys) at DEBUG: never ours
    assert logging.getLogger("engine.trade_stream.websocket").level == logging.INFO


def test_malformed_messages_are_skipped(server_of, client_of, caplog) -> None:
    srv = server_of("garbage")
    c = client_of(srv.url)
    items = take(c.items, 2)
    assert items[0] == StreamStatus(True, "listening")
    assert isinstance(items[1], TradeEvent) and items[1].order.filled_qty == 3
    assert c.stats.malformed == 3 and c.items.empty()
    assert "trade-updates message skipped: not JSON" in caplog.text
    assert "trade-updates stream error" in caplog.text


def test_stop_ends_the_thread_promptly(server_of, client_of) -> None:
    srv = server_of("ok")
    c = client_of(srv.url)
    take(c.items, 1)
    started = time.monotonic()
    c.stop(timeout=5)
    assert not c.running and time.monotonic() - started < 2


def test_the_url_of_the_stream() -> None:
    assert trade_stream_url("https://paper-api.alpaca.markets") == "wss://paper-api.alpaca.markets/stream"
    assert trade_stream_url("http://127.0.0.1:8123/") == "ws://127.0.0.1:8123/stream"
    with pytest.raises(ValueError, match="is not http"):
        trade_stream_url("ftp://example.com")

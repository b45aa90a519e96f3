"""The websocket client against a real local server that fails in a chosen way on each try."""

from __future__ import annotations

import asyncio
import random

import pytest

from bridge.silence import SilenceWatch
from bridge.stream import AuthFailedError, MarketDataStream, StreamFatalError, StreamSettings

SYMS = ["AAA", "BBB"]
FAST = StreamSettings(
    reply_timeout=0.3, open_timeout=2.0, close_timeout=0.5, check_interval=0.02,
    backoff_initial=0.01, backoff_cap=0.05, limit_backoff_initial=0.02, limit_backoff_cap=0.2,
)


class Harness:
    def __init__(self, kit, fake, watch: SilenceWatch | None = None) -> None:
        self.kit = kit
        self.fake = fake
        self.frames: list = []
        self.states: list[bool] = []
        self.delays: list[float] = []

        async def sleep(d: float) -> None:
            self.delays.append(d)
            await asyncio.sleep(d)

        self.stream = MarketDataStream(
            fake.url, kit.KEY, kit.SECRET, SYMS,
            on_frame=lambda bars, now: self.frames.append(bars),
            on_state=self.states.append,
            watch=watch or SilenceWatch(min_silence_s=0.2, fallback_s=5.0),
            settings=FAST, sleep=sleep, rng=random.Random(1),
        )
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.ensure_future(self.stream.run())

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.wait({self.task}, timeout=3)
        assert self.task.cancelled(), "the stream did not stop when cancelled"


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_connects_authenticates_subscribes_and_delivers_bars(kit):
    async def main():
        async with kit.FakeStream() as fake:
            h = Harness(kit, fake)
            h.start()
            await kit.wait_for(lambda: h.stream.connected, what="subscription")
            (conn,) = fake.connections
            assert conn["auth"] == {"action": "auth", "key": kit.KEY, "secret": kit.SECRET}
            assert conn["subscribe"] == {"action": "subscribe", "bars": SYMS, "updatedBars": SYMS}
            await fake.send([kit.bar_msg("AAA", kit.minute(0)), kit.bar_msg("BBB", kit.minute(0), kind="u")])
            await kit.wait_for(lambda: h.frames, what="a frame")
            (frame,) = h.frames
            assert [(sb.bar.symbol, sb.updated) for sb in frame] == [("AAA", False), ("BBB", True)]
            assert frame[0].bar.t == kit.minute(0)
            assert h.states == [True]
            await h.stop()
            await kit.wait_for(lambda: fake.active is None, what="server to see the close")
            assert h.states == [True, False]

    run(main())


def test_resubscribes_on_every_connection(kit):
    async def main():
        async with kit.FakeStream(["drop", "err500", "ok"]) as fake:
            h = Harness(kit, fake)
            h.start()
            await kit.wait_for(lambda: fake.active is not None, what="third connection")
            assert [c["plan"] for c in fake.connections] == ["drop", "err500", "ok"]
            assert all(c["subscribe"] == {"action": "subscribe", "bars": SYMS, "updatedBars": SYMS}
                       for c in fake.connections)
            assert h.stream.stats.dropped == 1 and len(h.delays) == 2
            await h.stop()

    run(main())


def test_auth_failed_is_fatal_and_names_the_variables_not_the_values(kit):
    async def main():
        async with kit.FakeStream(["402"]) as fake:
            h = Harness(kit, fake)
            h.start()
            with pytest.raises(AuthFailedError) as e:
                await h.task
            msg = str(e.value)
            assert "ALPACA_PAPER_API_KEY" in msg and "ALPACA_PAPER_SECRET_KEY" in msg
            assert kit.KEY not in msg and kit.SECRET not in msg
            assert fake.handshakes == 1

    run(main())


def test_connection_limit_backs_off_with_growing_jittered_delays(kit):
    async def main():
        async with kit.FakeStream(["406", "406", "406", "ok"]) as fake:
            h = Harness(kit, fake)
            h.start()
            await kit.wait_for(lambda: h.stream.connected, what="subscription after 406s")
            assert h.stream.stats.limit_406 == 3 and h.stream.stats.reconnects == 3
            d = h.delays
            assert len(d) == 3
            assert 0.01 <= d[0] <= 0.02 and 0.02 <= d[1] <= 0.04 and 0.04 <= d[2] <= 0.08
            await h.stop()

    run(main())


def test_handshake_429_is_retried_by_the_librarys_loop(kit):
    async def main():
        async with kit.FakeStream(["429", "429", "ok"]) as fake:
            h = Harness(kit, fake)
            h.start()
            await kit.wait_for(lambda: h.stream.connected, what="subscription after 429s")
            assert fake.handshakes == 3 and len(fake.connections) == 1
            assert h.stream.stats.handshake_retries == 2
            await h.stop()

    run(main())


def test_other_handshake_refusals_are_fatal(kit):
    async def main():
        async with kit.FakeStream(["http404"]) as fake:
            h = Harness(kit, fake)
            h.start()
            with pytest.raises(StreamFatalError, match="HTTP 404.*ALPACA_STREAM_URL"):
                await h.task

    run(main())


def test_refused_tcp_connection_is_retried(kit):
    async def main():
        async with kit.FakeStream() as fake:
            url = fake.url
        # the server is gone: connection refused, retried until it comes back on the same port
        port = int(url.rsplit(":", 1)[1].split("/")[0])
        fake2 = kit.FakeStream()
        h = Harness(kit, fake2)
        h.stream.url = url
        h.start()
        await kit.wait_for(lambda: h.stream.stats.handshake_retries >= 2, what="retries")
        from websockets.asyncio.server import serve

        server = await serve(fake2.handler, "127.0.0.1", port, process_request=fake2.process_request)
        try:
            await kit.wait_for(lambda: h.stream.connected, what="subscription after the server came back")
        finally:
            await h.stop()
            server.close()
            await server.wait_closed()

    run(main())


def test_missing_welcome_times_out_and_reconnects(kit):
    async def main():
        async with kit.FakeStream(["mute", "ok"]) as fake:
            h = Harness(kit, fake)
            h.start()
            await kit.wait_for(lambda: h.stream.connected, what="second connection")
            assert [c["plan"] for c in fake.connections] == ["mute", "ok"]
            assert h.stream.stats.reconnects == 1
            await h.stop()

    run(main())


def test_silent_socket_is_replaced(kit):
    async def main():
        async with kit.FakeStream(["ok", "ok"]) as fake:
            watch = SilenceWatch(min_silence_s=0.3, factor=2.0, fallback_s=5.0)
            h = Harness(kit, fake, watch)
            h.start()
            await kit.wait_for(lambda: fake.active is not None, what="subscription")
            for i in range(5):  # a lively feed: a new minute every 20 ms
                await fake.send([kit.bar_msg("AAA", kit.minute(i))])
                await asyncio.sleep(0.02)
            await kit.wait_for(lambda: len(h.frames) == 5, what="frames")
            first = fake.active
            assert watch.threshold() == pytest.approx(0.3)
            # now the socket stays open, answers pings, and sends nothing
            await kit.wait_for(lambda: len(fake.connections) == 2 and fake.active is not None,
                               timeout=5, what="replacement connection")
            assert fake.active is not first
            assert h.stream.stats.silent_replaced == 1 and h.stream.stats.reconnects == 1
            await h.stop()

    run(main())


def test_silence_with_the_market_closed_keeps_the_socket(kit):
    async def main():
        async with kit.FakeStream() as fake:
            watch = SilenceWatch(min_silence_s=0.1, factor=2.0, fallback_s=5.0)
            h = Harness(kit, fake, watch)
            h.start()
            await kit.wait_for(lambda: fake.active is not None, what="subscription")
            for i in range(385, 390):  # the session's last minutes, then the close
                await fake.send([kit.bar_msg("AAA", kit.minute(i))])
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)
            assert len(fake.connections) == 1 and h.stream.stats.silent_replaced == 0
            await h.stop()

    run(main())


@pytest.mark.parametrize(("kw", "name"), [
    ({"backoff_initial": 0.0}, "backoff_initial"),
    ({"backoff_initial": 2.0, "backoff_cap": 1.0}, "backoff_cap"),
    ({"limit_backoff_initial": float("nan")}, "limit_backoff_initial"),
    ({"limit_backoff_cap": 0.5}, "limit_backoff_cap"),
])
def test_bad_backoff_settings_are_refused_by_name(kw, name):
    with pytest.raises(ValueError, match=name):
        StreamSettings(**kw)

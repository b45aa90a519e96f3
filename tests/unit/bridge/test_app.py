"""The bridge's wiring: a real local stream server, a real FIFO and a reader."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random

import pytest

from bridge.app import Bridge, BridgeSettings
from bridge.stream import AuthFailedError, StreamSettings
from common.batch_line import Heartbeat, decode_line
from common.fifo import FifoLineReader, FifoPathError, FifoWriter
from common.minute import Minute

SYMS = ("AAA", "BBB", "CCC")
FAST = BridgeSettings(
    flush_deadline_s=0.3, heartbeat_s=0.1, tick_s=0.02, path_check_s=0.05,
    silence_min_s=5.0, silence_fallback_s=30.0,
    stream=StreamSettings(reply_timeout=1.0, close_timeout=0.5, check_interval=0.05,
                          backoff_initial=0.01, backoff_cap=0.05,
                          limit_backoff_initial=0.01, limit_backoff_cap=0.05),
)
SEEDS = {"AAA": 1.0, "BBB": 2.0, "CCC": 3.0}


def make_bridge(kit, fake, fifo_path, seeds=SEEDS, settings=FAST) -> Bridge:
    return Bridge(
        SYMS, url=fake.url, key=kit.KEY, secret=kit.SECRET,
        writer=FifoWriter(fifo_path, max_buffered=50), settings=settings,
        seed=(lambda symbols: dict(seeds)) if seeds is not None else None, rng=random.Random(5),
    )


class Lines:
    """Reads the FIFO in a thread; keeps decoded batches and heartbeats."""

    def __init__(self, path) -> None:
        self.reader = FifoLineReader(path, check_interval=0.05)
        self.batches: list[Minute] = []
        self.heartbeats: list[Heartbeat] = []

    async def pump(self, stop: asyncio.Event) -> None:
        self.reader.open()
        try:
            while not stop.is_set():
                line = await asyncio.to_thread(self.reader.readline, 0.05)
                if line is None:
                    continue
                msg = decode_line(line)
                (self.batches if isinstance(msg, Minute) else self.heartbeats).append(msg)
        finally:
            self.reader.close()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


async def start(bridge: Bridge, lines: Lines | None):
    stop = asyncio.Event()
    task = asyncio.ensure_future(bridge.run(stop))
    pump = asyncio.ensure_future(lines.pump(stop)) if lines else None
    return stop, task, pump


async def finish(stop, task, pump) -> None:
    stop.set()
    await asyncio.wait_for(task, 5)
    if pump is not None:
        await asyncio.wait_for(pump, 5)


def test_minutes_arrive_complete_in_order_with_filled_symbols_marked(kit, fifo_path):
    async def main():
        async with kit.FakeStream() as fake:
            # a deadline long enough that minute 0 can only be closed by minute 1's arrival
            bridge = make_bridge(kit, fake, fifo_path, settings=dataclasses.replace(FAST, flush_deadline_s=1.0))
            lines = Lines(fifo_path)
            handles = await start(bridge, lines)
            await kit.wait_for(lambda: fake.active is not None, what="subscription")
            # minute 0: BBB missing (filled from its seed); minute 1 complete; minute 2 out of order
            await fake.send([kit.bar_msg("AAA", kit.minute(0), 10.0), kit.bar_msg("CCC", kit.minute(0), 30.0)])
            await fake.send([kit.bar_msg(s, kit.minute(1), 11.0) for s in SYMS])
            await fake.send([kit.bar_msg("CCC", kit.minute(2), 12.0), kit.bar_msg("AAA", kit.minute(2), 12.0),
                             kit.bar_msg("AAA", kit.minute(2), 12.0)])  # duplicate
            await kit.wait_for(lambda: len(lines.batches) == 3, what="three batches")
            await kit.wait_for(lambda: any(h.last_t == kit.minute(2) for h in lines.heartbeats), what="heartbeat")
            await finish(*handles)
        b0, b1, b2 = lines.batches
        assert [b.t for b in lines.batches] == [kit.minute(i) for i in range(3)]
        assert [x.symbol for x in b0.bars.values()] == list(SYMS)
        assert [x.symbol for x in b0.bars.values() if x.filled] == ["BBB"]
        assert b0.bars["BBB"].close == 2.0 and b0.bars["BBB"].volume == 0
        assert not any(x.filled for x in b1.bars.values())
        assert [x.symbol for x in b2.bars.values() if x.filled] == ["BBB"] and b2.bars["BBB"].close == 11.0
        assert bridge.stats.by_reason == {"later": 1, "complete": 1, "deadline": 1}
        assert any(h.connected and h.last_t == kit.minute(2) for h in lines.heartbeats)
        assert len(bridge.latencies) == 1  # the complete minute

    run(main())


def test_lines_wait_for_a_late_reader_and_keep_their_order(kit, fifo_path):
    async def main():
        async with kit.FakeStream() as fake:
            bridge = make_bridge(kit, fake, fifo_path)
            handles = await start(bridge, None)
            await kit.wait_for(lambda: fake.active is not None, what="subscription")
            for i in range(5):
                await fake.send([kit.bar_msg(s, kit.minute(i)) for s in SYMS])
            await kit.wait_for(lambda: bridge.stats.batches == 5, what="five batches")
            assert bridge.writer.buffered == 5 and not bridge.writer.attached
            lines = Lines(fifo_path)
            stop, task, _ = handles
            pump = asyncio.ensure_future(lines.pump(stop))
            await kit.wait_for(lambda: len(lines.batches) == 5, what="buffered batches")
            await finish(stop, task, pump)
        assert [b.t for b in lines.batches] == [kit.minute(i) for i in range(5)]

    run(main())


def test_unsafe_fifo_path_stops_the_bridge_before_connecting(kit, tmp_path):
    async def main():
        async with kit.FakeStream() as fake:
            target = tmp_path / "target"
            target.write_text("")
            link = tmp_path / "link.fifo"
            link.symlink_to(target)
            bridge = make_bridge(kit, fake, link)
            with pytest.raises(FifoPathError, match="symlink"):
                await bridge.run(asyncio.Event())
            assert fake.handshakes == 0

    run(main())


def test_auth_failure_ends_the_run(kit, fifo_path):
    async def main():
        async with kit.FakeStream(["402"]) as fake:
            bridge = make_bridge(kit, fake, fifo_path)
            with pytest.raises(AuthFailedError):
                await bridge.run(asyncio.Event())
            assert not bridge.writer.attached

    run(main())


def test_fifo_deleted_while_running_is_recreated_and_the_reader_follows(kit, fifo_path):
    async def main():
        async with kit.FakeStream() as fake:
            bridge = make_bridge(kit, fake, fifo_path)
            lines = Lines(fifo_path)
            handles = await start(bridge, lines)
            await kit.wait_for(lambda: fake.active is not None, what="subscription")
            await fake.send([kit.bar_msg(s, kit.minute(0)) for s in SYMS])
            await kit.wait_for(lambda: len(lines.batches) == 1, what="first batch")
            fifo_path.unlink()
            await kit.wait_for(lambda: fifo_path.exists(), what="FIFO recreated")
            await fake.send([kit.bar_msg(s, kit.minute(1)) for s in SYMS])
            await kit.wait_for(lambda: len(lines.batches) == 2, what="batch after recreation")
            await finish(*handles)
        assert [b.t for b in lines.batches] == [kit.minute(0), kit.minute(1)]

    run(main())


def test_heartbeat_reports_disconnection(kit, fifo_path):
    async def main():
        async with kit.FakeStream(["406"] * 1000) as fake:  # never gets in
            bridge = make_bridge(kit, fake, fifo_path)
            lines = Lines(fifo_path)
            handles = await start(bridge, lines)
            await kit.wait_for(lambda: len(lines.heartbeats) >= 3, what="heartbeats")
            await finish(*handles)
        assert not any(h.connected for h in lines.heartbeats)
        assert all(h.last_t is None for h in lines.heartbeats)
        assert bridge.stream.stats.limit_406 >= 1

    run(main())


def test_settings_are_validated():
    with pytest.raises(ValueError, match="flush_deadline_s"):
        BridgeSettings(flush_deadline_s=0)
    with pytest.raises(ValueError, match="max_buffered_lines"):
        BridgeSettings(max_buffered_lines=0)


def test_heartbeat_line_shape(kit, fifo_path):
    async def main():
        async with kit.FakeStream() as fake:
            bridge = make_bridge(kit, fake, fifo_path)
            reader = FifoLineReader(fifo_path)
            reader.open()
            stop, task, _ = await start(bridge, None)
            line = await asyncio.to_thread(reader.readline, 3)
            await finish(stop, task, None)
            reader.close()
        obj = json.loads(line)
        assert obj["type"] == "heartbeat" and set(obj) == {"type", "ts", "connected", "last_t"}

    run(main())

from __future__ import annotations

import asyncio

from mockmarket.clock import SimClock
from mockmarket.corrections import CorrectionPolicy
from mockmarket.counters import Counters
from mockmarket.data_stream import DataStreamHub
from mockmarket.faults import Faults
from mockmarket.minute_loop import MinuteLoop, first_boundary

MIN = 60_000


class RecordingBroker:
    def __init__(self, events: list, fail_at: int | None = None) -> None:
        self.events = events
        self.fail_at = fail_at

    def on_minute(self, minute_start_ms: int) -> None:
        self.events.append(("minute", minute_start_ms))
        if minute_start_ms == self.fail_at:
            raise RuntimeError("broker trouble")


class RecordingHub(DataStreamHub):
    def __init__(self, clock: SimClock, events: list) -> None:
        super().__init__(clock, Faults(), Counters(), lambda k, s: False)
        self.events = events

    def publish(self, bars, kind="b"):
        if bars:
            self.events.append(
                (kind, bars[0].t, tuple(b.symbol for b in bars), tuple(b.volume for b in bars))
            )
        return super().publish(bars, kind)


async def settle(loop: MinuteLoop, instant: int) -> None:
    """Let the loop task run until it waits for ``instant`` (paused clock: no real sleeps)."""
    for _ in range(10_000):
        if loop.waiting_until == instant and loop.clock.now_ms() < instant:
            return
        await asyncio.sleep(0)
    raise AssertionError(f"loop not waiting for {instant} (waits for {loop.waiting_until})")


def run_scenario(
    store, start_ms: int, script, *, rate: float = 0.0, fail_at: int | None = None
) -> list:
    events: list = []

    async def main() -> None:
        clock = SimClock(start_ms, paused=True)
        loop = MinuteLoop(
            clock,
            store,
            RecordingBroker(events, fail_at),
            RecordingHub(clock, events),
            CorrectionPolicy(rate, seed=1),
        )
        task = asyncio.create_task(loop.run())
        try:
            await script(clock, loop)
        finally:
            task.cancel()

    asyncio.run(main())
    return events


def test_first_boundary():
    assert first_boundary(600_000) == 600_000
    assert first_boundary(600_001) == 660_000
    assert first_boundary(659_999) == 660_000


def test_each_minute_in_order_broker_first_then_the_bars_of_the_minute_before(store, facts):
    t0 = facts.ny_ms(facts.replay, "10:00")

    async def script(clock, loop):
        await settle(loop, t0 + 1000)
        clock.step(1000)
        await settle(loop, t0 + MIN)
        clock.step(MIN - 1000)
        await settle(loop, t0 + MIN + 1000)

    events = run_scenario(store, t0, script)
    assert [e[:2] for e in events] == [("minute", t0), ("b", t0 - MIN), ("minute", t0 + MIN)]
    assert events[1][2] == tuple(b.symbol for b in store.bars_at_minute(t0 - MIN))


def test_a_jump_never_skips_a_minute(store, facts):
    start = facts.ny_ms(facts.replay, "09:58") + 30_000
    target = facts.ny_ms(facts.replay, "10:05") + 500

    async def script(clock, loop):
        await settle(loop, facts.ny_ms(facts.replay, "09:59"))
        clock.set_time(target)
        await settle(loop, facts.ny_ms(facts.replay, "10:05") + 1000)

    events = run_scenario(store, start, script)
    minutes = [t for kind, t, *_ in events if kind == "minute"]
    published = [t for kind, t, *_ in events if kind == "b"]
    assert minutes == [
        facts.ny_ms(facts.replay, f"{h}")
        for h in ("09:59", "10:00", "10:01", "10:02", "10:03", "10:04", "10:05")
    ]
    assert published == [m - MIN for m in minutes[:-1]]
    # strictly interleaved: minute M, then bars of M-1, then minute M+1...
    kinds = [e[0] for e in events]
    assert kinds == ["minute", "b"] * 6 + ["minute"]


def test_no_bars_outside_the_session_but_the_broker_hears_every_minute(store, facts):
    start = facts.ny_ms(facts.replay, "09:27")

    async def script(clock, loop):
        await settle(loop, start + 1000)
        clock.set_time(facts.ny_ms(facts.replay, "09:32") + 2000)
        await settle(loop, facts.ny_ms(facts.replay, "09:33"))

    events = run_scenario(store, start, script)
    assert [t for k, t, *_ in events if k == "minute"] == [
        facts.ny_ms(facts.replay, f"09:{m}") for m in range(27, 33)
    ]
    assert [t for k, t, *_ in events if k == "b"] == [
        facts.ny_ms(facts.replay, f"09:{m}") for m in range(30, 32)
    ]


def test_corrections_follow_thirty_seconds_later_with_the_truth(store, facts):
    t0 = facts.ny_ms(facts.replay, "10:00")

    async def script(clock, loop):
        await settle(loop, t0 + 1000)
        clock.step(1000)
        await settle(loop, t0 + 31_000)
        clock.step(30_000)
        await settle(loop, t0 + MIN)

    events = run_scenario(store, t0, script, rate=1.0)
    truth = store.bars_at_minute(t0 - MIN)
    assert [e[0] for e in events] == ["minute", "b", "u"]
    _, _, symbols, pre_volumes = events[1]
    _, _, u_symbols, true_volumes = events[2]
    assert symbols == u_symbols == tuple(b.symbol for b in truth)
    assert true_volumes == tuple(b.volume for b in truth)
    assert all(p < v for p, v in zip(pre_volumes, true_volumes, strict=True))


def test_a_broker_failure_does_not_stop_the_loop(store, facts):
    t0 = facts.ny_ms(facts.replay, "10:00")

    async def script(clock, loop):
        await settle(loop, t0 + 1000)
        clock.step(2 * MIN + 1000)
        await settle(loop, t0 + 3 * MIN)

    events = run_scenario(store, t0, script, fail_at=t0)
    assert [t for k, t, *_ in events if k == "minute"] == [t0, t0 + MIN, t0 + 2 * MIN]
    assert len([e for e in events if e[0] == "b"]) == 3

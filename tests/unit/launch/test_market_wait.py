"""launch.market_wait: waiting for the open on the broker's clock, at whatever pace it runs."""

from __future__ import annotations

from datetime import date

import pytest

from common.calendar import from_ms, ny_datetime, to_ms
from common.rest_models import BrokerClock
from common.stop_flag import StopFlag
from launch.market_wait import ClockPace, duration, wait_until

DAY = date(2025, 10, 16)
OPEN = to_ms(ny_datetime(DAY, "09:30"))


class World:
    """A wall clock the fake ``sleep`` advances, and a broker clock running ``speed`` times faster."""

    def __init__(self, broker_start_ms: int, speed: float) -> None:
        self.wall = 0.0
        self.start = broker_start_ms
        self.speed = speed
        self.reads = 0

    def sleep(self, s: float) -> None:
        assert s > 0
        self.wall += s

    def monotonic(self) -> float:
        return self.wall

    def now_ms(self) -> int:
        return self.start + int(self.wall * 1000 * self.speed)

    def clock(self) -> BrokerClock:
        self.reads += 1
        return BrokerClock(from_ms(self.now_ms()), False, from_ms(OPEN), from_ms(OPEN + 390 * 60_000))


def run(world: World, target: int, stop: StopFlag | None = None, lead_wall_s: float = 0.0):
    lines: list[str] = []
    got = wait_until(target, world.clock, stop or StopFlag(), lines.append, what="opening",
                     lead_wall_s=lead_wall_s, sleep=world.sleep, monotonic=world.monotonic)  # fmt: skip
    return got, lines


def test_a_live_clock_is_waited_for_with_a_countdown_every_five_minutes():
    world = World(to_ms(ny_datetime(DAY, "09:00")), speed=1.0)
    got, lines = run(world, OPEN)
    assert got is not None and OPEN <= got.timestamp_ms < OPEN + 6_000
    assert 1795 <= world.wall <= 1806
    assert len(lines) == 6  # 09:00:00.5, 09:05, ... 09:25
    assert lines[0].startswith("opening at 09:30:00 ET, in 29m 59s (broker time 09:00:00)")
    assert world.reads < 100  # at real-time pace it sleeps up to 30 s at a time


def test_a_fast_mock_clock_is_not_overslept():
    world = World(to_ms(ny_datetime(DAY, "09:00")), speed=100.0)
    got, _ = run(world, OPEN)
    assert got is not None and OPEN <= got.timestamp_ms <= OPEN + 60_000  # well under a second of wall
    assert 17.5 <= world.wall <= 18.6


def test_the_lead_in_wall_seconds_starts_earlier_on_a_fast_clock():
    world = World(to_ms(ny_datetime(DAY, "09:00")), speed=100.0)
    got, _ = run(world, OPEN, lead_wall_s=5.0)  # 5 wall s at speed 100 = 500 broker s
    assert got is not None and OPEN - 500_000 <= got.timestamp_ms <= OPEN - 440_000


def test_a_time_already_reached_returns_at_once():
    world = World(OPEN + 1_000, speed=1.0)
    got, lines = run(world, OPEN)
    assert got is not None and world.wall == 0.0 and lines == [] and world.reads == 1


def test_a_stop_request_ends_the_wait():
    world = World(to_ms(ny_datetime(DAY, "09:00")), speed=1.0)
    stop = StopFlag()
    orig = world.sleep

    def sleep(s: float) -> None:
        orig(s)
        if world.wall > 30:
            stop.request("SIGTERM")

    world.sleep = sleep  # type: ignore[method-assign]
    got, _ = run(world, OPEN, stop)
    assert got is None and world.wall < 31


def test_pace_and_duration():
    pace = ClockPace()
    pace.see(1_000_000, 10.0)
    assert pace.ms_per_s is None
    pace.see(1_060_000, 10.6)
    assert pace.ms_per_s == pytest.approx(100_000)
    assert pace.simulated and pace.max_sleep == 1.0
    pace.see(1_060_000, 11.0)  # paused
    assert pace.ms_per_s == 0 and pace.simulated and pace.wall_seconds(5000) == 5.0
    pace.see(1_061_000, 12.0)  # real time
    assert not pace.simulated and pace.max_sleep == 30.0
    assert [duration(x) for x in (0, 12_000, 270_000, 3_900_000)] == ["0s", "12s", "4m 30s", "1h 05m"]

"""Broker time tracked between clock reads: moved by the monotonic clock at the measured
speed, pushed forward by bars, and a bar far ahead of the estimate flagged as a jump."""

from __future__ import annotations

import math

import pytest

from engine.broker_time import JUMP_MS, BrokerTime

T0 = 1_760_623_200_000  # 2025-10-16 10:00 New York


def test_nothing_known_before_the_first_observation() -> None:
    bt = BrokerTime()
    assert not bt.known and bt.now_ms(5.0) == 0 and bt.last_read_wall == -math.inf


def test_one_read_then_real_time() -> None:
    bt = BrokerTime()
    bt.observe_clock(T0, 100.0)
    assert bt.speed == 1.0 and bt.now_ms(102.5) == T0 + 2_500
    assert bt.wall_until(T0 + 10_000, 102.5) == pytest.approx(7.5)
    assert bt.wall_until(T0, 102.5) == 0.0 and bt.last_read_wall == 100.0


def test_the_speed_of_a_replay_is_measured_between_reads() -> None:
    bt = BrokerTime()
    bt.observe_clock(T0, 100.0)
    bt.observe_clock(T0 + 60_000, 100.2)  # a minute in 0.2 s: 300x
    assert bt.speed == pytest.approx(300.0)
    assert bt.now_ms(100.3) == T0 + 90_000
    bt.observe_clock(T0 + 60_000, 100.21)  # too close to measure: the base stays
    assert bt.speed == pytest.approx(300.0)
    bt.observe_clock(T0 + 60_000, 101.0)  # paused: never below real time
    assert bt.speed == 1.0


def test_bars_push_the_estimate_forward_never_back() -> None:
    bt = BrokerTime()
    bt.observe_clock(T0, 100.0)
    assert not bt.observe_bar(T0 + 60_000, 100.5)  # bar 10:01 exists: now >= 10:02
    assert bt.now_ms(100.5) == T0 + 120_000
    assert not bt.observe_bar(T0, 101.0)  # an old bar changes nothing
    assert bt.now_ms(101.0) == T0 + 120_500


def test_a_bar_far_ahead_of_the_estimate_is_a_suspected_jump() -> None:
    bt = BrokerTime()
    bt.observe_clock(T0, 100.0)
    assert bt.observe_bar(T0 + JUMP_MS + 1, 100.0)
    assert bt.now_ms(100.0) == T0 + JUMP_MS + 1 + 60_000


def test_a_bar_first_anchors_the_estimate() -> None:
    bt = BrokerTime()
    assert not bt.observe_bar(T0, 5.0) and bt.now_ms(6.0) == T0 + 61_000

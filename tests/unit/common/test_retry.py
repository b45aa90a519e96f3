"""common.retry: backoff bounds and the rate-limit reset wait."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.retry import MAX_RATE_LIMIT_WAIT, Backoff, rate_limit_wait


@given(attempt=st.integers(0, 200), seed=st.integers(0, 2**32))
def test_delay_lies_between_half_and_the_capped_ceiling(attempt, seed):
    b = Backoff(0.5, 30.0, random.Random(seed))
    ceiling = min(30.0, 0.5 * 2**attempt) if attempt < 64 else 30.0
    assert b.ceiling(attempt) == ceiling
    assert ceiling / 2 <= b.delay(attempt) <= ceiling


def test_ceilings_double_until_the_cap():
    b = Backoff(0.5, 5.0)
    assert [b.ceiling(k) for k in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    with pytest.raises(ValueError, match="attempt"):
        b.ceiling(-1)


def test_a_seeded_generator_gives_the_same_delays():
    a = [Backoff(rng=random.Random(3)).delay(k) for k in range(5)]
    b = [Backoff(rng=random.Random(3)).delay(k) for k in range(5)]
    assert a == b


def test_delays_grow_with_jitter_up_to_the_cap():
    d = Backoff(1.0, 8.0, random.Random(1)).delays()
    got = [next(d) for _ in range(8)]
    nominal = [1, 2, 4, 8, 8, 8, 8, 8]
    assert all(n / 2 <= g <= n for g, n in zip(got, nominal, strict=True))
    assert len(set(got)) == len(got)  # jittered


def test_each_series_of_delays_starts_small_again():
    b = Backoff(0.5, 4.0, random.Random(3))
    first = b.delays()
    [next(first) for _ in range(5)]
    assert next(b.delays()) <= 0.5  # a fresh series (what websockets' reconnect_delays calls)
    assert next(first) >= 2.0  # the old one carries on


def test_a_seeded_generator_gives_the_same_series():
    a = Backoff(rng=random.Random(7)).delays()
    b = Backoff(rng=random.Random(7)).delays()
    assert [next(a) for _ in range(6)] == [next(b) for _ in range(6)]


@pytest.mark.parametrize(
    ("base", "cap", "match"),
    [(0, 1, "backoff_base"), (float("inf"), 1, "backoff_base"), (1, 0.5, "backoff_cap")],
)
def test_bad_settings(base, cap, match):
    with pytest.raises(ValueError, match=match):
        Backoff(base, cap)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-Ratelimit-Reset": "1003"}, 3.0),
        ({"X-Ratelimit-Reset": "1000.5"}, 0.5),
        ({"X-Ratelimit-Reset": "999"}, None),
        ({"X-Ratelimit-Reset": "1000"}, None),
        ({"X-Ratelimit-Reset": "soon"}, None),
        ({"X-Ratelimit-Reset": "nan"}, None),
        ({}, None),
        ({"X-Ratelimit-Reset": "999999"}, MAX_RATE_LIMIT_WAIT),
    ],
)
def test_rate_limit_wait(headers, expected):
    assert rate_limit_wait(headers, lambda: 1000.0) == expected

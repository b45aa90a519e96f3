"""bench.timing: the helpers every benchmark prints its figures with."""

from __future__ import annotations

import pytest

from bench.timing import best_of, percentile


def test_percentile_by_rank():
    xs = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert (percentile(xs, 0.0), percentile(xs, 0.5), percentile(xs, 0.99), percentile(xs, 1.0)) == (1.0, 3.0, 5.0, 5.0)
    assert xs == [5.0, 1.0, 4.0, 2.0, 3.0]  # not sorted in place
    with pytest.raises(ValueError, match="no samples"):
        percentile([], 0.5)


def test_best_of_runs_each_repeat_and_keeps_the_last_result():
    calls = []
    secs, out = best_of(lambda: calls.append(1) or len(calls), 3)
    assert out == 3 and len(calls) == 3 and 0.0 <= secs < 60.0
    with pytest.raises(ValueError, match="repeats"):
        best_of(lambda: None, 0)

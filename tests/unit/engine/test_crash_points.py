"""engine.crash_points: ENGINE_CRASH_AT=<point>:<n> kills the process at the n-th pass."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from engine.crash_points import ENV_VAR, POINTS, parse
from tests.support.processes import ROOT, child_env

SCRIPT = """
from engine.crash_points import crash_point
for point in ("warmup", "before_send", "before_send", "after_send", "before_send"):
    crash_point(point)
    print(point, flush=True)
"""


def _run(value: str | None) -> subprocess.CompletedProcess:
    env = child_env({} if value is None else {ENV_VAR: value})
    if value is None:
        env.pop(ENV_VAR, None)
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_the_nth_pass_of_the_point_is_a_sigkill():
    r = _run("before_send:2")
    assert r.returncode == -signal.SIGKILL
    assert r.stdout.split() == ["warmup", "before_send"]  # killed at the second before_send


def test_unset_or_another_point_changes_nothing():
    for value in (None, "", "eod:1", "before_send:4"):
        r = _run(value)
        assert r.returncode == 0, (value, r.stderr)
        assert r.stdout.split() == ["warmup", "before_send", "before_send", "after_send", "before_send"]


def test_parse():
    assert parse(None) is None and parse("") is None
    assert parse("warmup") == ("warmup", 1)
    assert parse("eod:3") == ("eod", 3)
    assert set(POINTS) == {"warmup", "reconciliation", "before_send", "after_send", "eod"}


@pytest.mark.parametrize(("value", "why"), [("nowhere:1", "unknown point 'nowhere'"),
                                            ("eod:x", "must be an integer"), ("eod:0", "must be >= 1")])  # fmt: skip
def test_a_bad_value_is_named(value, why):
    with pytest.raises(ValueError, match=why) as e:
        parse(value)
    assert ENV_VAR in str(e.value)

"""launch.supervisor: the child state machine, driven by a fake clock and fake processes."""

from __future__ import annotations

import signal

import pytest

from launch.supervisor import (
    TRANSITIONS,
    Change,
    Child,
    ChildState,
    IllegalTransition,
    Policy,
    Supervisor,
    Trigger,
    next_state,
)

S = ChildState


class FakeProcess:
    """A process that exits when the test says so; records the signals it got."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.rc: int | None = None
        self.signals: list[str] = []
        self.dies_on_term = True

    def poll(self) -> int | None:
        return self.rc

    def terminate(self) -> None:
        self.signals.append("TERM")
        if self.dies_on_term:
            self.rc = -signal.SIGTERM

    def kill(self) -> None:
        self.signals.append("KILL")
        self.rc = -signal.SIGKILL


class Spawner:
    def __init__(self) -> None:
        self.procs: list[FakeProcess] = []
        self.fail_with: OSError | None = None

    def __call__(self) -> FakeProcess:
        if self.fail_with is not None:
            raise self.fail_with
        p = FakeProcess(1000 + len(self.procs))
        self.procs.append(p)
        return p

    @property
    def last(self) -> FakeProcess:
        return self.procs[-1]


POLICY = Policy(startsecs=5.0, startretries=3, max_restarts=10, backoff_base=1.0, backoff_cap=30.0,
                stopwaitsecs=10.0)  # fmt: skip


def make(policy: Policy = POLICY) -> tuple[Child, Spawner, list[Change]]:
    spawner = Spawner()
    changes: list[Change] = []
    return Child("engine", spawner, policy, changes.append), spawner, changes


def test_every_move_goes_through_the_table_and_an_illegal_one_names_both_states():
    assert next_state(S.STOPPED, Trigger.START) is S.STARTING
    assert next_state(S.STARTING, Trigger.UP) is S.RUNNING
    with pytest.raises(IllegalTransition, match="no move 'up' from RUNNING"):
        next_state(S.RUNNING, Trigger.UP)
    with pytest.raises(IllegalTransition, match="from FATAL"):
        next_state(S.FATAL, Trigger.START)
    # EXITED and FATAL are final: no move leaves them
    assert not [k for k in TRANSITIONS if k[0] in (S.EXITED, S.FATAL)]


def test_starting_becomes_running_after_startsecs():
    child, spawner, changes = make()
    child.start(0.0)
    assert child.state is S.STARTING and child.pid == 1000
    child.transition(4.9)
    assert child.state is S.STARTING
    child.transition(5.0)
    assert child.state is S.RUNNING
    assert [(c.old, c.new) for c in changes] == [(S.STOPPED, S.STARTING), (S.STARTING, S.RUNNING)]


@pytest.mark.parametrize("rc", [0, 2, 3])
def test_done_operator_and_halted_exits_are_never_restarted(rc):
    child, spawner, _ = make()
    child.start(0.0)
    child.transition(6.0)
    spawner.last.rc = rc
    child.transition(7.0)
    assert child.state is S.EXITED and child.returncode == rc
    child.transition(100.0)
    assert child.state is S.EXITED and len(spawner.procs) == 1


@pytest.mark.parametrize("rc", [1, -signal.SIGKILL])
def test_a_crash_is_restarted_after_a_backoff(rc):
    child, spawner, changes = make()
    child.start(0.0)
    child.transition(6.0)  # RUNNING
    spawner.last.rc = rc
    child.transition(60.0)
    assert child.state is S.BACKOFF
    assert 0.5 <= child.retry_at - 60.0 <= 1.0  # attempt 0 after a good run: base/2..base
    child.transition(child.retry_at - 0.01)
    assert child.state is S.BACKOFF and len(spawner.procs) == 1
    child.transition(child.retry_at)
    assert child.state is S.STARTING and len(spawner.procs) == 2 and child.restarts == 1
    assert "restarting in" in changes[-2].why


def test_fast_failures_back_off_longer_each_time_then_go_fatal():
    child, spawner, changes = make()
    now = 0.0
    child.start(now)
    delays = []
    for _ in range(POLICY.startretries):
        now += 0.5
        spawner.last.rc = 1
        child.transition(now)
        assert child.state is S.BACKOFF
        delays.append(child.retry_at - now)
        now = child.retry_at
        child.transition(now)
        assert child.state is S.STARTING
    now += 0.5
    spawner.last.rc = 1
    child.transition(now)
    assert child.state is S.FATAL
    assert "failed 4 times in a row within 5 s of starting" in child.fatal_reason
    assert changes[-1].new is S.FATAL
    # each ceiling doubles: attempt k waits within [base·2^k / 2, base·2^k]
    for k, d in enumerate(delays):
        assert 2.0**k / 2 <= d <= 2.0**k
    child.transition(now + 1000)
    assert child.state is S.FATAL and len(spawner.procs) == POLICY.startretries + 1


def test_a_good_run_resets_the_fast_failure_count():
    child, spawner, _ = make()
    now = 0.0
    child.start(now)
    for _ in range(POLICY.startretries):  # three fast failures, each retried
        now += 0.1
        spawner.last.rc = 1
        child.transition(now)
        now = child.retry_at
        child.transition(now)
    child.transition(now + 5.0)  # this one stays up
    assert child.state is S.RUNNING and child.fast_failures == 0
    now += 100.0
    spawner.last.rc = 1
    child.transition(now)
    assert child.state is S.BACKOFF


def test_restarts_are_limited_even_when_each_run_was_long():
    child, spawner, _ = make(Policy(startsecs=1.0, max_restarts=2))
    now = 0.0
    child.start(now)
    for _ in range(2):
        now += 10.0
        child.transition(now)  # RUNNING
        spawner.last.rc = 1
        now += 10.0
        child.transition(now)
        now = child.retry_at
        child.transition(now)
    now += 10.0
    child.transition(now)
    spawner.last.rc = 1
    child.transition(now + 10.0)
    assert child.state is S.FATAL and "2 restarts already spent" in child.fatal_reason


def test_stop_sends_sigterm_then_sigkill_after_stopwaitsecs():
    child, spawner, changes = make()
    child.start(0.0)
    child.transition(6.0)
    spawner.last.dies_on_term = False
    child.stop(10.0)
    assert child.state is S.STOPPING and spawner.last.signals == ["TERM"]
    child.transition(19.9)
    assert spawner.last.signals == ["TERM"]
    child.transition(20.0)
    assert spawner.last.signals == ["TERM", "KILL"]
    child.transition(20.1)
    assert child.state is S.STOPPED and "after SIGKILL" in changes[-1].why
    assert len(spawner.procs) == 1  # a stopped child is not restarted


def test_a_stop_during_backoff_cancels_the_restart():
    child, spawner, _ = make()
    child.start(0.0)
    spawner.last.rc = 1
    child.transition(0.1)
    assert child.state is S.BACKOFF
    child.stop(0.2)
    assert child.state is S.STOPPED
    child.transition(100.0)
    assert len(spawner.procs) == 1


def test_a_child_that_cannot_be_started_counts_as_a_fast_failure():
    child, spawner, changes = make(Policy(startretries=0))
    spawner.fail_with = FileNotFoundError(2, "No such file", "python")
    child.start(0.0)
    assert child.state is S.FATAL and "could not start" in child.fatal_reason


def test_the_supervisor_advances_and_stops_its_children_together():
    a, sa, _ = make()
    b, sb, _ = make()
    sup = Supervisor([a, b])
    sup.start_all(0.0)
    sup.transition(5.0)
    assert a.state is S.RUNNING and b.state is S.RUNNING and not sup.settled
    sup.stop_all(6.0)
    sup.transition(6.1)
    assert sup.settled and not sup.fatal()
    assert sup["engine"] is a


def test_policy_values_are_checked():
    with pytest.raises(ValueError, match="startsecs"):
        Policy(startsecs=0)
    with pytest.raises(ValueError, match="startretries"):
        Policy(startretries=-1)

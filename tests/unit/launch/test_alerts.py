"""launch.alerts: a slow or failing channel never holds up the caller, nor the other channels."""

from __future__ import annotations

import threading

from launch.alert_config import AlertKind
from launch.alerts import Alert, AlertDispatcher, coalesce


class Recorder:
    def __init__(self, name: str, gate: threading.Event | None = None, fail: int = 0) -> None:
        self.name = name
        self.gate = gate
        self.fail = fail
        self.calls: list[list[Alert]] = []
        self.got = threading.Condition()
        self.entered = threading.Event()

    def deliver(self, alerts) -> None:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(30)
        if self.fail:
            self.fail -= 1
            raise OSError("connection refused")
        with self.got:
            self.calls.append(list(alerts))
            self.got.notify_all()

    def wait_for(self, n: int) -> list[Alert]:
        with self.got:
            assert self.got.wait_for(lambda: sum(map(len, self.calls)) >= n, 30), self.calls
        return [a for c in self.calls for a in c]


def fill(i: int) -> Alert:
    return Alert(AlertKind.FILL, f"fill {i}", f"BUY {i}", {"fills": [{"i": i}]})


def test_a_blocked_channel_holds_up_neither_the_caller_nor_the_other_channel():
    gate = threading.Event()
    slow, fast = Recorder("slow", gate), Recorder("fast")
    d = AlertDispatcher([slow, fast], retry_delay_s=0.0)
    try:
        for kind in (AlertKind.KILL_SWITCH, AlertKind.CHILD_FATAL, AlertKind.SESSION_SUMMARY):
            d.send(Alert(kind, str(kind), "..."))  # returns at once although "slow" is stuck
        assert [a.kind for a in fast.wait_for(3)] == [AlertKind.KILL_SWITCH, AlertKind.CHILD_FATAL,
                                                      AlertKind.SESSION_SUMMARY]  # fmt: skip
        assert slow.calls == []
    finally:
        gate.set()
    assert d.flush(30)
    assert sum(map(len, slow.calls)) == 3
    d.close(5)


def test_a_full_queue_drops_and_counts_instead_of_waiting():
    gate = threading.Event()
    stuck = Recorder("stuck", gate)
    d = AlertDispatcher([stuck], queue_size=2, retry_delay_s=0.0)
    try:
        d.send(Alert(AlertKind.ERROR, "e0", ""))
        assert stuck.entered.wait(30)  # the worker holds e0 and is stuck delivering it
        for i in range(1, 6):  # two more wait in the queue, three are dropped
            d.send(Alert(AlertKind.ERROR, f"e{i}", ""))
        assert d.stats()["stuck"]["dropped"] == 3
    finally:
        gate.set()
    d.close(10)


def test_a_failed_delivery_is_tried_again_once_then_given_up():
    flaky, dead = Recorder("flaky", fail=1), Recorder("dead", fail=5)
    d = AlertDispatcher([flaky, dead], retry_delay_s=0.0)
    d.send(Alert(AlertKind.FEED_LOST, "feed", ""))
    assert d.flush(30)
    assert [a.subject for a in flaky.wait_for(1)] == ["feed"]
    assert d.stats() == {"flaky": {"sent": 1, "failed": 0, "dropped": 0}, "dead": {"sent": 0, "failed": 1, "dropped": 0}}
    d.close(5)


def test_fills_waiting_together_go_as_one_alert_and_other_kinds_keep_their_order():
    merged = coalesce([fill(1), fill(2), Alert(AlertKind.KILL_SWITCH, "halt", ""), fill(3)])
    assert [a.kind for a in merged] == [AlertKind.FILL, AlertKind.KILL_SWITCH, AlertKind.FILL]
    assert merged[0].subject == "2 fills" and merged[0].text == "BUY 1\nBUY 2"
    assert merged[0].detail["fills"] == [{"i": 1}, {"i": 2}]


def test_kinds_not_asked_for_are_not_sent_and_the_context_is_filled_in():
    r = Recorder("r")
    d = AlertDispatcher([r], kinds=[AlertKind.KILL_SWITCH], context={"mode": "mock", "strategy": "psm"})
    d.send(fill(1))
    d.send(Alert(AlertKind.KILL_SWITCH, "halt", "", strategy="rotation"))
    (got,) = r.wait_for(1)
    assert (got.kind, got.mode, got.strategy) == (AlertKind.KILL_SWITCH, "mock", "rotation")
    d.close(5)
    assert sum(map(len, r.calls)) == 1


def test_close_delivers_what_is_queued_and_a_dispatcher_without_channels_sends_nothing():
    r = Recorder("r")
    d = AlertDispatcher([r])
    for i in range(5):
        d.send(fill(i))
    d.close(30)
    assert sum(len(a.detail["fills"]) for a in r.wait_for(1)) == 5
    empty = AlertDispatcher(())
    assert not empty.enabled
    empty.send(fill(0))
    empty.close(1)

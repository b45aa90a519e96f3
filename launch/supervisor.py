"""Child supervision as an explicit state machine (after supervisor's ``process.py``).

::

    STOPPED ──start──▶ STARTING ──up (stayed startsecs)──▶ RUNNING
                          │  ▲                               │
              crash (fast)│  │retry (delay over)      crash  │
                          ▼  │                               ▼
                        BACKOFF ◀────────────────────────────┘
    STARTING/RUNNING ──exit 0, 2, 3──▶ EXITED      (never restarted: done, operator, halted)
    STARTING/RUNNING ──too many failures──▶ FATAL  (never restarted; the launcher gives up)
    STARTING/RUNNING ──stop──▶ STOPPING ──gone──▶ STOPPED   (SIGKILL after stopwaitsecs)
    BACKOFF ──stop──▶ STOPPED

A crash is an exit the exit codes call worth a restart (:func:`common.exit_codes.should_restart`:
1, or death by a signal). An exit within ``startsecs`` of the start is a fast failure; more than
``startretries`` of them in a row is FATAL, and so is a crash once ``max_restarts`` restarts
have been spent. Backoff delays come from the project's one backoff
(:class:`common.retry.Backoff`): attempt ``k`` of a run of fast failures waits about
``base·2^k``; a crash after a good run starts again at attempt 0.

Everything here is pure: time comes in as ``now`` (monotonic seconds), processes are started
through an injected function and seen through :class:`ProcessHandle`, so tests drive it with a
fake clock and fake processes. Every state change goes through :func:`next_state`, which
refuses a move the table does not allow, naming both states.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from common.exit_codes import describe, should_restart
from common.retry import Backoff

log = logging.getLogger(__name__)


class ChildState(StrEnum):
    STOPPED = "STOPPED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    BACKOFF = "BACKOFF"
    STOPPING = "STOPPING"
    EXITED = "EXITED"
    FATAL = "FATAL"


class Trigger(StrEnum):
    START = "start"
    UP = "up"
    CRASH = "crash"
    EXIT = "exit"
    GIVE_UP = "give up"
    RETRY = "retry"
    STOP = "stop"
    GONE = "gone"


S, T = ChildState, Trigger
TRANSITIONS: dict[tuple[ChildState, Trigger], ChildState] = {
    (S.STOPPED, T.START): S.STARTING,
    (S.STARTING, T.UP): S.RUNNING,
    (S.STARTING, T.CRASH): S.BACKOFF,
    (S.STARTING, T.EXIT): S.EXITED,
    (S.STARTING, T.GIVE_UP): S.FATAL,
    (S.STARTING, T.STOP): S.STOPPING,
    (S.RUNNING, T.CRASH): S.BACKOFF,
    (S.RUNNING, T.EXIT): S.EXITED,
    (S.RUNNING, T.GIVE_UP): S.FATAL,
    (S.RUNNING, T.STOP): S.STOPPING,
    (S.BACKOFF, T.RETRY): S.STARTING,
    (S.BACKOFF, T.STOP): S.STOPPED,
    (S.STOPPING, T.GONE): S.STOPPED,
}
SETTLED = frozenset({S.STOPPED, S.EXITED, S.FATAL})
"""States a child stays in until someone starts it again (EXITED and FATAL: never)."""


class IllegalTransition(RuntimeError):
    pass


def next_state(state: ChildState, trigger: Trigger) -> ChildState:
    """The state ``trigger`` leads to from ``state``; IllegalTransition if the table has no such move."""
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise IllegalTransition(f"no move '{trigger}' from {state}") from None


class ProcessHandle(Protocol):
    """A started process as the supervisor sees it (:class:`subprocess.Popen` has all of it)."""

    @property
    def pid(self) -> int: ...

    def poll(self) -> int | None: ...

    def terminate(self) -> None: ...

    def kill(self) -> None: ...


@dataclass(frozen=True)
class Policy:
    startsecs: float = 5.0
    """Seconds a child must stay up to count as started (an earlier exit is a fast failure)."""
    startretries: int = 3
    """Fast failures in a row that are retried; one more is FATAL."""
    max_restarts: int = 10
    """Restarts after crashes (fast or not) in one launcher run; one more crash is FATAL."""
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    stopwaitsecs: float = 10.0
    """Seconds between SIGTERM and SIGKILL."""

    def __post_init__(self) -> None:
        for name in ("startsecs", "stopwaitsecs"):
            if not getattr(self, name) > 0:
                raise ValueError(f"policy {name}={getattr(self, name)!r} must be > 0")
        if self.startretries < 0 or self.max_restarts < 0:
            raise ValueError("policy startretries and max_restarts must be >= 0")


@dataclass
class Change:
    """One state change, for the log and the session summary."""

    at: float
    child: str
    old: ChildState
    new: ChildState
    why: str


OnChange = Callable[[Change], None]


@dataclass(eq=False)
class Child:
    """One supervised child. ``spawn()`` starts its process (and may raise OSError)."""

    name: str
    spawn: Callable[[], ProcessHandle]
    policy: Policy = field(default_factory=Policy)
    on_change: OnChange = lambda _c: None
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    state: ChildState = ChildState.STOPPED
    process: ProcessHandle | None = None
    returncode: int | None = None
    """The last exit code seen (None while the process runs or before any exit)."""
    restarts: int = 0
    fast_failures: int = 0
    started_at: float = 0.0
    retry_at: float = 0.0
    kill_at: float = 0.0
    killed: bool = False
    fatal_reason: str = ""

    def __post_init__(self) -> None:
        self._backoff = Backoff(self.policy.backoff_base, self.policy.backoff_cap, self.rng)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def settled(self) -> bool:
        return self.state in SETTLED

    # -- the one place the state changes
    def _move(self, now: float, trigger: Trigger, why: str) -> None:
        new = next_state(self.state, trigger)
        change = Change(now, self.name, self.state, new, why)
        self.state = new
        self.on_change(change)

    def _spawn(self, now: float) -> bool:
        self.started_at = now
        self.returncode = None
        self.killed = False
        try:
            self.process = self.spawn()
        except OSError as e:
            self.process = None
            self._exited(now, 1, f"could not start: {e}")
            return False
        return True

    # -- commands
    def start(self, now: float) -> None:
        self._move(now, Trigger.START, "started")
        self._spawn(now)

    def stop(self, now: float) -> None:
        """Ask it to stop: SIGTERM now, SIGKILL after ``stopwaitsecs`` (see :meth:`transition`)."""
        if self.state is ChildState.BACKOFF:
            self._move(now, Trigger.STOP, "stop requested while waiting to restart")
        elif self.state in (ChildState.STARTING, ChildState.RUNNING):
            assert self.process is not None
            self.process.terminate()
            self.kill_at = now + self.policy.stopwaitsecs
            self._move(now, Trigger.STOP, f"SIGTERM sent to pid {self.process.pid}")

    # -- the clock
    def transition(self, now: float) -> None:
        """Advance by what the process did and what time it is."""
        st = self.state
        if st in (ChildState.STARTING, ChildState.RUNNING):
            assert self.process is not None
            rc = self.process.poll()
            if rc is not None:
                self._exited(now, rc, describe(rc))
            elif st is ChildState.STARTING and now - self.started_at >= self.policy.startsecs:
                self.fast_failures = 0
                self._move(now, Trigger.UP, f"pid {self.process.pid} up for {self.policy.startsecs:g} s")
        elif st is ChildState.BACKOFF:
            if now >= self.retry_at:
                self.restarts += 1
                self._move(now, Trigger.RETRY, f"restart {self.restarts}")
                self._spawn(now)
        elif st is ChildState.STOPPING:
            assert self.process is not None
            rc = self.process.poll()
            if rc is not None:
                self.returncode = rc
                self._move(now, Trigger.GONE, describe(rc) + (" after SIGKILL" if self.killed else ""))
            elif not self.killed and now >= self.kill_at:
                log.warning("%s (pid %d) did not stop within %g s: SIGKILL",
                            self.name, self.process.pid, self.policy.stopwaitsecs)  # fmt: skip
                self.process.kill()
                self.killed = True

    def _exited(self, now: float, rc: int, why: str) -> None:
        self.returncode = rc
        if not should_restart(rc):
            self._move(now, Trigger.EXIT, why)
            return
        fast = now - self.started_at < self.policy.startsecs
        if fast:
            self.fast_failures += 1
        else:
            self.fast_failures = 0
        if fast and self.fast_failures > self.policy.startretries:
            self.fatal_reason = (
                f"{why}; it failed {self.fast_failures} times in a row within "
                f"{self.policy.startsecs:g} s of starting"
            )
            self._move(now, Trigger.GIVE_UP, self.fatal_reason)
            return
        if self.restarts >= self.policy.max_restarts:
            self.fatal_reason = f"{why}; {self.restarts} restarts already spent"
            self._move(now, Trigger.GIVE_UP, self.fatal_reason)
            return
        delay = self._backoff.delay(max(0, self.fast_failures - 1))
        self.retry_at = now + delay
        self._move(now, Trigger.CRASH, f"{why}; restarting in {delay:.1f} s")


class Supervisor:
    """A group of children advanced together by one loop."""

    def __init__(self, children: Iterable[Child]) -> None:
        self.children = list(children)

    def __getitem__(self, name: str) -> Child:
        for c in self.children:
            if c.name == name:
                return c
        raise KeyError(name)

    def start_all(self, now: float) -> None:
        for c in self.children:
            c.start(now)

    def stop_all(self, now: float) -> None:
        for c in self.children:
            c.stop(now)

    def transition(self, now: float) -> None:
        for c in self.children:
            c.transition(now)

    @property
    def settled(self) -> bool:
        return all(c.settled for c in self.children)

    def fatal(self) -> list[Child]:
        return [c for c in self.children if c.state is ChildState.FATAL]


__all__ = [
    "TRANSITIONS",
    "Change",
    "Child",
    "ChildState",
    "IllegalTransition",
    "Policy",
    "ProcessHandle",
    "Supervisor",
    "Trigger",
    "next_state",
]

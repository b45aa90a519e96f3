"""common.children: stopping processes this one did not start, checked by command line."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import psutil

from common.children import cmdline_of, stop_pid, stop_pids
from tests.support.processes import started

SLEEP = "import time; time.sleep(60)"


def test_only_a_process_running_the_expected_command_is_stopped():
    p = started([sys.executable, "-c", SLEEP])
    try:
        assert not stop_pid(p.pid, lambda cmd: "engine" in cmd)
        assert p.poll() is None
        assert stop_pid(p.pid, lambda cmd: cmd[-1] == SLEEP, timeout=5)
        assert p.wait(5) == -15
    finally:
        p.kill()
        p.wait(10)


def test_one_that_ignores_sigterm_is_killed_after_the_timeout():
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"
    p = started([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        assert stop_pids([(p.pid, lambda _c: True)], timeout=0.3) == [p.pid]
        assert p.wait(5) == -9
    finally:
        p.kill()
        p.wait(10)


def test_a_process_left_as_a_zombie_by_its_parent_counts_as_stopped():
    # the parent starts a sleeper and never reaps it: once stopped it stays a zombie, which
    # psutil's own wait would wait for until the timeout
    parent_code = textwrap.dedent(f"""
        import subprocess, sys, time
        c = subprocess.Popen([sys.executable, "-c", {SLEEP!r}])
        print(c.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert cmdline_of(pid) is not None
        started = time.monotonic()
        assert stop_pids([(pid, lambda c: c[-1] == SLEEP)], timeout=30) == [pid]
        assert time.monotonic() - started < 10
        assert cmdline_of(pid) is None  # gone or a zombie
        assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    finally:
        parent.kill()
        parent.wait(10)


def test_our_own_pid_and_nonsense_pids_are_ignored():
    import os

    assert stop_pids([(os.getpid(), lambda _c: True), (0, lambda _c: True), (-1, lambda _c: True)]) == []

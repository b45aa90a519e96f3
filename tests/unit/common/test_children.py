"""common.children with real child processes: start with output in a file, stop politely
then by force, and stop a process found by pid only if it runs the expected command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil

from common.children import (
    cmdline_of,
    kill_process,
    spawn,
    stop_pid,
    stop_pids,
    stop_process,
    with_pythonpath,
)
from tests.support.processes import poll

# A child that prints "ready" once its SIGTERM disposition is set, then waits.
OBEYS = "import time; print('ready', flush=True); time.sleep(120)"
IGNORES = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(120)"
)
CLEAN_EXIT = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
    "print('ready', flush=True)\n"
    "time.sleep(120)\n"
)


def started(tmp_path: Path, code: str, name: str = "child.out"):
    out = tmp_path / name
    proc = spawn([sys.executable, "-c", code], output=out)
    poll(lambda: "ready" in out.read_text(), 30, "the child to be ready")
    return proc


def test_spawn_appends_output_and_passes_env_and_cwd(tmp_path):
    out = tmp_path / "logs" / "child.out"
    code = "import os; print(os.environ['CHILD_VAR'], os.getcwd())"
    for _ in range(2):
        p = spawn([sys.executable, "-c", code], env={**os.environ, "CHILD_VAR": "x1"}, cwd=tmp_path, output=out)
        assert p.wait(30) == 0
    assert out.read_text().splitlines() == [f"x1 {tmp_path}"] * 2


def test_spawn_without_output_discards_it(tmp_path):
    p = spawn([sys.executable, "-c", "print('nobody reads this')"], cwd=tmp_path)
    assert p.wait(30) == 0
    assert list(tmp_path.iterdir()) == []


def test_stop_process_uses_sigterm_first(tmp_path):
    p = started(tmp_path, CLEAN_EXIT)
    assert stop_process(p, timeout=30) == 0
    assert stop_process(p) == 0  # twice is safe


def test_stop_process_kills_a_child_that_ignores_sigterm(tmp_path):
    p = started(tmp_path, IGNORES)
    assert stop_process(p, timeout=0.5) == -signal.SIGKILL


def test_stop_process_can_send_another_signal(tmp_path):
    p = started(tmp_path, OBEYS)
    assert stop_process(p, timeout=30, sig=signal.SIGINT) == -signal.SIGINT


def test_kill_process_gives_no_chance_to_clean_up(tmp_path):
    p = started(tmp_path, CLEAN_EXIT)
    assert kill_process(p) == -signal.SIGKILL
    assert kill_process(p) == -signal.SIGKILL


def test_stop_pid_checks_the_command_line_before_signalling(tmp_path):
    p = started(tmp_path, OBEYS)
    try:
        cmd = cmdline_of(p.pid)
        assert cmd is not None and cmd[-1] == OBEYS
        assert stop_pid(p.pid, lambda c: "something else" in c) is False
        assert p.poll() is None  # not ours to stop: untouched
        assert stop_pid(p.pid, lambda c: c[-1] == OBEYS, timeout=30) is True
        assert not psutil.pid_exists(p.pid) or cmdline_of(p.pid) is None
    finally:
        kill_process(p)


def test_stop_pid_kills_after_the_timeout(tmp_path):
    p = started(tmp_path, IGNORES)
    try:
        assert stop_pid(p.pid, lambda c: c[-1] == IGNORES, timeout=0.5) is True
        assert cmdline_of(p.pid) is None
    finally:
        kill_process(p)


def test_stop_pid_never_signals_itself_or_a_missing_process(tmp_path):
    assert stop_pid(os.getpid(), lambda c: True) is False
    assert stop_pid(0, lambda c: True) is False
    p = spawn([sys.executable, "-c", "pass"])
    p.wait(30)
    assert cmdline_of(p.pid) is None
    assert stop_pid(p.pid, lambda c: True) is False


def test_with_pythonpath_puts_the_path_first(tmp_path):
    env = with_pythonpath(tmp_path, {"PYTHONPATH": "/elsewhere", "A": "1"})
    assert env == {"PYTHONPATH": f"{tmp_path}{os.pathsep}/elsewhere", "A": "1"}
    assert with_pythonpath(tmp_path, {})["PYTHONPATH"] == str(tmp_path)
    assert with_pythonpath(tmp_path)["PATH"] == os.environ["PATH"]


def test_stop_pids_stops_several_at_once(tmp_path):
    a, b = started(tmp_path, OBEYS, "a.out"), started(tmp_path, IGNORES, "b.out")
    try:
        found = stop_pids([(a.pid, lambda c: c[-1] == OBEYS), (b.pid, lambda c: c[-1] == IGNORES)], timeout=0.5)
        assert sorted(found) == sorted([a.pid, b.pid])
        assert a.wait(5) == -signal.SIGTERM and b.wait(5) == -signal.SIGKILL
    finally:
        kill_process(a)
        kill_process(b)


def test_a_process_left_as_a_zombie_by_its_parent_counts_as_stopped():
    # the parent starts a sleeper and never reaps it: once stopped it stays a zombie, which
    # psutil's own wait would wait for until the timeout
    sleep = "import time; time.sleep(60)"
    parent_code = textwrap.dedent(f"""
        import subprocess, sys, time
        c = subprocess.Popen([sys.executable, "-c", {sleep!r}])
        print(c.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        poll(lambda: cmdline_of(pid) is not None and cmdline_of(pid)[-1] == sleep, 10, "the sleeper")
        began = time.monotonic()
        assert stop_pids([(pid, lambda c: c[-1] == sleep)], timeout=30) == [pid]
        assert time.monotonic() - began < 10
        assert cmdline_of(pid) is None
        assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    finally:
        parent.kill()
        parent.wait(10)

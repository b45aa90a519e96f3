"""launch.lock: one launcher per account, released by the kernel when its holder dies."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from launch.lock import AccountLock, LockHeld, account_lock_path


def test_the_lock_file_is_named_by_a_hash_of_broker_and_account(tmp_path):
    a = account_lock_path("https://paper-api.alpaca.markets", "PA123", tmp_path)
    assert a == account_lock_path("https://paper-api.alpaca.markets/", "PA123", tmp_path)
    assert a != account_lock_path("https://paper-api.alpaca.markets", "PA124", tmp_path)
    assert a != account_lock_path("http://127.0.0.1:5000", "PA123", tmp_path)
    assert "PA123" not in a.name and a.parent == tmp_path


def test_a_second_launcher_is_refused_naming_the_first(tmp_path):
    path = tmp_path / "account.lock"
    first = AccountLock(path)
    first.acquire({"pid": 4242, "mode": "live", "started": "09:00", "log_dir": "logs/live_trading"})
    try:
        with pytest.raises(LockHeld, match=r"another launcher already runs this account \(pid 4242, live mode"):
            AccountLock(path).acquire({"pid": 1})
    finally:
        first.release()
    second = AccountLock(path)
    second.acquire({"pid": 5})
    assert second.previous is not None and second.previous["pid"] == 4242  # where the last run was
    second.release()


def test_a_lock_held_by_a_killed_process_is_free(tmp_path):
    path = tmp_path / "account.lock"
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from launch.lock import AccountLock
        AccountLock(Path({str(path)!r})).acquire({{"pid": 1}})
        print("locked", flush=True)
        time.sleep(60)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "locked"
        with pytest.raises(LockHeld):
            AccountLock(path).acquire({"pid": 2})
    finally:
        p.kill()
        p.wait(10)
    lock = AccountLock(path)
    lock.acquire({"pid": 3})
    lock.release()

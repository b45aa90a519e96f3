"""One launcher per account: an exclusive ``flock`` on a file named for the account.

The lock lives in a per-user directory (``$XDG_RUNTIME_DIR``, else the temporary directory),
so two copies of the project cannot trade one account either. The kernel releases it when
the holder dies, ``kill -9`` included; the file keeps the holder's description (pid, mode,
run directory), so the next launcher knows where the previous run's pid files are and a
refused one can say who holds the account.

The file descriptor is not inherited by child processes (Python's default), so a child
left running by a killed launcher never holds the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from common.errors import OperationalError

log = logging.getLogger(__name__)


class LockHeld(OperationalError):
    """Another live launcher holds the account's lock."""

    def __init__(self, path: Path, holder: dict[str, Any] | None, what: str = "this account") -> None:
        self.path = path
        self.holder = holder or {}
        who = (
            f"pid {self.holder.get('pid')}, {self.holder.get('mode')} mode, "
            f"started {self.holder.get('started')}, logs in {self.holder.get('log_dir')}"
            if self.holder
            else "unknown holder"
        )
        super().__init__(
            f"another launcher already runs {what} ({who}); "
            f"stop it with `python -m launch stop` (lock file {path})"
        )


def lock_dir() -> Path:
    """A per-user directory for locks (created with mode 0700)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    d = Path(base) / f"intraday-trader-{os.getuid()}"
    d.mkdir(mode=0o700, parents=True, exist_ok=True)
    return d


def account_lock_path(trading_url: str, account_number: str, directory: Path | None = None) -> Path:
    """The lock file of one account at one broker (the name is a hash, no account data)."""
    digest = hashlib.sha256(f"{trading_url.rstrip('/')}|{account_number}".encode()).hexdigest()[:20]
    return (directory or lock_dir()) / f"account-{digest}.lock"


def _parse(text: str) -> dict[str, Any] | None:
    try:
        obj = json.loads(text)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


class AccountLock:
    """``acquire(info)`` or LockHeld; :attr:`previous` is what the last holder wrote. ``what``
    names what the lock guards, for the refusal's message."""

    def __init__(self, path: Path, what: str = "this account") -> None:
        self.path = path
        self.what = what
        self._fd: int | None = None
        self.previous: dict[str, Any] | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, info: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _parse(os.pread(fd, 65536, 0).decode("utf-8", "replace"))
            os.close(fd)
            raise LockHeld(self.path, holder, self.what) from None
        except BaseException:
            os.close(fd)
            raise
        self.previous = _parse(os.pread(fd, 65536, 0).decode("utf-8", "replace"))
        data = (json.dumps(info, sort_keys=True) + "\n").encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Unlock (the file stays: it names the last holder for the next launcher)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> AccountLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


__all__ = ["AccountLock", "LockHeld", "account_lock_path", "lock_dir"]

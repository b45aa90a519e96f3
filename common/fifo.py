"""The named pipe between the bridge and the engine (design.md §3): path checks,
safe creation, a non-blocking atomic line writer and a blocking line reader.

Safety: both ends refuse a path that is a symlink, not a FIFO, or owned by
another user (a world-writable /tmp must not let anyone inject bars). A FIFO is
created with mode 0600; one found with wider permissions is narrowed to 0600.
Opening uses ``O_NOFOLLOW`` and re-checks the opened file with ``fstat``, so a
path swapped between the check and the open is still refused.

:class:`FifoWriter` never blocks: with no reader attached (``ENXIO``) or a full
pipe (``EAGAIN``) lines wait in a bounded buffer (the oldest dropped, logged);
``EPIPE`` (reader gone) closes the pipe and reopens it on the next attempt; a
deleted or replaced FIFO is recreated/reopened by :meth:`FifoWriter.check_path`.
Each line is one ``os.write`` of at most :data:`PIPE_BUF` bytes, hence atomic.

:class:`FifoLineReader` blocks (optionally with a timeout) until a line arrives;
when every writer has gone (EOF) it reopens the path and waits for the next one.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import stat
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path

from common.errors import OperationalError

log = logging.getLogger(__name__)

DEFAULT_FIFO_PATH = Path("/tmp/alpaca_bars.fifo")
PIPE_BUF = 4096
"""Linux's atomic-write limit for pipes; a line (newline included) must not exceed it."""
FIFO_MODE = 0o600


class FifoPathError(OperationalError):
    """The FIFO path is unsafe or unusable (symlink, not a FIFO, another user's); the message says which."""


# -- path checks and creation


def _describe(st: os.stat_result) -> str:
    m = st.st_mode
    for test, name in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISLNK, "a symlink"),
    ):
        if test(m):
            return name
    return "not a FIFO"


def _check_stat(path: Path, st: os.stat_result) -> None:
    if stat.S_ISLNK(st.st_mode):
        raise FifoPathError(f"{path} is a symlink; refusing it (remove it or choose another --fifo path)")
    if not stat.S_ISFIFO(st.st_mode):
        raise FifoPathError(f"{path} is {_describe(st)}, not a FIFO; refusing it (remove it or choose another --fifo path)")
    uid = os.geteuid()
    if st.st_uid != uid:
        raise FifoPathError(
            f"{path} is a FIFO owned by uid {st.st_uid}, not by this user (uid {uid}); refusing it "
            "(anyone who owns it could inject bars)"
        )


def check_fifo_path(path: str | Path) -> os.stat_result | None:
    """The FIFO's ``lstat``, ``None`` if nothing is there; FifoPathError if the path is unsafe."""
    p = Path(path)
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise FifoPathError(f"{p}: cannot inspect the FIFO path: {e.strerror}") from None
    _check_stat(p, st)
    return st


def ensure_fifo(path: str | Path) -> os.stat_result:
    """Create the FIFO with mode 0600 if absent; check it either way and return its ``lstat``."""
    p = Path(path)
    st = check_fifo_path(p)
    if st is not None:
        return st
    try:
        os.mkfifo(p, FIFO_MODE)
    except FileExistsError:
        pass  # created concurrently (by the other end): checked below
    except FileNotFoundError:
        raise FifoPathError(f"{p}: its directory {p.parent} does not exist") from None
    except OSError as e:
        raise FifoPathError(f"{p}: cannot create the FIFO: {e.strerror}") from None
    else:
        log.info("created FIFO %s (mode 0600)", p)
    st = check_fifo_path(p)
    if st is None:
        raise FifoPathError(f"{p}: the FIFO vanished right after its creation")
    return st


def open_fifo(path: str | Path, flags: int) -> int:
    """Open the FIFO without following symlinks and check what was opened; return the fd.

    ``OSError`` with ``ENXIO`` (a write-only non-blocking open with no reader) is
    passed through for the caller; unsafe paths raise FifoPathError.
    """
    p = Path(path)
    try:
        fd = os.open(p, flags | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise FifoPathError(f"{p} is a symlink; refusing it (remove it or choose another --fifo path)") from None
        raise
    try:
        st = os.fstat(fd)
        _check_stat(p, st)
        if stat.S_IMODE(st.st_mode) & 0o077:
            log.warning("FIFO %s had mode %o; narrowing it to 0600", p, stat.S_IMODE(st.st_mode))
            os.fchmod(fd, FIFO_MODE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _same_file(fd: int, st: os.stat_result) -> bool:
    try:
        mine = os.fstat(fd)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (st.st_dev, st.st_ino)


# -- writer


class FifoWriter:
    """Non-blocking writer of whole lines to a FIFO, one atomic ``os.write`` per line.

    Call :meth:`open` once (it creates and checks the path: FifoPathError on an
    unsafe one), then :meth:`write_line` for each line and, periodically,
    :meth:`flush` and :meth:`check_path`. The pipe stays open across lines;
    it is reopened only after the reader went away or the path was replaced.
    """

    def __init__(self, path: str | Path = DEFAULT_FIFO_PATH, *, max_buffered: int = 240) -> None:
        if max_buffered < 1:
            raise ValueError(f"max_buffered={max_buffered!r} must be >= 1")
        self.path = Path(path)
        self.max_buffered = max_buffered
        self._buf: deque[bytes] = deque()
        self._fd: int | None = None
        self._opened = False
        self.lines_written = 0
        self.lines_dropped = 0
        self.opens = 0
        self._waiting_logged = False

    # -- state
    @property
    def attached(self) -> bool:
        """True while a reader holds the pipe open (as far as the last write knows)."""
        return self._fd is not None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    # -- life cycle
    def open(self) -> None:
        """Create/check the FIFO path and try to attach to a reader (absent reader is fine)."""
        ensure_fifo(self.path)
        self._opened = True
        self._try_open()

    def close(self) -> None:
        self._close_fd()
        self._opened = False

    def __enter__(self) -> FifoWriter:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _close_fd(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _try_open(self) -> bool:
        if self._fd is not None:
            return True
        if check_fifo_path(self.path) is None:
            log.warning("FIFO %s was deleted; recreating it", self.path)
            ensure_fifo(self.path)
        try:
            self._fd = open_fifo(self.path, os.O_WRONLY | os.O_NONBLOCK)
        except FifoPathError:
            raise
        except OSError as e:
            if e.errno == errno.ENXIO:
                if not self._waiting_logged:
                    log.info("no reader on FIFO %s yet; buffering up to %d lines", self.path, self.max_buffered)
                    self._waiting_logged = True
                return False
            if e.errno == errno.ENOENT:
                return False  # deleted between the check and the open: next attempt recreates
            raise FifoPathError(f"{self.path}: cannot open the FIFO for writing: {e.strerror}") from None
        self.opens += 1
        self._waiting_logged = False
        log.info("reader attached to FIFO %s (%d line(s) waiting)", self.path, len(self._buf))
        return True

    # -- writing
    def write_line(self, line: str, *, buffer: bool = True) -> bool:
        """Queue ``line`` (without newline) and write what can be written now.

        With ``buffer=False`` (heartbeats) the line is written only if nothing is
        waiting and a reader is attached, and is otherwise discarded. Returns True
        if ``line`` itself reached the pipe. ValueError if the line has a newline or
        is over :data:`PIPE_BUF` bytes with its newline.
        """
        data = line.encode("utf-8") + b"\n"
        if b"\n" in data[:-1]:
            raise ValueError("a FIFO line must not contain a newline")
        if len(data) > PIPE_BUF:
            raise ValueError(f"line of {len(data)} bytes exceeds PIPE_BUF ({PIPE_BUF}); it would not be atomic")
        if not self._opened:
            raise RuntimeError("FifoWriter.open() was not called")
        if not buffer:
            self.flush()
            if self._buf or not self._try_open():
                return False
            return self._write_one(data)
        if len(self._buf) >= self.max_buffered:
            dropped = self._buf.popleft()
            self.lines_dropped += 1
            log.warning(
                "FIFO %s: no reader is taking lines; dropped the oldest buffered line (%d dropped so far): %s",
                self.path, self.lines_dropped, dropped[:80].decode("utf-8", "replace"),
            )
        self._buf.append(data)
        self.flush()
        return not self._buf  # lines leave in order: an empty buffer means this one was written

    def flush(self) -> int:
        """Write buffered lines while the pipe takes them; return how many were written."""
        n = 0
        while self._buf:
            if not self._try_open():
                break
            if not self._write_one(self._buf[0]):
                break
            self._buf.popleft()
            n += 1
        return n

    def _write_one(self, data: bytes) -> bool:
        assert self._fd is not None
        try:
            written = os.write(self._fd, data)
        except BlockingIOError:
            return False  # pipe full: the reader is slow; keep the line
        except BrokenPipeError:
            log.warning("reader of FIFO %s went away; will reopen when one comes back", self.path)
            self._close_fd()
            return False
        except OSError as e:
            log.error("write to FIFO %s failed: %s; reopening", self.path, e.strerror)
            self._close_fd()
            return False
        if written != len(data):  # impossible for <= PIPE_BUF bytes on a pipe
            log.error("FIFO %s: short write %d of %d bytes", self.path, written, len(data))
        self.lines_written += 1
        return True

    def check_path(self) -> None:
        """Recreate a deleted FIFO, reopen a replaced one; FifoPathError if it became unsafe."""
        st = check_fifo_path(self.path)
        if st is None:
            log.warning("FIFO %s was deleted; recreating it", self.path)
            self._close_fd()  # a reader on the old pipe gets EOF and reopens the path
            ensure_fifo(self.path)
        elif self._fd is not None and not _same_file(self._fd, st):
            log.warning("FIFO %s was replaced; reopening it", self.path)
            self._close_fd()
        self.flush()


# -- reader


class FifoLineReader:
    """Blocking reader of lines from a FIFO that survives writer restarts.

    :meth:`readline` returns the next complete line (str, no newline), or None
    after ``timeout`` seconds without one. When the writer goes away (EOF) the
    FIFO is reopened and the reader waits for the next writer. A line over
    ``max_line_bytes``, not UTF-8, or cut short by EOF is skipped with a log line.
    The path is re-checked every ``check_interval`` seconds while idle, so a
    deleted or replaced FIFO is recreated (``create=True``) or reopened.
    """

    def __init__(
        self,
        path: str | Path = DEFAULT_FIFO_PATH,
        *,
        create: bool = True,
        max_line_bytes: int = PIPE_BUF,
        check_interval: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.create = create
        self.max_line_bytes = max_line_bytes
        self.check_interval = check_interval
        self._monotonic = monotonic
        self._fd: int | None = None
        self._poll: select.poll | None = None
        self._buf = bytearray()
        self._skipping = False
        self.reopens = 0
        self.lines_skipped = 0

    def __enter__(self) -> FifoLineReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Create (if allowed) and check the FIFO, then open it for reading (never blocks)."""
        if self._fd is not None:
            return
        if self.create:
            ensure_fifo(self.path)
        elif check_fifo_path(self.path) is None:
            raise FifoPathError(f"{self.path}: no FIFO there (the writer creates it)")
        self._fd = open_fifo(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self._poll = select.poll()
        self._poll.register(self._fd, select.POLLIN)

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None
        self._poll = None

    def _reopen(self, why: str) -> None:
        if self._buf:
            self.lines_skipped += 1
            log.warning("FIFO %s: dropped a partial line of %d bytes (%s)", self.path, len(self._buf), why)
        self._buf.clear()
        self._skipping = False
        self.close()
        self.reopens += 1
        log.info("FIFO %s: %s; reopening and waiting for a writer", self.path, why)
        self.open()

    def _path_changed(self) -> bool:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return True
        return self._fd is None or not _same_file(self._fd, st)

    def _pop_line(self) -> str | None:
        while True:
            i = self._buf.find(b"\n")
            if i < 0:
                if len(self._buf) > self.max_line_bytes:
                    if not self._skipping:
                        self.lines_skipped += 1
                        log.warning("FIFO %s: line longer than %d bytes; skipping it", self.path, self.max_line_bytes)
                    self._skipping = True
                    self._buf.clear()
                return None
            raw = bytes(self._buf[:i])
            del self._buf[: i + 1]
            if self._skipping:  # the tail of an overlong line
                self._skipping = False
                continue
            if len(raw) + 1 > self.max_line_bytes:
                self.lines_skipped += 1
                log.warning("FIFO %s: line of %d bytes is over %d; skipping it", self.path, len(raw) + 1, self.max_line_bytes)
                continue
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                self.lines_skipped += 1
                log.warning("FIFO %s: line is not UTF-8; skipping it: %r", self.path, raw[:80])

    def readline(self, timeout: float | None = None) -> str | None:
        """The next line, waiting at most ``timeout`` seconds (forever if None)."""
        deadline = None if timeout is None else self._monotonic() + timeout
        while True:
            line = self._pop_line()
            if line is not None:
                return line
            if self._fd is None:
                self.open()
            assert self._poll is not None and self._fd is not None
            wait = self.check_interval
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - self._monotonic()))
            events = self._poll.poll(int(wait * 1000))
            if events:
                try:
                    chunk = os.read(self._fd, 65536)
                except BlockingIOError:
                    continue
                if chunk:
                    self._buf += chunk
                    continue
                self._reopen("the writer closed the FIFO")
                continue
            if self._path_changed():
                self._reopen("the FIFO path was deleted or replaced")
            if deadline is not None and self._monotonic() >= deadline:
                return None

    def __iter__(self) -> Iterator[str]:
        while True:
            line = self.readline()
            if line is not None:
                yield line


__all__ = [
    "DEFAULT_FIFO_PATH",
    "PIPE_BUF",
    "FifoLineReader",
    "FifoPathError",
    "FifoWriter",
    "check_fifo_path",
    "ensure_fifo",
    "open_fifo",
]

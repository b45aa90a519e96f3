"""Logging setup: one file per process (``<process>_<ts>.log``) plus stderr, with secrets redacted.

The file rotates (:class:`RotatingLogFile`) when it reaches :data:`MAX_BYTES` or when the
machine's local date changes: the file keeps its name, so the stable links to it
(``trader.log`` → ``trader_<ts>.log``) and ``tail -F`` follow it, and the earlier part
becomes ``<name>.1`` (then ``.2``, ...; the oldest beyond :data:`BACKUPS` is deleted).
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
import time
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s"
DATEFMT = "%Y-%m-%dT%H:%M:%S"
MAX_BYTES = 50 * 2**20
"""A log file rotates when a line would take it past this size."""
BACKUPS = 10
"""Rotated parts kept per log file (``.1`` the newest)."""


class Redactor:
    """Replaces every secret (of 4 characters or more) in a text with ``***``: the log
    filter below and the REST client's error messages use it."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # longest first, so a secret that contains another is hidden whole
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, "***")
        return text


class RedactFilter(logging.Filter):
    """Replaces every registered secret in a record's final message, traceback and
    stack with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._redact = Redactor(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._redact.secrets:
            record.msg, record.args = self._redact(record.getMessage()), None
            if record.exc_info and not record.exc_text:
                # format the traceback now, so the handler prints the redacted copy
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self._redact(record.exc_text)
            if record.stack_info:
                record.stack_info = self._redact(record.stack_info)
        return True


def stderr_is(path: Path) -> bool:
    """Whether this process's stderr already goes to the file ``path`` (a supervisor sent
    the child's output to its log file): a stderr handler would then write every line twice."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return same_file(fd, path)


def same_file(fd: int, path: str | Path) -> bool:
    """Whether the open file descriptor ``fd`` is the file at ``path``."""
    try:
        a, b = os.fstat(fd), os.stat(path)
    except (OSError, ValueError):
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class RotatingLogFile(logging.handlers.RotatingFileHandler):
    """A log file that rotates by size and by day (module docstring).

    When this process's stdout or stderr is the log file itself (a supervisor sent the
    child's output there), they are moved to the new file at each rotation, so a traceback
    printed later lands beside the log lines, not in the rotated part.
    """

    def __init__(self, filename: str | Path, *, max_bytes: int = MAX_BYTES, backups: int = BACKUPS,
                 today: Callable[[], date] = date.today) -> None:  # fmt: skip
        super().__init__(filename, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        self._today = today
        self._day = today()

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        if self._today() != self._day:
            return True
        return bool(super().shouldRollover(record))

    def doRollover(self) -> None:
        follow = [fd for fd in (1, 2) if same_file(fd, self.baseFilename)]
        super().doRollover()
        self._day = self._today()
        if self.stream is None:
            self.stream = self._open()
        for fd in follow:
            with contextlib.suppress(OSError):
                os.dup2(self.stream.fileno(), fd)


def setup_process_logging(
    process: str,
    log_dir: str | Path,
    *,
    level: int = logging.INFO,
    secrets: Iterable[str] = (),
    stderr: bool = True,
    now: float | None = None,
    filename: str | Path | None = None,
    max_bytes: int = MAX_BYTES,
    backups: int = BACKUPS,
) -> Path:
    """Log to ``log_dir/<process>_<YYYYmmdd_HHMMSS>.log`` (and stderr); return the file's path.

    ``filename`` names the log file exactly instead (``log_dir`` is then ignored). No stderr
    handler is added when stderr is that very file (see :func:`stderr_is`). The file rotates
    at ``max_bytes`` and each day, keeping ``backups`` parts (:class:`RotatingLogFile`).
    """
    if filename is not None:
        path = Path(filename)
        path.parent.mkdir(parents=True, exist_ok=True)
    else:
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(time.time() if now is None else now))
        path = log_dir / f"{process}_{stamp}.log"
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    redact = RedactFilter(secrets)
    fmt = logging.Formatter(FORMAT, DATEFMT)
    handlers: list[logging.Handler] = [RotatingLogFile(path, max_bytes=max_bytes, backups=backups)]
    if stderr and not stderr_is(path):
        handlers.append(logging.StreamHandler())
    for h in handlers:
        h.setFormatter(fmt)
        h.addFilter(redact)
        root.addHandler(h)
    root.setLevel(level)
    return path

"""Logging setup: one file per process (``<process>_<ts>.log``) plus stderr, with secrets redacted."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path

FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s"
DATEFMT = "%Y-%m-%dT%H:%M:%S"


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
        a, b = os.fstat(sys.stderr.fileno()), os.stat(path)
    except (AttributeError, OSError, ValueError):
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def setup_process_logging(
    process: str,
    log_dir: str | Path,
    *,
    level: int = logging.INFO,
    secrets: Iterable[str] = (),
    stderr: bool = True,
    now: float | None = None,
    filename: str | Path | None = None,
) -> Path:
    """Log to ``log_dir/<process>_<YYYYmmdd_HHMMSS>.log`` (and stderr); return the file's path.

    ``filename`` names the log file exactly instead (``log_dir`` is then ignored). No stderr
    handler is added when stderr is that very file (see :func:`stderr_is`).
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
    handlers: list[logging.Handler] = [logging.FileHandler(path, encoding="utf-8")]
    if stderr and not stderr_is(path):
        handlers.append(logging.StreamHandler())
    for h in handlers:
        h.setFormatter(fmt)
        h.addFilter(redact)
        root.addHandler(h)
    root.setLevel(level)
    return path

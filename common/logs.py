"""Logging setup: one file per process (``<process>_<ts>.log``) plus stderr, with secrets redacted."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path

FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s"
DATEFMT = "%Y-%m-%dT%H:%M:%S"


class RedactFilter(logging.Filter):
    """Replaces every registered secret in a record's final message with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = {s for s in secrets if s and len(s) >= 4}

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            msg = record.getMessage()
            for s in self.secrets:
                msg = msg.replace(s, "***")
            record.msg, record.args = msg, None
        return True


def setup_process_logging(
    process: str,
    log_dir: str | Path,
    *,
    level: int = logging.INFO,
    secrets: Iterable[str] = (),
    stderr: bool = True,
    now: float | None = None,
) -> Path:
    """Log to ``log_dir/<process>_<YYYYmmdd_HHMMSS>.log`` (and stderr); return the file's path."""
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
    if stderr:
        handlers.append(logging.StreamHandler())
    for h in handlers:
        h.setFormatter(fmt)
        h.addFilter(redact)
        root.addHandler(h)
    root.setLevel(level)
    return path

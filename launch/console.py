"""The launcher's own log: every line in ``launch_<ts>.log`` (full format) and on the terminal
(short: time and message), secrets redacted in both; ``launch.log`` links to the latest."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from pathlib import Path

from common.logs import RedactFilter, setup_process_logging
from common.private_files import make_new_files_private
from launch.paths import ModePaths, point_link

CONSOLE_FORMAT = "%(asctime)s %(levelprefix)s%(message)s"


class _Console(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        record.levelprefix = "" if record.levelno <= logging.INFO else f"{record.levelname}: "
        return super().format(record)


def setup_launch_logging(paths: ModePaths, stamp: str, secrets: Iterable[str] = (),
                         console: bool = True) -> Path:  # fmt: skip
    """Log to ``<log-dir>/launch_<stamp>.log`` and (``console``) the terminal; the file's path.
    New files are private from here on (umask 077, inherited by the bridge and the engine)."""
    make_new_files_private()
    path = setup_process_logging(
        "launch", paths.log_dir, secrets=secrets, stderr=False, filename=paths.log_file("launch", stamp)
    )
    point_link(paths.latest_link("launch"), path)
    if console:
        h = logging.StreamHandler(sys.stdout)
        h.setFormatter(_Console(CONSOLE_FORMAT, "%H:%M:%S"))
        h.addFilter(RedactFilter(secrets))
        logging.getLogger().addHandler(h)
    return path


def add_secrets(secrets: Iterable[str]) -> None:
    """Redact more values (keys learnt after logging started) in every handler."""
    for h in logging.getLogger().handlers:
        h.addFilter(RedactFilter(secrets))


def setup_console_logging(level: int = logging.INFO) -> None:
    """Terminal only (``download``, ``status``, ``stop``): time and message."""
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    h = logging.StreamHandler(sys.stdout)
    h.setFormatter(_Console(CONSOLE_FORMAT, "%H:%M:%S"))
    root.addHandler(h)
    root.setLevel(level)
__all__ = ["add_secrets", "setup_console_logging", "setup_launch_logging"]

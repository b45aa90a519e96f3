"""The launcher's two children, ``python -m bridge`` and ``python -m engine``, as processes.

Each runs in its own session (a Ctrl-C on the operator's terminal reaches only the launcher,
which stops them in order), writes everything to ``<name>_<ts>.log`` (the child's own log
lines, and whatever reaches its stderr, such as an import error), and is recorded in a pid
file as soon as it is started, so a launcher killed a moment later still leaves a trace for
the next one. Endpoints and keys go through the environment, never the command line.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from common.children import spawn, with_pythonpath
from launch.paths import ModePaths, point_link
from launch.pidfiles import BRIDGE, ENGINE, write_record

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout the children import (whatever the launcher's working directory)."""
LOG_NAMES = {BRIDGE: "bridge", ENGINE: "trader"}
"""Log file prefix of each child (design.md §4: ``bridge_<ts>.log``, ``trader_<ts>.log``)."""


@dataclass(frozen=True)
class ChildCommand:
    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    log_file: Path


@dataclass(frozen=True)
class ChildSettings:
    """What both children are told (the same files the launcher reads)."""

    strategy: str
    fifo: Path
    config_dir: Path
    config_env: Path
    history_sessions: int
    alert_after_s: float = 30.0
    """Wall seconds without bars or heartbeats before the engine's feed-loss alert."""


def bridge_command(paths: ModePaths, s: ChildSettings, env: Mapping[str, str], stamp: str) -> ChildCommand:
    log_file = paths.log_file(LOG_NAMES[BRIDGE], stamp)
    argv = (
        sys.executable, "-m", "bridge",
        "--strategy", s.strategy,
        "--fifo", str(s.fifo),
        "--log-dir", str(paths.log_dir),
        "--log-file", str(log_file),
        "--config-dir", str(s.config_dir),
        "--config-env", str(s.config_env),
    )  # fmt: skip
    return ChildCommand(BRIDGE, argv, env, log_file)


def engine_command(paths: ModePaths, s: ChildSettings, env: Mapping[str, str], stamp: str,
                   params: Path | None = None) -> ChildCommand:  # fmt: skip
    """The engine's command; ``params``: the optimizer's output it trades (``--params``)."""
    log_file = paths.log_file(LOG_NAMES[ENGINE], stamp)
    argv = (
        sys.executable, "-m", "engine",
        "--strategy", s.strategy,
        "--fifo", str(s.fifo),
        "--log-dir", str(paths.log_dir),
        "--log-file", str(log_file),
        "--data-dir", str(paths.data_dir),
        "--config-dir", str(s.config_dir),
        "--config-env", str(s.config_env),
        "--history-sessions", str(s.history_sessions),
        "--alert-after", f"{s.alert_after_s:g}",
        *(("--params", str(params)) if params is not None else ()),
    )  # fmt: skip
    return ChildCommand(ENGINE, argv, env, log_file)


def starter(cmd: ChildCommand, paths: ModePaths) -> Callable[[], subprocess.Popen]:
    """A function that starts ``cmd`` (each call a new process), records its pid and points
    ``<name>.log`` at its log file."""

    env = with_pythonpath(PROJECT_ROOT, cmd.env)

    def start() -> subprocess.Popen:
        proc = spawn(cmd.argv, env=env, output=cmd.log_file, new_session=True)
        write_record(paths.run_dir, cmd.name, proc.pid, cmd.argv)
        point_link(paths.latest_link(LOG_NAMES[cmd.name]), cmd.log_file)
        return proc

    return start


__all__ = ["LOG_NAMES", "ChildCommand", "ChildSettings", "bridge_command", "engine_command", "starter"]

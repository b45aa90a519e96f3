"""Where a mode keeps its files: live and mock never share data, logs, journal or FIFO.

======================  =================================  ==================================
                        live                               mock
======================  =================================  ==================================
history, today's bars   ``data/``                          ``data/mock/``
optimized parameters    ``<config-dir>/best_params.json``  ``data/mock/best_params.json``
optimizer studies       ``data/optuna/``                   ``data/mock/optuna/``
logs, journal, state    ``logs/live_trading/``             ``logs/mock_trading/``
pid files               ``logs/live_trading/run/``         ``logs/mock_trading/run/``
FIFO                    ``/tmp/alpaca_bars.fifo``          ``/tmp/alpaca_bars_mock.fifo``
======================  =================================  ==================================

Parameters the optimizer fitted on the mock market's synthetic data are never traded live:
in mock mode the optimizer writes, and the engine reads (``--params``), a file of their own.

Each process logs to ``<name>_<ts>.log`` in the log directory; ``<name>.log`` is a link to the
latest one (``make tail`` follows them).
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from common.config import BEST_PARAMS_FILE
from common.fifo import DEFAULT_FIFO_PATH


class Mode(StrEnum):
    LIVE = "live"
    MOCK = "mock"


MODES = tuple(m.value for m in Mode)


@dataclass(frozen=True)
class ModePaths:
    mode: Mode
    data_dir: Path
    log_dir: Path
    default_fifo: Path

    @classmethod
    def of(cls, mode: str | Mode) -> ModePaths:
        m = Mode(mode)
        if m is Mode.LIVE:
            return cls(m, Path("data"), Path("logs/live_trading"), DEFAULT_FIFO_PATH)
        return cls(
            m,
            Path("data/mock"),
            Path("logs/mock_trading"),
            DEFAULT_FIFO_PATH.with_name(f"{DEFAULT_FIFO_PATH.stem}_mock{DEFAULT_FIFO_PATH.suffix}"),
        )

    def best_params(self, config_dir: Path) -> Path:
        """The optimizer's output that this mode's engine trades (see the module docstring)."""
        root = config_dir if self.mode is Mode.LIVE else self.data_dir
        return root / BEST_PARAMS_FILE

    @property
    def run_dir(self) -> Path:
        """The pid files of the launcher and its processes."""
        return self.log_dir / "run"

    @property
    def state_json(self) -> Path:
        """The engine's snapshot (written by the engine into its ``--log-dir``)."""
        return self.log_dir / "state.json"

    @property
    def journal(self) -> Path:
        return self.log_dir / "journal.sqlite"

    def log_file(self, name: str, stamp: str) -> Path:
        return self.log_dir / f"{name}_{stamp}.log"

    def latest_link(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def logs_of(self, name: str) -> list[Path]:
        """Every ``<name>_<ts>.log``, oldest first."""
        return sorted(self.log_dir.glob(f"{name}_*.log"))


def log_stamp(now: float | None = None) -> str:
    """The ``<ts>`` of log file names: local wall time to the second."""
    return time.strftime("%Y%m%d_%H%M%S", time.localtime(time.time() if now is None else now))


def point_link(link: Path, target: Path) -> None:
    """Make ``link`` a relative symlink to ``target`` (replaced atomically if it exists)."""
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(os.path.relpath(target, link.parent), tmp)
    os.replace(tmp, link)


__all__ = ["MODES", "Mode", "ModePaths", "log_stamp", "point_link"]

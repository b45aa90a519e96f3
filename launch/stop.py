"""``python -m launch stop``: stop a running system from another shell.

The launcher (found by its pid file, checked against its command line) is sent SIGTERM and
stops its children in order, as on Ctrl-C; if it does not finish within the timeout it is
killed, and whatever it leaves (or a killed launcher left earlier) is stopped from the pid
files. ``--market`` also stops a mock market a launcher started.
"""

from __future__ import annotations

import logging
from pathlib import Path

from common.children import stop_pid
from launch.paths import ModePaths
from launch.pidfiles import LAUNCHER, MARKET, live_record, remove_record, stop_recorded

log = logging.getLogger(__name__)

LAUNCHER_STOP_TIMEOUT_S = 40.0
"""A launcher stops its engine and bridge (each SIGKILLed after its own timeout) before exiting."""


def stop_mode(paths: ModePaths, *, market: bool = False, market_state: Path | None = None,
              timeout: float = LAUNCHER_STOP_TIMEOUT_S) -> list[str]:  # fmt: skip
    """Stop the mode's launcher and children (and the market); what was done, in words."""
    done: list[str] = []
    rec = live_record(paths.run_dir, LAUNCHER)
    if rec is not None:
        stop_pid(rec.pid, rec.matches, timeout)
        remove_record(paths.run_dir, LAUNCHER, rec.pid)
        done.append(f"stopped the {paths.mode} launcher (pid {rec.pid})")
    for r in stop_recorded(paths.run_dir):
        done.append(f"stopped a {r.name} left running (pid {r.pid})")
    if market:
        m = live_record(paths.run_dir, MARKET)
        if m is not None:
            stop_pid(m.pid, m.matches)
            remove_record(paths.run_dir, MARKET, m.pid)
            done.append(f"stopped the mock market (pid {m.pid})")
        elif market_state is not None:
            from launch.mock_market import running_market

            other = running_market(market_state)
            if other is not None:
                done.append(f"left the mock market pid {other.pid} running: no launcher started it")
    return done


__all__ = ["LAUNCHER_STOP_TIMEOUT_S", "stop_mode"]

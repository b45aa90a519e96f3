"""The bridge's counters on disk, for the launcher: a small JSON file beside its log.

``bridge_<ts>.log`` → ``bridge_<ts>.state.json`` (:func:`state_path_for`), replaced
atomically (readers see the old file or the new one, whole), written when a counter or the
connection state changes (checked with each heartbeat) and when the bridge stops::

    {"pid": 4242, "updated_ms": 1760641200000, "connected": true,
     "connections": 3, "reconnects": 2, "handshake_retries": 1, "limit_406": 0,
     "silent_replaced": 1, "dropped": 1, "batches": 388}

``reconnects`` counts connections that ended (dropped, refused with 406, replaced when
silent, an error) after which the bridge connected again; ``handshake_retries`` failed
attempts to connect. A bridge restarted on the same log file (the launcher's supervisor)
starts from the counters the file holds, so the file keeps the totals of the run.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from common.atomic_write import write_json_atomic

log = logging.getLogger(__name__)

STATE_SUFFIX = ".state.json"
COUNTERS = ("connections", "reconnects", "handshake_retries", "limit_406", "silent_replaced",
            "dropped", "batches")  # fmt: skip
"""Counters the file carries over from one bridge process to the next on the same log."""


def state_path_for(log_file: Path) -> Path:
    """The state file beside a bridge log: ``bridge_<ts>.log`` → ``bridge_<ts>.state.json``."""
    return log_file.with_name(log_file.stem + STATE_SUFFIX)


def read_state(path: Path) -> dict[str, Any] | None:
    """The file's content; None if it is missing or not a JSON object (said in the log)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("cannot read the bridge state file %s: %s", path, e)
        return None
    if not isinstance(data, dict):
        log.warning("bridge state file %s: not a JSON object", path)
        return None
    return data


def counters_of(state: Mapping[str, Any] | None) -> dict[str, int]:
    """The counters of a state (0 for a missing or malformed one)."""
    out = {}
    for k in COUNTERS:
        v = (state or {}).get(k)
        out[k] = v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0
    return out


class StateFile:
    """Writes the bridge's state to ``path`` when it changes, on top of what the file held
    when the bridge started (a previous process of the same run)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = counters_of(read_state(path))
        self._last: dict[str, Any] | None = None

    def update(self, counters: Mapping[str, int], *, connected: bool, wall_ms: int) -> bool:
        """Write if anything changed since the last write; whether it wrote."""
        body: dict[str, Any] = {k: self.base[k] + int(counters.get(k, 0)) for k in COUNTERS}
        body["connected"] = connected
        if body == self._last:
            return False
        try:
            write_json_atomic(self.path, {**body, "pid": os.getpid(), "updated_ms": wall_ms})
        except (OSError, ValueError) as e:
            log.warning("cannot write the bridge state file %s: %s", self.path, e)
            return False
        self._last = body
        return True


__all__ = ["COUNTERS", "STATE_SUFFIX", "StateFile", "counters_of", "read_state", "state_path_for"]

"""``state.json``: a human-readable snapshot of the engine, replaced atomically each minute.

The file is written to a temporary file in the same directory, flushed and fsynced, then
renamed over the old one (and the directory fsynced), so a reader — or a crash — only
ever sees the previous snapshot or the new one, never half of one. It is for people and
tools; the SQLite journal is what a restart trusts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from common.atomic_write import atomic_file


class SnapshotError(ValueError):
    """A state.json that cannot be written or read; the message names the file."""



def _reject_nonfinite(obj: Any, where: str = "") -> None:
    if isinstance(obj, float) and not math.isfinite(obj):
        raise SnapshotError(f"state.json: {where or 'value'}={obj!r} is not finite")
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            _reject_nonfinite(v, f"{where}.{k}" if where else str(k))
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _reject_nonfinite(v, f"{where}[{i}]")


def write_state_json(path: str | Path, state: Mapping[str, Any]) -> Path:
    """Atomically replace ``path`` with ``state`` as pretty JSON; returns the path."""
    path = Path(path)
    _reject_nonfinite(state)
    try:
        text = json.dumps(state, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except (TypeError, ValueError) as e:
        raise SnapshotError(f"{path}: cannot serialize state: {e}") from None
    with atomic_file(path, sync_dir=True) as fh:
        fh.write(text)
    return path


def read_state_json(path: str | Path) -> dict[str, Any] | None:
    """The snapshot at ``path``, or None if there is none; SnapshotError if it is unreadable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except ValueError as e:
        raise SnapshotError(f"{path}: not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise SnapshotError(f"{path}: expected a JSON object")
    return data

"""``config/best_params.json``: the parameters the engine trades, with their provenance.

Written only when the gate promotes new parameters, atomically (a temporary file, fsync,
rename: a reader sees the old file or the new one, never half of either), keeping the
other strategies' entries. The entry is validated before it is written (the file's model,
and the strategy config it makes with the engine's own overlay), so a file the optimizer
writes is a file the engine loads. The engine reads exactly this file
(``<config-dir>/best_params.json``).

Provenance: the data range and windows (``partial_end``: the last minute of today's
partial session, after a midday re-optimization), the trials finished over both phases,
the seed, the in-sample score (``score``) and held-out scores (``held_out_score``, and the
replaced parameters' ``baseline_held_out_score``), when, and the code version (``git
describe`` of the checkout, else the package version).
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import subprocess
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from common.atomic_write import write_json_atomic
from common.config import (
    BEST_PARAMS_FILE,
    STRATEGIES,
    BestParams,
    Provenance,
    load_best_params,
)
from common.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "intraday-trader"


def best_params_path(config_dir: str | Path) -> Path:
    return Path(config_dir) / BEST_PARAMS_FILE


@functools.cache
def code_version() -> str:
    """``git describe --always --dirty`` of this checkout, else the installed package version."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=PROJECT_ROOT,
                             capture_output=True, text=True, timeout=10, check=True)  # fmt: skip
        if out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"{PACKAGE} {importlib.metadata.version(PACKAGE)}"
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def current_params(path: str | Path, strategy: str) -> dict[str, Any]:
    """The strategy's parameters in the file ({} when the file or its entry is absent)."""
    p = Path(path)
    if not p.exists():
        return {}
    best = load_best_params(p, strategy)
    return {} if best is None else dict(best.params)


def write_best_params(
    path: str | Path, strategy: str, params: Mapping[str, Any], provenance: Provenance
) -> None:
    """Replace ``strategy``'s entry of ``path`` atomically (other entries kept)."""
    p = Path(path)
    data: dict[str, Any] = {}
    if p.exists():
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ConfigError(f"{p}: cannot read it to update it ({e}); fix or remove it") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: expected a JSON object keyed by strategy; fix or remove it")
        for other in data:
            if other in STRATEGIES and other != strategy:
                load_best_params(p, other)  # never rewrite another strategy's broken entry
    entry = BestParams(params=dict(params), provenance=provenance)
    data[strategy] = json.loads(entry.model_dump_json())
    write_json_atomic(p, data, sync_dir=True)


def provenance(
    *,
    data_start: Any,
    data_end: Any,
    held_out_start: Any,
    partial_end: datetime | None = None,
    trials: int,
    in_sample: float,
    held_out: float,
    baseline_in_sample: float,
    baseline_held_out: float,
    sessions_scored: int,
    sessions_held_out: int,
    seed: int,
    now: datetime,
) -> Provenance:
    return Provenance(
        data_start=data_start, data_end=data_end, trials=trials, score=in_sample,
        created_at=now, held_out_score=held_out, baseline_score=baseline_in_sample,
        sessions_scored=sessions_scored, seed=seed, held_out_start=held_out_start,
        sessions_held_out=sessions_held_out, baseline_held_out_score=baseline_held_out,
        code_version=code_version(), partial_end=partial_end,
    )  # fmt: skip


__all__ = ["best_params_path", "code_version", "current_params", "provenance", "write_best_params"]

"""Atomic file replacement: readers see the old file or the new one, whole, never a mix."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_file(path: str | Path, *, newline: str | None = None, sync_dir: bool = False) -> Iterator[IO[str]]:
    """Write a text file under a temporary name beside ``path``; on success fsync and rename it
    over ``path`` (and fsync the directory if ``sync_dir``); on failure leave ``path`` untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline=newline) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync_dir:
        with contextlib.suppress(OSError):
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)


def write_json_atomic(path: str | Path, obj: Any, *, indent: int = 2, sync_dir: bool = False) -> None:
    """``obj`` as sorted, indented JSON with a final newline, replaced atomically."""
    text = json.dumps(obj, indent=indent, sort_keys=True, allow_nan=False) + "\n"
    with atomic_file(path, sync_dir=sync_dir) as fh:
        fh.write(text)

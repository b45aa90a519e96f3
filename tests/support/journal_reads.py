"""Reading an engine journal file from a test: plain SQL on a read-only connection.

The engine itself only reads what it needs to trade (open orders, the last state, the ids
of a minute); tests look at everything it wrote through this module instead.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

from engine.journal import FillRecord, OrderRecord


def rows(path: Path, sql: str, *args: Any) -> list[sqlite3.Row]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def _record(cls: type, row: sqlite3.Row) -> Any:
    values = {f.name: row[f.name] for f in dataclasses.fields(cls)}
    values["session_date"] = date.fromisoformat(values["session_date"])
    return cls(**values)


def orders(path: Path, strategy: str, day: date) -> list[OrderRecord]:
    """The orders journaled for ``strategy`` on ``day``, by minute and id."""
    found = rows(path, "SELECT * FROM orders WHERE strategy=? AND session_date=?"
                 " ORDER BY t_ms, client_order_id", strategy, day.isoformat())  # fmt: skip
    return [_record(OrderRecord, r) for r in found]


def fills(path: Path, strategy: str, day: date) -> list[FillRecord]:
    """The fills journaled for ``strategy`` on ``day``, in the order they were journaled."""
    found = rows(path, "SELECT * FROM fills WHERE strategy=? AND session_date=?"
                 " ORDER BY t_ms, rowid", strategy, day.isoformat())  # fmt: skip
    return [_record(FillRecord, r) for r in found]


def decisions(path: Path, strategy: str, day: date) -> list[dict[str, Any]]:
    """The decisions journaled for ``strategy`` on ``day``, by minute (JSON columns parsed)."""
    found = rows(path, "SELECT * FROM decisions WHERE strategy=? AND session_date=?"
                 " ORDER BY t_ms, id", strategy, day.isoformat())  # fmt: skip
    out = []
    for r in found:
        d = dict(r)
        for k in ("targets", "reasons", "details"):
            d[k] = json.loads(d[k])
        out.append(d)
    return out

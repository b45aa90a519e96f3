"""Alerts from the engine's journal: the launcher reads new fills and events, the engine never waits.

:class:`JournalWatcher` opens the journal read-only at each :meth:`~JournalWatcher.poll`
(a WAL reader never blocks the engine's writes) and turns the rows added since the last
poll into :class:`~launch.alerts.Alert` s:

======================================  =========================
journal                                 alert
======================================  =========================
fills (all those found in one poll)     ``fill`` (one alert)
event ``halt``                          ``kill_switch``
events ``feed_silent``,                 ``feed_lost``
``feed_disconnected``
event ``not_flat_after_close``          ``positions_after_close``
event ``reconciliation`` with holdings  ``reconciliation``
or issues
events ``order_rejected``,              ``error``
``order_lost``, ``book_mismatch``,
``refused``
======================================  =========================

Where it stopped (the last fill's rowid and event id) is kept in ``<run-dir>/alerts_cursor.json``
so a relaunched launcher goes on from there instead of alerting old rows again; a journal
it has not seen before (another file) is read from its current end, so the history of
earlier days is never sent.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from common.atomic_write import write_json_atomic
from common.calendar import iso_ny
from launch.alert_config import AlertKind
from launch.alerts import Alert
from launch.journal_record import event_text

log = logging.getLogger(__name__)

EVENT_ALERTS: dict[str, AlertKind] = {
    "halt": AlertKind.KILL_SWITCH,
    "feed_silent": AlertKind.FEED_LOST,
    "feed_disconnected": AlertKind.FEED_LOST,
    "not_flat_after_close": AlertKind.POSITIONS_AFTER_CLOSE,
    "reconciliation": AlertKind.RECONCILIATION,
    "order_rejected": AlertKind.ERROR,
    "order_lost": AlertKind.ERROR,
    "book_mismatch": AlertKind.ERROR,
    "refused": AlertKind.ERROR,
}
SUBJECTS = {
    AlertKind.KILL_SWITCH: "HALT: the kill switch fired",
    AlertKind.FEED_LOST: "market data feed lost",
    AlertKind.POSITIONS_AFTER_CLOSE: "positions left after the close",
    AlertKind.RECONCILIATION: "positions taken over",
    AlertKind.ERROR: "order trouble",
}
CURSOR = "alerts_cursor.json"


@dataclass
class Cursor:
    inode: int | None
    fills: int
    events: int


def fill_line(side: str, qty: float, symbol: str, price: float, t_ms: int) -> str:
    return f"{iso_ny(t_ms)[11:19]} {side.upper()} {qty:g} {symbol} @ ${price:,.4f}"


class JournalWatcher:
    """New fills and events of one strategy's session in the journal at ``path``, as alerts."""

    def __init__(self, path: Path, strategy: str, day: date, cursor_file: Path | None = None) -> None:
        self.path = Path(path)
        self.strategy = strategy
        self.day = day
        self.cursor_file = cursor_file
        self.cursor = self._load()
        self.errors = 0

    def _inode(self) -> int | None:
        try:
            return self.path.stat().st_ino
        except OSError:
            return None

    def _load(self) -> Cursor:
        ino = self._inode()
        if self.cursor_file is not None:
            try:
                saved = json.loads(self.cursor_file.read_text(encoding="utf-8"))
                if saved.get("journal") == str(self.path.resolve()) and saved.get("inode") == ino and ino is not None:
                    return Cursor(ino, int(saved["fills"]), int(saved["events"]))
            except (OSError, ValueError, KeyError, TypeError):
                pass
        if ino is None:
            return Cursor(None, 0, 0)  # the engine has not created it yet: everything in it is new
        fills, events = self._ends()
        return Cursor(ino, fills, events)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=2.0)
        db.row_factory = sqlite3.Row
        return db

    def _ends(self) -> tuple[int, int]:
        try:
            db = self._connect()
            try:
                f = db.execute("SELECT COALESCE(MAX(rowid), 0) FROM fills").fetchone()[0]
                e = db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
                return int(f), int(e)
            finally:
                db.close()
        except sqlite3.Error:
            return 0, 0

    def _save(self) -> None:
        if self.cursor_file is None:
            return
        try:
            write_json_atomic(self.cursor_file, {"journal": str(self.path.resolve()), "inode": self.cursor.inode,
                                                 "fills": self.cursor.fills, "events": self.cursor.events})  # fmt: skip
        except OSError as e:
            log.warning("cannot save the alert cursor %s: %s", self.cursor_file, e)

    def poll(self) -> list[Alert]:
        """Alerts for what the journal gained since the last poll (nothing on a read error)."""
        ino = self._inode()
        if ino is None:
            return []
        if ino != self.cursor.inode:  # a new journal file (the engine created it): all of it is new
            self.cursor = Cursor(ino, 0, 0)
        args = (self.strategy, self.day.isoformat())
        try:
            db = self._connect()
            try:
                tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if not {"fills", "events"} <= tables:  # the engine is creating it: nothing yet
                    return []
                fills = db.execute(
                    "SELECT rowid AS rid, * FROM fills WHERE rowid > ? AND strategy=? AND session_date=?"
                    " ORDER BY rowid", (self.cursor.fills, *args)).fetchall()  # fmt: skip
                events = db.execute(
                    "SELECT * FROM events WHERE id > ? AND strategy=? AND session_date=? ORDER BY id",
                    (self.cursor.events, *args)).fetchall()  # fmt: skip
                f_end, e_end = (int(db.execute("SELECT COALESCE(MAX(rowid), 0) FROM fills").fetchone()[0]),
                                int(db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]))  # fmt: skip
            finally:
                db.close()
        except sqlite3.Error as e:
            self.errors += 1
            if self.errors == 1:
                log.warning("alerts: cannot read the journal %s: %s", self.path, e)
            return []
        out = []
        if fills:
            out.append(self._fills(fills))
        for r in events:
            alert = self._event(r)
            if alert is not None:
                out.append(alert)
        self.cursor = Cursor(ino, max(f_end, self.cursor.fills), max(e_end, self.cursor.events))
        self._save()
        return out

    def _fills(self, rows: list[sqlite3.Row]) -> Alert:
        lines = [fill_line(r["side"], float(r["qty"]), r["symbol"], float(r["price"]), int(r["t_ms"])) for r in rows]
        detail = {"fills": [{"symbol": r["symbol"], "side": r["side"], "qty": float(r["qty"]), "price": float(r["price"]),
                             "t_ms": int(r["t_ms"]), "client_order_id": r["client_order_id"]} for r in rows]}  # fmt: skip
        subject = lines[0] if len(rows) == 1 else f"{len(rows)} fills"
        return Alert(AlertKind.FILL, subject, "\n".join(lines), detail, at=iso_ny(int(rows[-1]["t_ms"])))

    def _event(self, r: sqlite3.Row) -> Alert | None:
        kind = EVENT_ALERTS.get(str(r["kind"]))
        if kind is None:
            return None
        try:
            detail: dict[str, Any] = json.loads(r["detail"])
        except ValueError:
            detail = {}
        if kind is AlertKind.RECONCILIATION and not (detail.get("holdings") or detail.get("issues")):
            return None  # a clean start: nothing to tell
        text = event_text(str(r["kind"]), detail)
        return Alert(kind, SUBJECTS[kind], text, {"event": str(r["kind"]), **detail}, at=iso_ny(int(r["t_ms"])))


__all__ = ["EVENT_ALERTS", "JournalWatcher", "fill_line"]

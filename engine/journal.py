"""The engine's journal: SQLite in WAL mode with ``synchronous=FULL``.

Every write commits before the call returns, so what the journal says survived a
``kill -9``. Tables:

- ``decisions`` — one row per decided minute: summary, targets, reasons, details;
- ``orders`` — one row per client_order_id: written as status ``intent`` *before* the
  order is sent, then moved through its lifecycle (:mod:`engine.order_lifecycle`: the
  broker's statuses, ``unknown`` while an answer is missing, ``lost`` when the broker
  confirms it never got it); an illegal move is refused, so a finished order never
  reopens, and ``filled_qty`` only grows;
- ``fills`` — one row per execution, unique by ``execution_id`` *and* by the order's
  cumulative filled quantity after it, so the trade-updates stream and REST polling can
  both report the same fill without counting it twice (a poll records only the part of
  the cumulative quantity not journaled yet);
- ``strategy_states`` — the strategy's JSON state after each decided minute;
- ``events`` — reconciliations, halts, alerts (``kind`` + JSON detail).

One Journal object is used from one thread. Times (``created_ms``) come from the injected
clock, so mock mode journals simulated time.

Errors: recording an intent whose client_order_id is journaled already raises
:class:`IntentExistsError` (normal when a relaunch re-decides a minute). A journal that
cannot be used — not a database, disk full, locked for longer than the busy timeout, an
unknown schema version, a directory that cannot be created — raises
:class:`JournalUnusableError`, an OperationalError naming the file: the engine stops for the
operator (exit 2) rather than trade without its journal.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from common.errors import OperationalError, TraderError
from common.order_status import TERMINAL, OrderStatus, is_terminal
from common.private_files import narrow
from common.quantities import QTY_EPS
from engine.order_lifecycle import OrderProgress, advance

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 10.0
"""How long a write waits for a lock held by another connection before the journal is unusable."""
TERMINAL_STATUSES: frozenset[str] = frozenset(TERMINAL)
"""Statuses of a finished order (from :data:`common.order_status.MOVES`)."""
_NOT_FINISHED = "status NOT IN (" + ", ".join(f"'{s}'" for s in sorted(TERMINAL_STATUSES)) + ")"
"""The open orders' condition, spelt the same in the partial index and the query that uses it
(an unknown status reads as open). Constants of this module, never input."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    strategy TEXT NOT NULL,
    session_date TEXT NOT NULL,
    t_ms INTEGER NOT NULL,
    summary TEXT NOT NULL,
    targets TEXT NOT NULL,
    reasons TEXT NOT NULL,
    details TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_by_minute ON decisions (strategy, session_date, t_ms);
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY,
    strategy TEXT NOT NULL,
    session_date TEXT NOT NULL,
    t_ms INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    qty REAL NOT NULL CHECK (qty > 0),
    reason TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    broker_order_id TEXT,
    filled_qty REAL NOT NULL DEFAULT 0,
    filled_avg_price REAL,
    detail TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_minute ON orders (strategy, session_date, t_ms);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders (status);
CREATE INDEX IF NOT EXISTS orders_by_t ON orders (strategy, t_ms);
CREATE INDEX IF NOT EXISTS orders_open ON orders (strategy, t_ms, client_order_id) WHERE @NOT_FINISHED@;
CREATE TABLE IF NOT EXISTS fills (
    execution_id TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL,
    broker_order_id TEXT,
    strategy TEXT NOT NULL,
    session_date TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    qty REAL NOT NULL CHECK (qty > 0),
    price REAL NOT NULL CHECK (price > 0),
    cum_qty REAL NOT NULL,
    t_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (client_order_id, cum_qty)
);
CREATE INDEX IF NOT EXISTS fills_by_session ON fills (strategy, session_date, t_ms);
CREATE TABLE IF NOT EXISTS strategy_states (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    strategy TEXT NOT NULL,
    session_date TEXT NOT NULL,
    t_ms INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS states_by_session ON strategy_states (strategy, session_date, id);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    strategy TEXT NOT NULL,
    session_date TEXT NOT NULL,
    t_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_kind ON events (strategy, session_date, kind);
""".replace("@NOT_FINISHED@", _NOT_FINISHED)


class IntentExistsError(TraderError):
    """An order intent with this client_order_id is journaled already (a relaunch re-deciding
    a minute): the order must be settled with the broker, never sent again."""


class JournalUnusableError(OperationalError):
    """The journal file cannot be used; the message names the file and the reason."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"journal {path} cannot be used: {reason} (the engine does not trade without it)"
        )


@dataclass(frozen=True, slots=True)
class OrderRecord:
    client_order_id: str
    strategy: str
    session_date: date
    t_ms: int
    symbol: str
    side: str
    qty: float
    reason: str
    status: str
    broker_order_id: str | None
    filled_qty: float
    filled_avg_price: float | None
    detail: str
    created_ms: int
    updated_ms: int

    @property
    def is_open(self) -> bool:
        return not is_terminal(self.status)

    @property
    def progress(self) -> OrderProgress:
        return OrderProgress(self.status, self.filled_qty, self.filled_avg_price)

    @property
    def remaining_qty(self) -> float:
        return max(0.0, self.qty - self.filled_qty)


@dataclass(frozen=True, slots=True)
class Intent:
    """An order about to be sent, as the journal records it first."""

    client_order_id: str
    strategy: str
    session_date: date
    t_ms: int
    symbol: str
    side: str
    qty: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class FillRecord:
    execution_id: str
    client_order_id: str
    broker_order_id: str | None
    strategy: str
    session_date: date
    symbol: str
    side: str
    qty: float
    price: float
    cum_qty: float
    t_ms: int
    source: str

    @property
    def signed_qty(self) -> float:
        return self.qty if self.side == "buy" else -self.qty


@dataclass(frozen=True, slots=True)
class StateRecord:
    strategy: str
    session_date: date
    t_ms: int
    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EventRecord:
    strategy: str
    session_date: date
    t_ms: int
    kind: str
    detail: dict[str, Any]


def _wall_ms() -> int:
    return int(time.time() * 1000)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, allow_nan=False, default=str)


def _positive(name: str, x: float) -> float:
    if not (isinstance(x, int | float) and math.isfinite(x) and x > 0):
        raise ValueError(f"{name}={x!r} is not a positive finite number")
    return float(x)


class Journal:
    """The SQLite journal at ``path`` (created with its schema on first open)."""

    def __init__(self, path: str | Path, *, now_ms: Callable[[], int] = _wall_ms) -> None:
        self.path = Path(path)
        self.now_ms = now_ms
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise JournalUnusableError(self.path, f"cannot create its directory: {e}") from e
        with self._usable("opening it"):
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=BUSY_TIMEOUT_S)
        try:
            self._open()
            for part in ("", "-wal", "-shm"):  # account data: 0600 (common.private_files)
                narrow(f"{self.path}{part}")
        except BaseException:
            self._db.close()
            raise

    def _open(self) -> None:
        """Settings and schema; JournalUnusableError if the file is not a journal this reads."""
        self._db.row_factory = sqlite3.Row
        with self._usable("opening it"):
            mode = self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        if str(mode).lower() != "wal":
            raise JournalUnusableError(self.path, f"cannot switch to WAL (journal_mode={mode})")
        with self._tx() as db:
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    db.execute(stmt)
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif str(row[0]) != str(SCHEMA_VERSION):
                raise JournalUnusableError(
                    self.path, f"schema version {row[0]!r}, this engine reads {SCHEMA_VERSION}"
                )

    # ------------------------------------------------------------------ plumbing

    def close(self) -> None:
        self._db.close()

    def checkpoint(self) -> None:
        """Copy what the write-ahead log holds into the database file (a passive checkpoint).

        Called by the engine after each minute's bookkeeping, so the log never grows to
        SQLite's automatic checkpoint, which would run inside whichever commit crossed it —
        possibly the intents' commit, right before an order is sent."""
        with self._usable("checkpointing"):
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _usable(self, doing: str) -> Iterator[None]:
        """SQLite trouble while ``doing`` → JournalUnusableError. A constraint violation
        (IntegrityError) is not trouble with the file: it passes through."""
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as e:
            raise JournalUnusableError(self.path, f"{doing}: {type(e).__name__}: {e}") from e

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed (one fsync) before the ``with`` block is left."""
        with self._usable("writing"):
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._usable("reading"):
            return self._db.execute(sql, args).fetchall()

    def _row(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Row | None:
        with self._usable("reading"):
            return self._db.execute(sql, args).fetchone()

    # ------------------------------------------------------------------ decisions and state

    _DECISION_SQL = (
        "INSERT INTO decisions (strategy, session_date, t_ms, summary, targets, reasons,"
        " details, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    _STATE_SQL = (
        "INSERT INTO strategy_states (strategy, session_date, t_ms, state, created_ms)"
        " VALUES (?, ?, ?, ?, ?)"
    )

    def record_minute(
        self,
        strategy: str,
        session_date: date,
        t_ms: int,
        summary: str,
        targets: Mapping[str, int],
        reasons: Mapping[str, str],
        details: Mapping[str, Any] | None,
        state: Mapping[str, Any] | None,
    ) -> None:
        """A decision and the strategy state after it (if given), in one transaction (one fsync)."""
        now = self.now_ms()
        day = session_date.isoformat()
        with self._tx() as db:
            db.execute(
                self._DECISION_SQL,
                (strategy, day, t_ms, summary, _dumps(dict(targets)), _dumps(dict(reasons)),
                 _dumps(dict(details or {})), now),
            )  # fmt: skip
            if state is not None:
                db.execute(self._STATE_SQL, (strategy, day, t_ms, _dumps(dict(state)), now))

    def last_state(self, strategy: str, session_date: date) -> StateRecord | None:
        """The most recently saved state of ``strategy`` for that session."""
        row = self._row(
            "SELECT * FROM strategy_states WHERE strategy=? AND session_date=?"
            " ORDER BY id DESC LIMIT 1",
            (strategy, session_date.isoformat()),
        )
        if row is None:
            return None
        return StateRecord(
            row["strategy"],
            date.fromisoformat(row["session_date"]),
            row["t_ms"],
            json.loads(row["state"]),
        )

    # ------------------------------------------------------------------ orders

    def record_intent(
        self,
        client_order_id: str,
        *,
        strategy: str,
        session_date: date,
        t_ms: int,
        symbol: str,
        side: str,
        qty: float,
        reason: str = "",
    ) -> None:
        """Journal an order before it is sent; IntentExistsError if that id is journaled already."""
        if side not in ("buy", "sell"):
            raise ValueError(f"side={side!r} is not buy or sell")
        _positive("qty", qty)
        now = self.now_ms()
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO orders (client_order_id, strategy, session_date, t_ms, symbol, side,"
                    " qty, reason, status, created_ms, updated_ms)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'intent', ?, ?)",
                    (
                        client_order_id,
                        strategy,
                        session_date.isoformat(),
                        t_ms,
                        symbol,
                        side,
                        qty,
                        reason,
                        now,
                        now,
                    ),
                )
        except sqlite3.IntegrityError:
            raise IntentExistsError(
                f"order intent {client_order_id} is already journaled"
            ) from None

    def record_intents(self, intents: Sequence[Intent]) -> set[str]:
        """Journal several orders before they are sent, in one transaction (one fsync); the
        client_order_ids that were journaled already (a relaunch re-deciding the minute:
        those must be settled with the broker, never sent again).

        The exception: an intent settled as ``lost`` (the broker never received it: no broker
        id, unknown by its client id) planned again with the same id, symbol and side — a
        relaunch re-deciding the minute a kill interrupted between journaling and sending —
        is journaled again as an intent and returned as new, to be sent under its own id:
        the broker refuses a second order with one client id, so sending it again can never
        double it, and the relaunch sends exactly the order the killed run meant to send."""
        for i in intents:
            if i.side not in ("buy", "sell"):
                raise ValueError(f"order {i.client_order_id}: side={i.side!r} is not buy or sell")
            _positive(f"qty of {i.client_order_id}", i.qty)
        existing: set[str] = set()
        if not intents:
            return existing
        now = self.now_ms()
        with self._tx() as db:
            for i in intents:
                cur = db.execute(
                    "INSERT OR IGNORE INTO orders (client_order_id, strategy, session_date, t_ms,"
                    " symbol, side, qty, reason, status, created_ms, updated_ms)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'intent', ?, ?)",
                    (i.client_order_id, i.strategy, i.session_date.isoformat(), i.t_ms, i.symbol,
                     i.side, i.qty, i.reason, now, now),
                )  # fmt: skip
                if cur.rowcount == 0 and not self._revive_lost(db, i, now):
                    existing.add(i.client_order_id)
        return existing

    @staticmethod
    def _revive_lost(db: sqlite3.Connection, i: Intent, now: int) -> bool:
        """``lost`` and never at the broker → ``intent`` again (see :meth:`record_intents`)."""
        cur = db.execute(
            "UPDATE orders SET status='intent', qty=?, reason=?, detail='', updated_ms=?"
            " WHERE client_order_id=? AND status=? AND broker_order_id IS NULL AND strategy=?"
            " AND t_ms=? AND symbol=? AND side=?",
            (i.qty, i.reason, now, i.client_order_id, OrderStatus.LOST.value, i.strategy, i.t_ms,
             i.symbol, i.side),
        )  # fmt: skip
        if cur.rowcount:
            log.warning("order %s never reached the broker and is planned again: sending it under "
                        "its own id", i.client_order_id)  # fmt: skip
        return cur.rowcount == 1

    def update_order(
        self,
        client_order_id: str,
        status: str,
        *,
        broker_order_id: str | None = None,
        filled_qty: float | None = None,
        filled_avg_price: float | None = None,
        detail: str | None = None,
    ) -> bool:
        """Move an order to ``status`` (:func:`engine.order_lifecycle.advance`); False, and no
        change, if the order is unknown or the move is illegal (a finished order never
        reopens). ``filled_qty`` never decreases. A legal report that changes nothing is
        not written (True, no fsync)."""
        with self._tx() as db:
            row = db.execute(
                "SELECT * FROM orders WHERE client_order_id=?", (client_order_id,)
            ).fetchone()
            if row is None:
                return False
            moved = advance(
                _order(row).progress,
                status,
                filled_qty=filled_qty,
                filled_avg_price=filled_avg_price,
                order=client_order_id,
            )
            if moved is None:
                return False
            same = (moved.status, moved.filled_qty, moved.filled_avg_price) == (
                row["status"], row["filled_qty"], row["filled_avg_price"])  # fmt: skip
            if same and broker_order_id in (None, row["broker_order_id"]) and detail is None:
                return True  # a report that brings nothing new: no write, no fsync
            db.execute(
                "UPDATE orders SET status=?, broker_order_id=COALESCE(?, broker_order_id),"
                " filled_qty=?, filled_avg_price=?, detail=COALESCE(?, detail), updated_ms=?"
                " WHERE client_order_id=?",
                (
                    moved.status,
                    broker_order_id,
                    moved.filled_qty,
                    moved.filled_avg_price,
                    detail,
                    self.now_ms(),
                    client_order_id,
                ),
            )
            return True

    def order(self, client_order_id: str) -> OrderRecord | None:
        row = self._row(
            "SELECT * FROM orders WHERE client_order_id=?", (client_order_id,)
        )
        return None if row is None else _order(row)

    def open_orders(self, strategy: str | None = None) -> list[OrderRecord]:
        """Orders not in a terminal status (``intent`` included): what a restart must resolve."""
        sql = f"SELECT * FROM orders WHERE {_NOT_FINISHED}"  # the orders_open index: the
        args: list[Any] = []  # minute's read stays quick however long the journal's history
        if strategy is not None:
            sql += " AND strategy=?"
            args.append(strategy)
        rows = self._rows(sql + " ORDER BY t_ms, client_order_id", args)
        return [_order(r) for r in rows]

    def filled_orders(self, strategy: str, session_date: date) -> list[OrderRecord]:
        """The session's orders of ``strategy`` with something filled (oldest first)."""
        rows = self._rows(
            "SELECT * FROM orders WHERE strategy=? AND session_date=? AND filled_qty > 0"
            " ORDER BY t_ms, client_order_id",
            (strategy, session_date.isoformat()),
        )
        return [_order(r) for r in rows]

    def ids_for_minute(self, strategy: str, t_ms: int, *, taken_only: bool = False) -> set[str]:
        """client_order_ids journaled for the decision on bar ``t_ms`` (for seq and rate caps);
        ``taken_only``: without the lost intents that never reached the broker, whose ids a
        re-decided minute uses again (:meth:`record_intents`)."""
        sql = "SELECT client_order_id FROM orders WHERE strategy=? AND t_ms=?"
        if taken_only:
            sql += f" AND NOT (status='{OrderStatus.LOST.value}' AND broker_order_id IS NULL)"
        return {r[0] for r in self._rows(sql, (strategy, t_ms))}

    # ------------------------------------------------------------------ fills

    def record_fill(
        self,
        client_order_id: str,
        *,
        execution_id: str,
        cum_qty: float,
        t_ms: int,
        price: float | None = None,
        qty: float | None = None,
        avg_price: float | None = None,
        broker_order_id: str | None = None,
        symbol: str | None = None,
        side: str | None = None,
        strategy: str | None = None,
        session_date: date | None = None,
        source: str = "stream",
    ) -> FillRecord | None:
        """Journal an execution; None if it (or a later cumulative quantity) is journaled already.

        ``t_ms`` is the execution's time (Unix ms).

        ``cum_qty`` is the order's cumulative filled quantity after this execution; the row's
        quantity is what it adds to the journal's cumulative figure. Its price is the
        execution's ``price`` when ``qty`` matches that addition, else derived from the
        order's cumulative ``avg_price``, else ``price``. Symbol, side, strategy and session
        come from the journaled order; for an order the journal does not know they must be given.
        """
        _positive("cum_qty", cum_qty)
        with self._tx() as db:
            if db.execute("SELECT 1 FROM fills WHERE execution_id=?", (execution_id,)).fetchone():
                return None
            order = db.execute(
                "SELECT * FROM orders WHERE client_order_id=?", (client_order_id,)
            ).fetchone()
            prev = db.execute(
                "SELECT COALESCE(MAX(cum_qty), 0) FROM fills WHERE client_order_id=?",
                (client_order_id,),
            ).fetchone()[0]
            if cum_qty <= prev + QTY_EPS:
                return None
            delta = cum_qty - prev
            prev_avg = _avg_of_fills(db, client_order_id) if prev > QTY_EPS else None
            if price is not None and qty is not None and abs(qty - delta) <= 1e-6:
                px = price
            elif avg_price is not None:
                px = (avg_price * cum_qty - (prev_avg or 0.0) * prev) / delta
            elif price is not None:
                px = price
            else:
                raise ValueError(f"fill of {client_order_id}: neither price nor avg_price given")
            _positive(f"fill price of {client_order_id}", px)
            if order is not None:
                symbol, side = order["symbol"], order["side"]
                strategy, sd = order["strategy"], order["session_date"]
            else:
                if symbol is None or side is None or strategy is None or session_date is None:
                    raise ValueError(
                        f"fill of unjournaled order {client_order_id}: symbol, side, strategy and "
                        "session_date are needed"
                    )
                sd = session_date.isoformat()
            if side not in ("buy", "sell"):
                raise ValueError(f"fill of {client_order_id}: side={side!r} is not buy or sell")
            db.execute(
                "INSERT INTO fills (execution_id, client_order_id, broker_order_id, strategy,"
                " session_date, symbol, side, qty, price, cum_qty, t_ms, source, created_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    execution_id,
                    client_order_id,
                    broker_order_id,
                    strategy,
                    sd,
                    symbol,
                    side,
                    delta,
                    px,
                    cum_qty,
                    t_ms,
                    source,
                    self.now_ms(),
                ),
            )
            if order is not None:
                avg = ((prev_avg or 0.0) * prev + px * delta) / cum_qty
                # the fill counts whatever the status (the broker may have reported more already)
                filled = _order(order).progress.with_fill(cum_qty, avg)
                done = cum_qty >= order["qty"] - QTY_EPS
                reported = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
                moved = advance(filled, reported, order=client_order_id) or filled
                db.execute(
                    "UPDATE orders SET filled_qty=?, filled_avg_price=?, status=?,"
                    " broker_order_id=COALESCE(broker_order_id, ?), updated_ms=? WHERE client_order_id=?",
                    (
                        moved.filled_qty,
                        moved.filled_avg_price,
                        moved.status,
                        broker_order_id,
                        self.now_ms(),
                        client_order_id,
                    ),
                )
        return FillRecord(
            execution_id,
            client_order_id,
            broker_order_id,
            str(strategy),
            date.fromisoformat(sd),
            str(symbol),
            str(side),
            delta,
            px,
            cum_qty,
            t_ms,
            source,
        )

    def record_fill_progress(
        self,
        client_order_id: str,
        *,
        cum_qty: float,
        avg_price: float,
        t_ms: int,
        broker_order_id: str | None = None,
        source: str = "poll",
        **order_fields: Any,
    ) -> FillRecord | None:
        """Journal what an order's cumulative fill adds, from a report without an execution
        (a poll, a submit's answer, an event without one); ``source`` names the report."""
        key = broker_order_id or client_order_id
        return self.record_fill(
            client_order_id,
            execution_id=f"{source}:{key}:{cum_qty:.9g}",
            cum_qty=cum_qty,
            t_ms=t_ms,
            avg_price=avg_price,
            broker_order_id=broker_order_id,
            source=source,
            **order_fields,
        )

    # ------------------------------------------------------------------ events

    def record_event(
        self,
        strategy: str,
        session_date: date,
        t_ms: int,
        kind: str,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO events (strategy, session_date, t_ms, kind, detail, created_ms)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    strategy,
                    session_date.isoformat(),
                    t_ms,
                    kind,
                    _dumps(dict(detail or {})),
                    self.now_ms(),
                ),
            )

    def events(
        self, strategy: str, session_date: date, kind: str | None = None
    ) -> list[EventRecord]:
        sql = "SELECT * FROM events WHERE strategy=? AND session_date=?"
        args: list[Any] = [strategy, session_date.isoformat()]
        if kind is not None:
            sql += " AND kind=?"
            args.append(kind)
        rows = self._rows(sql + " ORDER BY id", args)
        return [
            EventRecord(
                r["strategy"],
                date.fromisoformat(r["session_date"]),
                r["t_ms"],
                r["kind"],
                json.loads(r["detail"]),
            )
            for r in rows
        ]

    def is_halted(self, strategy: str, session_date: date) -> bool:
        """Whether a ``halt`` event was journaled for that strategy and session."""
        return bool(self.events(strategy, session_date, "halt"))


def _avg_of_fills(db: sqlite3.Connection, client_order_id: str) -> float | None:
    row = db.execute(
        "SELECT SUM(qty * price), SUM(qty) FROM fills WHERE client_order_id=?", (client_order_id,)
    ).fetchone()
    return None if not row[1] else row[0] / row[1]


def _order(r: sqlite3.Row) -> OrderRecord:
    return OrderRecord(
        r["client_order_id"],
        r["strategy"],
        date.fromisoformat(r["session_date"]),
        r["t_ms"],
        r["symbol"],
        r["side"],
        r["qty"],
        r["reason"],
        r["status"],
        r["broker_order_id"],
        r["filled_qty"],
        r["filled_avg_price"],
        r["detail"],
        r["created_ms"],
        r["updated_ms"],
    )

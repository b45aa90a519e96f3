"""The session summary printed when a run ends: what was traded, what it made, what went wrong.

Every figure says where it comes from:

- orders and fills: the engine's journal (``journal.sqlite``, read-only) for the strategy and
  session date, every launcher run of that day included;
- realised P&L: today's journal fills matched by average cost per symbol (positions carried in
  from before the session are not in it, and what is still open is not realised);
- equity change: the broker's account, ``equity − last_equity`` (everything: fees, positions
  carried in, other activity on the account);
- reconnects: the counter the bridge keeps in its state file beside this run's bridge log
  (:mod:`bridge.state_file`);
- restarts: this launcher's supervisor.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from bridge.state_file import read_state, state_path_for
from common.quantities import is_flat
from launch.preview import money

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fill:
    symbol: str
    side: str
    qty: float
    price: float


@dataclass
class JournalTally:
    orders_by_status: dict[str, int] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)
    error: str | None = None

    @property
    def orders(self) -> int:
        return sum(self.orders_by_status.values())


def read_journal(path: Path, strategy: str, day: date) -> JournalTally:
    """Orders by status and fills of one strategy's session, read-only; an unreadable or
    missing journal gives an empty tally with the reason."""
    tally = JournalTally()
    if not path.is_file():
        tally.error = f"no journal at {path}"
        return tally
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        try:
            for status, n in db.execute(
                "SELECT status, COUNT(*) FROM orders WHERE strategy=? AND session_date=? GROUP BY status",
                (strategy, day.isoformat()),
            ):
                tally.orders_by_status[str(status)] = int(n)
            tally.fills = [
                Fill(str(s), str(side), float(q), float(p))
                for s, side, q, p in db.execute(
                    "SELECT symbol, side, qty, price FROM fills WHERE strategy=? AND session_date=?"
                    " ORDER BY t_ms, created_ms, cum_qty",
                    (strategy, day.isoformat()),
                )
            ]
        finally:
            db.close()
    except sqlite3.Error as e:
        tally.error = f"cannot read {path}: {e}"
    return tally


def realised_pnl(fills: Iterable[Fill]) -> tuple[float, dict[str, float]]:
    """(realised P&L, quantities still open) of ``fills`` in order, by average cost per symbol."""
    qty: dict[str, float] = {}
    cost: dict[str, float] = {}
    realised = 0.0
    for f in fills:
        signed = f.qty if f.side == "buy" else -f.qty
        q0, c0 = qty.get(f.symbol, 0.0), cost.get(f.symbol, 0.0)
        if is_flat(q0) or (q0 > 0) == (signed > 0):
            qty[f.symbol], cost[f.symbol] = q0 + signed, c0 + signed * f.price
            continue
        avg = c0 / q0
        closing = min(abs(signed), abs(q0))
        realised += closing * (f.price - avg) * (1 if q0 > 0 else -1)
        rest = abs(signed) - closing
        if is_flat(abs(q0) - closing):
            # flat, or crossed zero: what is left opens the other side at this price
            qty[f.symbol] = (rest if signed > 0 else -rest) if not is_flat(rest) else 0.0
            cost[f.symbol] = qty[f.symbol] * f.price
        else:
            q1 = q0 + signed
            qty[f.symbol], cost[f.symbol] = q1, avg * q1
    return realised, {s: q for s, q in qty.items() if not is_flat(q)}


def bridge_reconnects(bridge_log: Path) -> int | None:
    """The reconnects the bridge counted in the state file beside ``bridge_log`` (None: no
    readable file, e.g. the bridge never started)."""
    state = read_state(state_path_for(bridge_log))
    n = None if state is None else state.get("reconnects")
    return n if isinstance(n, int) and not isinstance(n, bool) else None


@dataclass
class SessionSummary:
    strategy: str
    day: date
    ending: str
    """How the run ended, in words."""
    tally: JournalTally
    equity_change: float | None
    """Broker equity − last_equity (None: the broker could not be asked)."""
    reconnects: int | None
    """The bridge's own count (None: its state file could not be read)."""
    restarts: Mapping[str, int]

    def lines(self) -> list[str]:
        t = self.tally
        realised, still_open = realised_pnl(t.fills)
        statuses = ", ".join(f"{n} {s}" for s, n in sorted(t.orders_by_status.items())) or "none"
        out = [
            f"Session summary — {self.strategy}, {self.day} ({self.ending})",
            f"  Orders sent: {t.orders} ({statuses}); fills: {len(t.fills)}  [journal]",
            f"  Realised P&L: {money(realised, signed=True)}  [today's journal fills, average cost]",
        ]
        if still_open:
            held = ", ".join(f"{s} {q:g}" for s, q in sorted(still_open.items()))
            out.append(f"  Still open by the journal's fills: {held}")
        if t.error:
            out.append(f"  Journal: {t.error}")
        out.append(
            "  Equity change today: "
            + ("unknown (broker not reachable)" if self.equity_change is None
               else f"{money(self.equity_change, signed=True)}  [broker: equity - last_equity]")
        )  # fmt: skip
        reconnects = "unknown (no bridge state file)" if self.reconnects is None else self.reconnects
        out.append(f"  Bridge reconnects: {reconnects}  [bridge state file, this run]")
        restarts = ", ".join(f"{name} {n}" for name, n in self.restarts.items())
        out.append(f"  Restarts: {restarts}  [supervisor, this run]")
        return out


__all__ = [
    "Fill",
    "JournalTally",
    "SessionSummary",
    "bridge_reconnects",
    "read_journal",
    "realised_pnl",
]

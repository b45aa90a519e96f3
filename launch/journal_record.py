"""A traded day's :class:`~launch.session_record.SessionRecord`, from what the processes left.

Sources, each read without disturbing a running system:

- the engine's journal (``journal.sqlite``, opened read-only): orders, fills, decisions
  (the strategy state of each minute), events (reconciliations, halts, feed alerts, stream
  drops);
- the mode's bar files (:mod:`launch.minute_prices`): the minute closes positions are
  marked at and the decision prices, and how many bars were missing;
- the launcher's run records of the day (:mod:`launch.run_record`): the broker's equity
  before the first minute (``last_equity``), its equity change after the session, the
  positions found at the start, restarts of each process;
- ``state.json`` (the engine's last run): the gaps it backfilled;
- the strategy config (symbols, the cost model the fees are computed with) and
  ``best_params.json`` (:func:`optimizer_summary`).

The equity curve (definitions in :mod:`launch.session_record`): the start equity is the
broker's ``last_equity`` (the equity at the previous close, which the broker's P&L counts
from); each fill moves cash by its trade value rounded to the cent and by the fees the
config's cost model charges (regulatory fees accrued per day and charged rounded up to the
cent, any commission: what mockmarket's broker charges); positions — those found at the
start plus the fills — are marked at each minute's close, those found at the start against
the previous session's last close. In mock mode the curve's last point equals the broker's
equity change to the cent; in live mode the difference, if any, is shown (Alpaca's own fees).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from common.calendar import TradingCalendar, iso_ny, nyse
from common.config import StrategyConfig, load_best_params
from common.errors import ConfigError
from launch.minute_prices import MinutePrices, load_minute_prices
from launch.session_record import (
    DataQuality,
    DayRow,
    EventRow,
    OptimizerSummary,
    ReconciliationRow,
    SessionRecord,
    TradeRow,
    minute_of_fill,
    positions_through,
    state_changes,
)
from ledger.costs import CostModel
from ledger.fees import DailyFeeAccrual
from ledger.money import ZERO, cents, parse_decimal

log = logging.getLogger(__name__)

FEED_ALERTS = ("feed_silent", "feed_disconnected")


class JournalReadError(RuntimeError):
    """The journal cannot be read; the message names the file."""


@dataclass(frozen=True)
class JournalRows:
    orders: list[dict[str, Any]]
    fills: list[dict[str, Any]]
    decisions: list[tuple[int, str]]
    events: list[tuple[int, str, dict[str, Any]]]


def read_rows(path: Path, strategy: str, day: date) -> JournalRows:
    """One strategy's session from the journal at ``path``, read-only."""
    if not Path(path).is_file():
        raise JournalReadError(f"no journal at {path}")
    args = (strategy, day.isoformat())
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        db.row_factory = sqlite3.Row
        try:
            orders = [dict(r) for r in db.execute(
                "SELECT * FROM orders WHERE strategy=? AND session_date=? ORDER BY t_ms, client_order_id", args)]  # fmt: skip
            fills = [dict(r) for r in db.execute(
                "SELECT * FROM fills WHERE strategy=? AND session_date=? ORDER BY t_ms, created_ms, cum_qty", args)]  # fmt: skip
            decided: dict[int, str] = {}
            for r in db.execute("SELECT t_ms, summary FROM decisions WHERE strategy=? AND session_date=?"
                                " ORDER BY t_ms, id", args):  # fmt: skip
                decided[int(r["t_ms"])] = str(r["summary"])  # a re-decided minute: the last word
            events = []
            for r in db.execute("SELECT t_ms, kind, detail FROM events WHERE strategy=? AND session_date=?"
                                " ORDER BY id", args):  # fmt: skip
                try:
                    detail = json.loads(r["detail"])
                except ValueError:
                    detail = {"detail": r["detail"]}
                events.append((int(r["t_ms"]), str(r["kind"]), detail if isinstance(detail, dict) else {}))
        finally:
            db.close()
    except sqlite3.Error as e:
        raise JournalReadError(f"cannot read the journal {path}: {e}") from None
    return JournalRows(orders, fills, sorted(decided.items()), events)


def journal_sessions(path: Path) -> list[tuple[str, str]]:
    """(session_date, strategy) pairs the journal has decisions or fills for, oldest first."""
    if not Path(path).is_file():
        return []
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        try:
            rows = db.execute("SELECT session_date, strategy FROM decisions UNION "
                              "SELECT session_date, strategy FROM fills ORDER BY 1, 2").fetchall()  # fmt: skip
        finally:
            db.close()
    except sqlite3.Error as e:
        raise JournalReadError(f"cannot read the journal {path}: {e}") from None
    return [(str(d), str(s)) for d, s in rows]


def optimizer_summary(params_file: Path, strategy: str) -> OptimizerSummary | None:
    """The parameters the strategy trades from its ``best_params.json`` (live: in the config
    directory; mock: in the mode's data directory) and the optimizer's scores (None: no file
    or no entry for the strategy)."""
    path = Path(params_file)
    if not path.is_file():
        return None
    try:
        best = load_best_params(path, strategy)
    except ConfigError as e:
        log.warning("%s", e)
        return OptimizerSummary(str(path), {}, None, None, verdict=f"unreadable: {e}")
    if best is None:
        return None
    p = best.provenance
    held, base_held = p.held_out_score, getattr(p, "baseline_held_out_score", None)
    if held is not None and base_held is not None:
        verdict = (f"promoted {p.created_at:%Y-%m-%d %H:%M}: held-out {held:+.4f} %/day against "
                   f"{base_held:+.4f} %/day for the parameters it replaced")  # fmt: skip
    elif held is not None:
        verdict = f"promoted {p.created_at:%Y-%m-%d %H:%M} with a held-out score of {held:+.4f} %/day"
    else:
        verdict = f"in use since {p.created_at:%Y-%m-%d %H:%M} (no held-out score recorded)"
    held_from = getattr(p, "held_out_start", None)
    data = f"{p.data_start}..{p.data_end}" + (f", held-out from {held_from}" if held_from else "")
    if p.sessions_scored:
        data += f", {p.sessions_scored} scored session(s)"
    return OptimizerSummary(
        str(path), dict(best.params), p.score, held, p.baseline_score, base_held, verdict,
        p.created_at.isoformat(), data, p.trials, getattr(p, "code_version", None),
    )  # fmt: skip


def event_text(kind: str, d: Mapping[str, Any]) -> str:
    """An event of the journal in words."""
    if kind == "halt":
        return f"HALT (kill switch): {d.get('reason', '')}" + (
            f" ({'; '.join(d['issues'])})" if d.get("issues") else "")  # fmt: skip
    if kind in FEED_ALERTS:
        return str(d.get("message") or kind)
    if kind == "reconciliation":
        held = ", ".join(f"{s} {q:g}" for s, q in sorted((d.get("holdings") or {}).items())) or "no positions"
        return f"reconciliation: {held} -> {d.get('state')} ({d.get('action')})"
    if kind == "not_flat_after_close":
        held = ", ".join(f"{s} {q:g}" for s, q in sorted((d.get("positions") or {}).items()))
        return f"positions left after the close: {held}"
    if kind == "trade_stream_down":
        return f"trade-updates stream down ({d.get('reason', '')}): REST polling"
    if kind == "trade_stream_resumed":
        return f"trade-updates stream back after {d.get('down_s', '?')} s"
    if kind in ("order_rejected", "order_lost"):
        why = f": {d['why']}" if d.get("why") else ""
        return f"{kind.replace('_', ' ')} {d.get('client_order_id', '')}{why}"
    if kind == "book_mismatch":
        return "position book differed from the broker: " + "; ".join(map(str, d.get("diff") or []))
    return f"{kind}: " + ", ".join(f"{k}={v}" for k, v in sorted(d.items()))


@dataclass(frozen=True)
class BrokerFacts:
    """What the launcher read from the broker (run records, or asked now)."""

    last_equity: float | None = None
    """Equity at the previous close: what the day's P&L counts from."""
    equity: float | None = None
    """Equity after the session (or when asked)."""
    start_positions: Mapping[str, float] | None = None

    @property
    def pnl(self) -> float | None:
        if self.equity is None or self.last_equity is None:
            return None
        return self.equity - self.last_equity

    @classmethod
    def from_runs(cls, runs: Sequence[Mapping[str, Any]]) -> BrokerFacts:
        """The earliest positions found at a start, the latest equity read after a session."""
        start = next((r["broker_start"] for r in runs if isinstance(r.get("broker_start"), dict)), None)
        end = next((r["broker_end"] for r in reversed(runs) if isinstance(r.get("broker_end"), dict)), None)
        last = (end or {}).get("last_equity") or (start or {}).get("last_equity")
        return cls(
            last_equity=None if last is None else float(last),
            equity=None if not end or end.get("equity") is None else float(end["equity"]),
            start_positions=None if start is None else {str(s): float(q) for s, q in (start.get("positions") or {}).items()},
        )  # fmt: skip


def _fee_model(cfg: StrategyConfig) -> CostModel:
    return CostModel.from_config(cfg.costs)


def _curve(prices: MinutePrices, n: int, start_equity: float, start_pos: Mapping[str, float],
           trades: Sequence[TradeRow], model: CostModel, day: date,
           closes_ms: frozenset[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:  # fmt: skip
    """(equity[N], positions[S, N], values[S, N], fees) over the first ``n`` minutes."""
    t_ms = prices.t_ms[:n]
    symbols = prices.symbols
    pos = positions_through(t_ms, symbols, start_pos, trades, closes_ms)
    cash_delta = np.zeros(n)
    accrual = DailyFeeAccrual()
    fees = ZERO
    for tr in trades:
        q, px = parse_decimal(tr.qty, "qty"), parse_decimal(tr.price, "price")
        f = model.fill_fees(tr.side, q, px)
        charged = f.commission + accrual.charge(day, f.regulatory)
        fees += charged
        k = minute_of_fill(t_ms, tr.t_ms, closes_ms)
        if k < n:
            cash_delta[k] += float(-tr.sign * cents(q * px) - charged)
    close = prices.close[:, :n]
    marks = np.where(np.isnan(close), 0.0, close)
    values = pos * marks
    # positions found at the start are worth their previous close at the start
    base = sum(q * prices.previous_close.get(s, 0.0) for s, q in start_pos.items() if s in symbols)
    equity = start_equity - base + np.cumsum(cash_delta) + values.sum(axis=0)
    return equity, pos, np.where(np.isnan(close), np.nan, values), float(fees)


def read_session(
    journal: Path,
    strategy: str,
    day: date,
    *,
    kind: str,
    cfg: StrategyConfig,
    data_dir: Path,
    params_file: Path | None = None,
    runs: Sequence[Mapping[str, Any]] = (),
    broker: BrokerFacts | None = None,
    state: Mapping[str, Any] | None = None,
    reconnects: int | None = None,
    calendar: TradingCalendar | None = None,
) -> SessionRecord:
    """The record of ``strategy``'s ``day`` (module docstring for the sources)."""
    cal = calendar or nyse()
    if not cal.is_session(day):
        raise ValueError(f"{day} is not a trading session")
    session = cal.session(day)
    rows = read_rows(journal, strategy, day)
    facts = broker or BrokerFacts.from_runs(runs)
    notes: list[str] = []

    reconciliations = [
        ReconciliationRow(t, str(d.get("state", "")), str(d.get("action", "")),
                          {str(s): float(q) for s, q in (d.get("holdings") or {}).items()},
                          tuple(map(str, d.get("issues") or ())), tuple(map(str, d.get("details") or ())))
        for t, k, d in rows.events if k == "reconciliation"
    ]  # fmt: skip
    if facts.start_positions is not None:
        start_pos = dict(facts.start_positions)
    elif reconciliations:
        start_pos = dict(reconciliations[0].holdings)
        notes.append("positions at the start: the engine's first reconciliation (no launcher record)")
    else:
        start_pos = {}
    traded = [str(f["symbol"]) for f in rows.fills]
    symbols = tuple(dict.fromkeys([*cfg.symbols, *sorted(start_pos), *traded]))
    prices = load_minute_prices(symbols, [session], cal.previous_session(day), data_dir)
    if prices.missing:
        notes.append(f"no bars on {day} in {data_dir} for: {', '.join(prices.missing)}")

    orders = {str(o["client_order_id"]): o for o in rows.orders}
    trades = []
    for f in rows.fills:
        o = orders.get(str(f["client_order_id"]))
        decided = None if o is None else int(o["t_ms"])
        trades.append(TradeRow(
            t_ms=int(f["t_ms"]), symbol=str(f["symbol"]), side=str(f["side"]), qty=float(f["qty"]),
            price=float(f["price"]), client_order_id=str(f["client_order_id"]), decided_t_ms=decided,
            decision_price=None if decided is None else prices.close_at(str(f["symbol"]), decided),
            reason="" if o is None else str(o["reason"]),
        ))  # fmt: skip

    # the curve: open .. the last minute with a real bar (the whole session once it is over)
    covered = ~prices.filled.all(axis=0)
    last_real = int(np.flatnonzero(covered)[-1]) if covered.any() else -1
    last_used = max([last_real] + [int(np.searchsorted(prices.t_ms, t)) for t, _ in rows.decisions[-1:]])
    n = min(len(prices.t_ms), last_used + 1)
    if n < len(prices.t_ms):
        notes.append(f"the curve ends at {iso_ny(int(prices.t_ms[n - 1]) if n else session.open_ms)[11:16]}: "
                     "no bars after it in the files")  # fmt: skip
    if facts.last_equity is not None:
        start_equity = facts.last_equity
    else:
        start_equity = float(cfg.backtest.starting_cash)
        notes.append(f"the broker's equity before the session is unknown (no launcher record): the curve "
                     f"starts at the config's starting cash ${start_equity:,.2f}")  # fmt: skip
    model = _fee_model(cfg)
    equity, pos, values, fees = _curve(prices, n, start_equity, start_pos, trades, model, day,
                                       frozenset({session.close_ms}))  # fmt: skip

    statuses: dict[str, int] = {}
    for o in rows.orders:
        statuses[str(o["status"])] = statuses.get(str(o["status"]), 0) + 1
    halted = any(k == "halt" for _, k, _ in rows.events)
    end_pos = {s: float(pos[i, -1]) for i, s in enumerate(symbols) if n and abs(pos[i, -1]) > 1e-9}
    over = n == len(prices.t_ms)
    day_row = DayRow(day, start_equity, float(equity[-1]) if n else start_equity, len(trades), len(rows.orders),
                     halted, (not end_pos) if over else None)  # fmt: skip

    feed = None
    if state and state.get("session_date") == day.isoformat() and state.get("strategy") in (None, strategy):
        feed = state.get("feed") if isinstance(state.get("feed"), dict) else None
    restarts: dict[str, int] = {}
    for r in runs:
        for name, c in (r.get("children") or {}).items():
            restarts[name] = restarts.get(name, 0) + int(c.get("restarts") or 0)
    real = ~prices.filled[:, :n]
    in_config = [i for i, s in enumerate(symbols) if s in cfg.symbols]
    quality = DataQuality(
        minutes=n, symbols=len(in_config),
        filled_bars=int(sum((~real[i]).sum() for i in in_config)),
        filled_by_symbol={symbols[i]: int((~real[i]).sum()) for i in in_config},
        gaps_backfilled=None if feed is None else int(feed.get("gaps", 0)),
        backfilled_minutes=None if feed is None else int(feed.get("backfilled_minutes", 0)),
        reconnects=reconnects, restarts=restarts, launcher_runs=len(runs) if runs else None,
        stream_drops=sum(1 for _, k, _ in rows.events if k == "trade_stream_down"),
        feed_alerts=sum(1 for _, k, _ in rows.events if k in FEED_ALERTS),
    )  # fmt: skip
    if feed is None:
        notes.append("gaps backfilled: unknown (state.json is of another session)")
    events = tuple(EventRow(t, k, event_text(k, d)) for t, k, d in rows.events)
    return SessionRecord(
        kind=kind, strategy=strategy, start=day, end=day,
        t_ms=prices.t_ms[:n].copy(), equity=equity, start_equity=start_equity, symbols=symbols,
        positions=pos, position_values=values, states=state_changes(rows.decisions), trades=tuple(trades),
        days=(day_row,), orders_by_status=statuses, fees=fees, broker_pnl=facts.pnl,
        optimizer=None if params_file is None else optimizer_summary(params_file, strategy),
        quality=quality, reconciliations=tuple(reconciliations), events=events, notes=tuple(notes),
        sources={
            "orders, fills, decisions, events": str(journal),
            "minute closes": str(data_dir),
            "start equity, broker P&L, positions at the start": "the launcher's run records"
            if runs else "not recorded",
            "fees": "the config's cost model (ledger.costs)",
        },
    )  # fmt: skip


__all__ = [
    "BrokerFacts",
    "JournalReadError",
    "event_text",
    "journal_sessions",
    "optimizer_summary",
    "read_rows",
    "read_session",
]

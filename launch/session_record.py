"""What a session report shows, in one shape for a live or mock day and for a backtest.

Two readers fill it — :mod:`launch.journal_record` (the engine's journal, the day's bars,
the launcher's run records, the broker's account) and :mod:`launch.backtest_record` (a
:class:`engine.backtest_result.BacktestResult`) — and one renderer draws it
(:mod:`launch.report_html`), so a backtest and a traded day look alike and can be compared.

Definitions shared by both readers:

- the time axis is the grid of session minutes (bar starts, Unix ms); a value "at minute t"
  is taken at the close of bar t, that is at ``t + 1 min``;
- **equity at minute t**: the account's equity marked at the close of bar t — cash after
  every fill executed before ``t + 1 min`` (a fill at the session's close: by its last
  minute) plus each position at bar t's close (the session grid's close: a minute without a
  bar keeps the last close);
- **drawdown**: the fall of the equity from its running peak (the start equity included),
  in dollars and in percent of that peak;
- **slippage against the decision price**: a fill's price against the close of the bar its
  order was decided on, signed against the trader (positive: the fill cost more than the
  price the decision saw), per share, in basis points of the decision price and in dollars
  (per share × quantity);
- **positions through the day**: shares held at each minute (same rule as the equity) and
  their value at bar t's close;
- **strategy state**: the decision summary of each decided minute (the PSM state, or
  ``ROTATION[...]`` with the rotation book), kept where it changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from common.calendar import MINUTE_MS

KINDS = ("live", "mock", "backtest")


@dataclass(frozen=True)
class TradeRow:
    """One execution, with the decision it came from."""

    t_ms: int
    """When it executed (Unix ms)."""
    symbol: str
    side: str
    qty: float
    price: float
    client_order_id: str
    decided_t_ms: int | None = None
    """The bar the order was decided on (None: not known, e.g. an order the journal lacks)."""
    decision_price: float | None = None
    """The close of that bar (the price the decision saw)."""
    reason: str = ""

    @property
    def sign(self) -> int:
        return 1 if self.side == "buy" else -1

    @property
    def slippage_per_share(self) -> float | None:
        """Price against the decision price, positive when it cost the trader."""
        if self.decision_price is None:
            return None
        return (self.price - self.decision_price) * self.sign

    @property
    def slippage_bps(self) -> float | None:
        s = self.slippage_per_share
        if s is None or not self.decision_price:
            return None
        return s / self.decision_price * 10_000.0

    @property
    def slippage_usd(self) -> float | None:
        s = self.slippage_per_share
        return None if s is None else s * self.qty

    @property
    def value(self) -> float:
        return self.qty * self.price


@dataclass(frozen=True)
class DayRow:
    """One session of the record (a traded day has one; a backtest one per session)."""

    day: date
    start_equity: float
    end_equity: float
    fills: int
    orders: int
    halted: bool = False
    flat_at_close: bool | None = None
    group: str = ""
    """A backtest's group of sessions (in-sample, held-out); empty for a traded day."""

    @property
    def pnl(self) -> float:
        return self.end_equity - self.start_equity

    @property
    def return_pct(self) -> float:
        return 100.0 * self.pnl / self.start_equity if self.start_equity else math.nan


@dataclass(frozen=True)
class OptimizerSummary:
    """The parameters traded and how the optimizer chose them (``best_params.json``)."""

    source: str
    params: Mapping[str, Any]
    in_sample: float | None
    """The optimizer's in-sample score (mean daily net return, %)."""
    held_out: float | None
    """Its held-out score (same unit)."""
    baseline_in_sample: float | None = None
    baseline_held_out: float | None = None
    """The replaced parameters' scores (the gate's comparison)."""
    verdict: str = ""
    created_at: str = ""
    data: str = ""
    """The data range and sessions it was chosen on."""
    trials: int | None = None
    code_version: str | None = None


@dataclass(frozen=True)
class DataQuality:
    """How complete the day's data was and how the processes held up."""

    minutes: int
    """Grid minutes covered."""
    symbols: int
    filled_bars: int
    """Symbol-minutes with no real bar (filled from the last close by the grid rule)."""
    filled_by_symbol: Mapping[str, int] = field(default_factory=dict)
    gaps_backfilled: int | None = None
    """Gaps in the bridge's batches the engine backfilled from REST (None: not known)."""
    backfilled_minutes: int | None = None
    reconnects: int | None = None
    """Market-data stream reconnects of the bridge (None: not known)."""
    restarts: Mapping[str, int] = field(default_factory=dict)
    """Restarts of each process by the launcher, over the day's launcher runs."""
    launcher_runs: int | None = None
    stream_drops: int = 0
    """Times the trade-updates stream went down (the engine polled REST meanwhile)."""
    feed_alerts: int = 0
    """Feed-loss alerts the engine raised (no bars, or the bridge's socket down)."""


@dataclass(frozen=True)
class ReconciliationRow:
    t_ms: int
    state: str
    action: str
    holdings: Mapping[str, float]
    issues: tuple[str, ...] = ()
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventRow:
    t_ms: int
    kind: str
    text: str


@dataclass(frozen=True, eq=False)
class SessionRecord:
    """Everything a session report shows (module docstring for the definitions)."""

    kind: str
    """``live``, ``mock`` or ``backtest``."""
    strategy: str
    start: date
    end: date
    t_ms: np.ndarray
    """(N,) minutes of the curves (bar starts)."""
    equity: np.ndarray
    """(N,) equity at each minute's close."""
    start_equity: float
    """Equity before the first minute (the previous close's, or the starting cash)."""
    symbols: tuple[str, ...]
    positions: np.ndarray
    """(S, N) shares held at each minute's close, one row per symbol of ``symbols``."""
    position_values: np.ndarray
    """(S, N) their value at the close (NaN where the symbol has no price)."""
    states: tuple[tuple[int, str], ...]
    """(minute, strategy state) where the state changes."""
    trades: tuple[TradeRow, ...]
    days: tuple[DayRow, ...]
    orders_by_status: Mapping[str, int] = field(default_factory=dict)
    fees: float = 0.0
    """Fees charged in the curve (regulatory fees and commissions)."""
    broker_pnl: float | None = None
    """The broker's word for the P&L (equity − last equity; None: not asked)."""
    optimizer: OptimizerSummary | None = None
    quality: DataQuality | None = None
    reconciliations: tuple[ReconciliationRow, ...] = ()
    events: tuple[EventRow, ...] = ()
    notes: tuple[str, ...] = ()
    """What the reader could not know or had to assume, in words."""
    sources: Mapping[str, str] = field(default_factory=dict)
    """Where each part came from."""
    text_report: str = ""
    """A backtest's printed report, shown as is."""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind={self.kind!r} is not one of {KINDS}")
        n = len(self.t_ms)
        if self.equity.shape != (n,):
            raise ValueError(f"equity has shape {self.equity.shape}, expected ({n},)")
        for name in ("positions", "position_values"):
            a = getattr(self, name)
            if a.shape != (len(self.symbols), n):
                raise ValueError(f"{name} has shape {a.shape}, expected {(len(self.symbols), n)}")

    # ------------------------------------------------------------------ figures

    @property
    def end_equity(self) -> float:
        return float(self.equity[-1]) if len(self.equity) else self.start_equity

    @property
    def pnl(self) -> float:
        """End equity − start equity: the P&L the curve shows."""
        return self.end_equity - self.start_equity

    @property
    def return_pct(self) -> float:
        return 100.0 * self.pnl / self.start_equity if self.start_equity else math.nan

    @property
    def drawdown(self) -> np.ndarray:
        """(N,) dollars below the running peak (the start equity included), >= 0."""
        if not len(self.equity):
            return np.zeros(0)
        peak = np.maximum.accumulate(np.r_[self.start_equity, self.equity])[1:]
        return peak - self.equity

    @property
    def drawdown_pct(self) -> np.ndarray:
        if not len(self.equity):
            return np.zeros(0)
        peak = np.maximum.accumulate(np.r_[self.start_equity, self.equity])[1:]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(peak > 0, 100.0 * (peak - self.equity) / peak, 0.0)

    @property
    def max_drawdown(self) -> float:
        d = self.drawdown
        return float(d.max()) if len(d) else 0.0

    @property
    def max_drawdown_pct(self) -> float:
        d = self.drawdown_pct
        return float(d.max()) if len(d) else 0.0

    @property
    def traded_value(self) -> float:
        return sum(t.value for t in self.trades)

    @property
    def slippage_usd(self) -> float:
        """Total slippage against the decision prices, dollars (fills with a known price)."""
        return sum(s for t in self.trades if (s := t.slippage_usd) is not None)

    @property
    def slippage_bps(self) -> float | None:
        """Value-weighted mean slippage, basis points of the decision price."""
        known = [t for t in self.trades if t.decision_price]
        base = sum(t.qty * (t.decision_price or 0.0) for t in known)
        return None if not base else 10_000.0 * sum(t.slippage_usd or 0.0 for t in known) / base

    @property
    def held_symbols(self) -> tuple[str, ...]:
        """Symbols held at some minute, or traded."""
        traded = {t.symbol for t in self.trades}
        return tuple(s for i, s in enumerate(self.symbols)
                     if s in traded or np.any(np.abs(self.positions[i]) > 0))  # fmt: skip

    def end_positions(self) -> dict[str, float]:
        if not len(self.t_ms):
            return {}
        return {s: float(self.positions[i, -1]) for i, s in enumerate(self.symbols)
                if abs(self.positions[i, -1]) > 1e-9}  # fmt: skip

    @property
    def title(self) -> str:
        span = f"{self.start}" if self.start == self.end else f"{self.start}..{self.end}"
        what = {"live": "live session", "mock": "mock session", "backtest": "backtest"}[self.kind]
        return f"{self.strategy} {what} {span}"


def minute_of_fill(t_ms: np.ndarray, fill_ms: int, closes_ms: frozenset[int] = frozenset()) -> int:
    """The index of the first minute whose close counts a fill executed at ``fill_ms``: the
    minute it executed in (a fill at a minute's start belongs to that minute, since it took
    the minute's open); a fill at a session's close (``closes_ms``) to the session's last
    minute. ``len(t_ms)`` when it comes after the last minute."""
    t = fill_ms - 1 if fill_ms in closes_ms else fill_ms
    return int(np.searchsorted(np.asarray(t_ms, dtype=np.int64) + MINUTE_MS, t, side="right"))


def positions_through(t_ms: np.ndarray, symbols: Sequence[str], start: Mapping[str, float],
                      trades: Sequence[TradeRow], closes_ms: frozenset[int] = frozenset()) -> np.ndarray:  # fmt: skip
    """(S, N) shares held at each minute's close: ``start`` plus every execution counted by
    that minute (:func:`minute_of_fill`)."""
    index = {s: i for i, s in enumerate(symbols)}
    delta = np.zeros((len(symbols), len(t_ms)))
    for sym, q in start.items():
        if sym in index and len(t_ms):
            delta[index[sym], 0] += q
    for tr in trades:
        n = minute_of_fill(t_ms, tr.t_ms, closes_ms)
        if tr.symbol in index and n < len(t_ms):
            delta[index[tr.symbol], n] += tr.sign * tr.qty
    return np.cumsum(delta, axis=1)


def state_changes(decided: Sequence[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    """The (minute, state) pairs where the state differs from the one before."""
    out: list[tuple[int, str]] = []
    for t, s in decided:
        if not out or out[-1][1] != s:
            out.append((int(t), str(s)))
    return tuple(out)


__all__ = [
    "KINDS",
    "DataQuality",
    "DayRow",
    "EventRow",
    "OptimizerSummary",
    "ReconciliationRow",
    "SessionRecord",
    "TradeRow",
    "minute_of_fill",
    "positions_through",
    "state_changes",
]

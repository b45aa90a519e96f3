"""What a backtest returns, its figures, and the printed report.

Definitions:

- daily return: equity at the session's last close over equity at its open, minus 1;
  MRD (mean daily return) is their mean, in percent;
- a trade is a round trip of one symbol, from flat to flat; its P&L is the sum of its
  fills' cash flows (fees included); the win rate is the share of trades with P&L > 0;
- max drawdown: the largest fall from a running peak of the equity curve (marked at
  every minute's close, starting from the starting cash), in percent of that peak.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np

from common.calendar import from_ms
from common.config import StrategyConfig
from engine.sim_account import SimFill


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order the backtest sent (as the live engine would have)."""

    session_date: date
    t_ms: int
    """The bar it was decided on."""
    symbol: str
    side: str
    qty: float
    client_order_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class TradeRecord:
    """A round trip of one symbol, flat to flat."""

    symbol: str
    entry_t_ms: int
    exit_t_ms: int
    pnl: float
    fills: int

    @property
    def won(self) -> bool:
        return self.pnl > 0


@dataclass(frozen=True, slots=True)
class DayResult:
    session_date: date
    minutes: int
    start_equity: float
    end_equity: float
    orders: int
    fills: int
    trades: int
    wins: int
    flat_at_close: bool
    halted: bool
    unsent: int
    """Orders decided at the close (never sent)."""

    @property
    def return_pct(self) -> float:
        return 100.0 * (self.end_equity / self.start_equity - 1.0)

    @property
    def half_day(self) -> bool:
        return self.minutes < 390


@dataclass(frozen=True, eq=False)
class BacktestResult:
    strategy: str
    config: StrategyConfig
    start: date
    end: date
    warmup_sessions: int
    starting_cash: float
    days: tuple[DayResult, ...]
    orders: tuple[OrderRecord, ...]
    fills: tuple[SimFill, ...]
    trades: tuple[TradeRecord, ...]
    unfilled: tuple[str, ...]
    """client_order_ids that found no price."""
    equity_t: np.ndarray
    equity: np.ndarray
    """Equity marked at every simulated minute's close."""

    @property
    def final_equity(self) -> float:
        return self.days[-1].end_equity if self.days else self.starting_cash

    @property
    def total_return_pct(self) -> float:
        return 100.0 * (self.final_equity / self.starting_cash - 1.0)

    @property
    def mrd_pct(self) -> float:
        """Mean daily return, percent."""
        return float(np.mean([d.return_pct for d in self.days])) if self.days else 0.0

    @property
    def n_trades(self) -> int:
        return len(self.trades)

    @property
    def win_rate(self) -> float:
        """Share of trades won (NaN without trades)."""
        return sum(t.won for t in self.trades) / len(self.trades) if self.trades else math.nan

    @property
    def max_drawdown_pct(self) -> float:
        return max_drawdown_pct(np.r_[self.starting_cash, self.equity])

    @property
    def flat_every_close(self) -> bool:
        return all(d.flat_at_close for d in self.days)

    def fill_table(self) -> list[tuple[str, str, str, float, float, int]]:
        """(client_order_id, symbol, side, qty, price, fill minute) of every fill, by minute
        then id: the form to compare with a broker's record of a mock replay."""
        rows = [(f.client_order_id, f.symbol, f.side, f.qty, f.price, f.t_ms) for f in self.fills]
        return sorted(rows, key=lambda x: (x[5], x[0]))


def max_drawdown_pct(equity: np.ndarray) -> float:
    """Largest fall from a running peak, percent of the peak (0 for a rising curve)."""
    e = np.asarray(equity, dtype=np.float64)
    if e.size == 0:
        return 0.0
    peak = np.maximum.accumulate(e)
    return float(np.max((peak - e) / peak) * 100.0)


def _hhmm(t_ms: int) -> str:
    return from_ms(t_ms).strftime("%H:%M")


def format_report(result: BacktestResult) -> str:
    """A plain-text report: the headline figures, then one line per session."""
    r = result
    win = "-" if math.isnan(r.win_rate) else f"{100 * r.win_rate:.1f}%"
    bt = r.config.costs
    lines = [
        f"backtest {r.strategy}: {r.start}..{r.end}, {len(r.days)} session(s), "
        f"{r.warmup_sessions} warm-up session(s)",
        f"fills at the next minute's open, slippage {bt.slippage_bps:g} bps, "
        f"fee ${bt.fee_per_share:g}/share, starting cash ${r.starting_cash:,.2f}",
        "",
        f"  mean daily return (MRD)  {r.mrd_pct:+.4f}%",
        f"  total return             {r.total_return_pct:+.4f}%",
        f"  trades                   {r.n_trades}",
        f"  win rate                 {win}",
        f"  max drawdown             {r.max_drawdown_pct:.4f}%",
        f"  orders / fills           {len(r.orders)} / {len(r.fills)}",
        f"  final equity             ${r.final_equity:,.2f}",
        f"  flat at every close      {'yes' if r.flat_every_close else 'NO'}",
    ]
    if r.unfilled:
        lines.append(f"  unfilled (no price)      {len(r.unfilled)}")
    lines += [
        "",
        f"  {'date':10}  {'min':>3}  {'start equity':>13}  {'end equity':>13}  {'return':>9}  "
        f"{'orders':>6}  {'trades':>6}  {'won':>4}  flat  note",
    ]
    for d in r.days:
        notes = [n for n, on in (("half day", d.half_day), ("HALTED", d.halted)) if on]
        lines.append(
            f"  {d.session_date}  {d.minutes:>3}  {d.start_equity:>13,.2f}  "
            f"{d.end_equity:>13,.2f}  "
            f"{d.return_pct:>+8.4f}%  {d.orders:>6}  {d.trades:>6}  {d.wins:>4}  "
            f"{'yes ' if d.flat_at_close else 'NO  '}  {', '.join(notes)}"
        )
    return "\n".join(lines)


def format_orders(result: BacktestResult) -> str:
    """Every fill, one line each (for comparing with a mock replay by eye)."""
    out = [f"{'filled':5}  {'side':4}  {'qty':>8}  {'symbol':6}  {'price':>10}  client_order_id"]
    for f in result.fills:
        out.append(
            f"{_hhmm(f.t_ms):5}  {f.side:4}  {f.qty:>8g}  {f.symbol:6}  {f.price:>10.4f}  "
            f"{f.client_order_id}"
        )
    return "\n".join(out)


__all__ = [
    "BacktestResult",
    "DayResult",
    "OrderRecord",
    "TradeRecord",
    "format_orders",
    "format_report",
    "max_drawdown_pct",
]

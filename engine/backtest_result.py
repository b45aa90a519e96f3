"""What a backtest returns, its figures, and the printed report.

Definitions (each figure per session, and over each group of sessions: in-sample and
held-out, or all in-sample when there is no held-out split):

- every fill has a *reference price*: the open of the bar it filled in, or the session's
  last price for an order still working at the close (:mod:`ledger.no_bar_rule`). Its
  *costs* are what it paid over that price: the half-spread for its symbol's liquidity,
  the slippage (with the rounding of the price to $0.0001 and of the trade value to the
  cent), and the fees charged (regulatory fees accrued per day and charged rounded up to
  the cent, and any commission) (:mod:`ledger.costs`);
- **net P&L**: the change in equity (cash plus positions at the last close) over the
  session; **gross P&L** = net + costs: the P&L had every fill been at its reference
  price with no fee. The reference prices are prints, not mid-quotes (the synthetic
  market prints at the bid or the ask): gross is "before the costs the model charges",
  not a frictionless mid-price P&L;
- daily return: net P&L over the equity at the session's start (equity at its last close
  over equity at its open, minus 1); MRD (mean daily return) is their mean, in percent;
  the gross daily return and the hold baseline's are defined alike;
- **hold baseline**: the same account buying equal dollar amounts of every symbol of the
  strategy (the session's start equity over the number of symbols, whole shares at the
  first minute's close) with orders decided on the session's first bar, and selling them
  on the strategy's end-of-day bar, through the same fill rule and costs;
- **turnover**: traded value (Σ qty × price of the fills) over the session's start equity;
- **round trips**: trades of one symbol from flat to flat; a trade's P&L is the sum of its
  fills' cash flows (fees included); the win rate is the share of trades with P&L > 0;
- **costs / gross**: the share of the gross P&L the costs took (only when gross > 0);
- max drawdown: the largest fall from a running peak of the equity curve (marked at
  every minute's close, starting from the starting cash), in percent of that peak.

Signal diagnostics (:mod:`engine.diagnostics`) are computed per group and printed with them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np

from common.calendar import from_ms
from common.config import StrategyConfig
from engine.diagnostics import Correlation, SignalDiagnostics, SignalIC
from engine.sim_account import SimFill
from ledger.money import ZERO, cents

NO_SPLIT = "in-sample (no held-out split)"
IN_SAMPLE = "in-sample"
HELD_OUT = "held-out"


@dataclass(frozen=True, slots=True)
class Costs:
    """What fills cost over their reference prices, in dollars."""

    spread: float = 0.0
    """Half-spreads paid."""
    slippage: float = 0.0
    """Slippage, and the rounding of prices to $0.0001 and of trade values to the cent."""
    fees: float = 0.0
    """Fees charged (regulatory, rounded up per day, and commissions)."""

    @property
    def total(self) -> float:
        return self.spread + self.slippage + self.fees

    def __add__(self, other: Costs) -> Costs:
        return Costs(
            self.spread + other.spread, self.slippage + other.slippage, self.fees + other.fees
        )


def costs_of(fills: Iterable[SimFill]) -> Costs:
    """The costs of ``fills`` (exact per fill, summed, then rounded to the cent)."""
    spread = slippage = fees = ZERO
    for f in fills:
        c = f.costs
        if c is None:
            continue
        value = c.qty * c.price
        spread += c.spread_cost
        slippage += c.slippage_cost + c.sign * (cents(value) - value)
        fees += c.fee_charged
    return Costs(float(cents(spread)), float(cents(slippage)), float(cents(fees)))


@dataclass(frozen=True, slots=True)
class PnL:
    """A session's P&L of one account: equity at the start and end, costs, traded value."""

    start_equity: float
    end_equity: float
    costs: Costs = Costs()
    traded_value: float = 0.0

    @property
    def net(self) -> float:
        return self.end_equity - self.start_equity

    @property
    def gross(self) -> float:
        return self.net + self.costs.total

    @property
    def return_pct(self) -> float:
        return 100.0 * self.net / self.start_equity

    @property
    def gross_return_pct(self) -> float:
        return 100.0 * self.gross / self.start_equity

    @property
    def turnover(self) -> float:
        return self.traded_value / self.start_equity


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
    costs: Costs = Costs()
    traded_value: float = 0.0
    hold: PnL | None = None
    """The hold baseline's session (None: not computed)."""
    held_out: bool = False
    canceled: int = 0
    """Working orders canceled (by the strategy's plan or at the end of day)."""

    @property
    def pnl(self) -> PnL:
        return PnL(self.start_equity, self.end_equity, self.costs, self.traded_value)

    @property
    def net(self) -> float:
        return self.end_equity - self.start_equity

    @property
    def gross(self) -> float:
        return self.pnl.gross

    @property
    def return_pct(self) -> float:
        return 100.0 * (self.end_equity / self.start_equity - 1.0)

    @property
    def gross_return_pct(self) -> float:
        return self.pnl.gross_return_pct

    @property
    def turnover(self) -> float:
        return self.pnl.turnover

    @property
    def half_day(self) -> bool:
        return self.minutes < 390


def _mean(xs: Iterable[float]) -> float:
    v = list(xs)
    return float(np.mean(v)) if v else math.nan


@dataclass(frozen=True)
class Summary:
    """The figures of one group of sessions (module docstring)."""

    label: str
    days: tuple[DayResult, ...]

    @property
    def costs(self) -> Costs:
        total = Costs()
        for d in self.days:
            total = total + d.costs
        return total

    @property
    def gross(self) -> float:
        return sum(d.gross for d in self.days)

    @property
    def net(self) -> float:
        return sum(d.net for d in self.days)

    @property
    def mrd_pct(self) -> float:
        return _mean(d.return_pct for d in self.days)

    @property
    def gross_mrd_pct(self) -> float:
        return _mean(d.gross_return_pct for d in self.days)

    @property
    def hold_days(self) -> tuple[PnL, ...]:
        return tuple(d.hold for d in self.days if d.hold is not None)

    @property
    def hold_mrd_pct(self) -> float:
        return _mean(h.return_pct for h in self.hold_days)

    @property
    def hold_net(self) -> float:
        return sum(h.net for h in self.hold_days)

    @property
    def hold_costs(self) -> Costs:
        total = Costs()
        for h in self.hold_days:
            total = total + h.costs
        return total

    @property
    def turnover(self) -> float:
        """Mean traded value over start equity, per session."""
        return _mean(d.turnover for d in self.days)

    @property
    def round_trips_per_day(self) -> float:
        return _mean(d.trades for d in self.days)

    @property
    def cost_share(self) -> float:
        """Costs over gross P&L (NaN unless gross > 0)."""
        g = self.gross
        return self.costs.total / g if g > 0 else math.nan


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
    held_out_from: date | None = None
    """Sessions from this date on are held-out (None: no split)."""
    diagnostics: tuple[SignalDiagnostics, ...] = ()
    """Signal diagnostics per group, in the order of :meth:`summaries`."""
    canceled: tuple[str, ...] = ()
    """client_order_ids of working orders canceled."""
    costs_model: str = ""
    """The cost model's knobs, as the report prints them."""
    states: tuple[tuple[int, str], ...] = ()
    """(minute, decision summary: the PSM state or the rotation book) where it changes."""

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
    def total_costs(self) -> Costs:
        total = Costs()
        for d in self.days:
            total = total + d.costs
        return total

    @property
    def flat_every_close(self) -> bool:
        return all(d.flat_at_close for d in self.days)

    def summaries(self) -> list[Summary]:
        """One :class:`Summary` per group: in-sample then held-out (or all, unsplit)."""
        if self.held_out_from is None:
            return [Summary(NO_SPLIT, self.days)]
        groups = [
            Summary(IN_SAMPLE, tuple(d for d in self.days if not d.held_out)),
            Summary(HELD_OUT, tuple(d for d in self.days if d.held_out)),
        ]
        return [g for g in groups if g.days]

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


COL = 34
"""Width of one group's column in the report."""


def _money(x: float, sign: bool = True) -> str:
    return f"${x:+,.2f}" if sign else f"${x:,.2f}"


def _pct(x: float, digits: int = 4) -> str:
    return "-" if math.isnan(x) else f"{x:+.{digits}f}%"


def _row(name: str, values: Iterable[str]) -> str:
    return (f"  {name:<24} " + "".join(f"{v:<{COL}}" for v in values)).rstrip()


def _sessions(g: Summary) -> str:
    first, last = g.days[0].session_date, g.days[-1].session_date
    return f"{len(g.days)} ({first})" if first == last else f"{len(g.days)} ({first}..{last})"


def _summary_rows(groups: list[Summary]) -> list[str]:
    def per(fn) -> list[str]:
        return [fn(g) for g in groups]

    def win(g: Summary) -> str:
        n = sum(d.trades for d in g.days)
        return "-" if not n else f"{100 * sum(d.wins for d in g.days) / n:.1f}%"

    def share(g: Summary) -> str:
        c = g.cost_share
        return f"{100 * c:.1f}%" if not math.isnan(c) else f"- (gross {_money(g.gross)})"

    def hold(g: Summary) -> str:
        if not g.hold_days:
            return "-"
        return f"{_pct(g.hold_mrd_pct)}/day net (costs {_money(g.hold_costs.total, False)})"

    return [
        _row("", per(lambda g: g.label)),
        _row("sessions", per(_sessions)),
        _row("gross P&L", per(lambda g: f"{_money(g.gross)} ({_pct(g.gross_mrd_pct)}/day)")),
        _row("costs", per(lambda g: _money(g.costs.total, False))),
        _row("  half-spread", per(lambda g: _money(g.costs.spread, False))),
        _row("  slippage", per(lambda g: _money(g.costs.slippage, False))),
        _row("  fees", per(lambda g: _money(g.costs.fees, False))),
        _row("net P&L", per(lambda g: _money(g.net))),
        _row("mean daily return (MRD)", per(lambda g: f"{_pct(g.mrd_pct)} net of costs")),
        _row("hold baseline", per(hold)),
        _row("costs / gross", per(share)),
        _row("turnover", per(lambda g: f"{g.turnover:.2f}x equity per day")),
        _row("round trips per day", per(lambda g: f"{g.round_trips_per_day:.1f}")),
        _row("trades", per(lambda g: str(sum(d.trades for d in g.days)))),
        _row("win rate", per(win)),
    ]


def _ic(c: Correlation) -> str:
    def f(r: float, t: float) -> str:
        return "      -        -" if math.isnan(r) else f"{r:+8.4f} {t:+8.2f}"

    return f"{c.n:>8}  {f(c.pearson, c.pearson_t)}  {f(c.spearman, c.spearman_t)}"


def _diagnostic_lines(d: SignalDiagnostics) -> list[str]:
    lines = [
        f"  {d.label}: {d.sessions} session(s); the strategy trades a {d.horizon}-min horizon "
        f"({d.horizon_source})",
        f"    {'IC of':<16} {'vs forward':>10}  {'n':>8}  {'Pearson':>8} {'t':>8}  {'Spearman':>8} {'t':>8}",
    ]
    for ic in (*d.at_traded, *d.at_own):
        lines.append(f"    IC {ic.signal:<13} {f'{ic.horizon} min':>10}  {_ic(ic.pooled)}")
    own: list[SignalIC] = [d.at_traded[0], *d.at_own]
    if own and own[0].per_symbol:
        heads = [f"{ic.signal.removesuffix(' forecast')}@{ic.horizon}" for ic in own]
        lines.append("    per symbol, Pearson IC: " + "  ".join(f"{h:>9}" for h in heads))
        for sym in own[0].per_symbol:
            vals = []
            for ic in own:
                r = ic.per_symbol[sym].pearson
                vals.append(f"{'-':>9}" if math.isnan(r) else f"{r:>+9.4f}")
            lines.append(f"      {sym:<8} n {own[0].per_symbol[sym].n:>7}     " + "  ".join(vals))
    return lines


def format_report(result: BacktestResult) -> str:
    """A plain-text report: costs, per group of sessions, the whole run, the signal
    diagnostics, then one line per session."""
    r = result
    groups = r.summaries()
    lines = [
        f"backtest {r.strategy}: {r.start}..{r.end}, {len(r.days)} session(s), "
        f"{r.warmup_sessions} warm-up session(s)",
        "fills: mockmarket's rule (the open of the symbol's next bar; the session's last price "
        "at the close) and its costs" + (f": {r.costs_model}" if r.costs_model else ""),
        "gross = P&L at the fills' reference prices, before costs; costs = half-spread + "
        "slippage (and rounding) + fees charged; net = gross - costs = the change in equity",
        "",
        *_summary_rows(groups),
        "",
        _row("whole run", [f"starting cash {_money(r.starting_cash, False)}"]),
        _row(
            "total return",
            [f"{_pct(r.total_return_pct)} net of costs ({_money(r.total_costs.total, False)})"],
        ),
        _row("max drawdown", [f"{r.max_drawdown_pct:.4f}%"]),
        _row("orders / fills", [f"{len(r.orders)} / {len(r.fills)}"]),
        _row("final equity", [_money(r.final_equity, False)]),
        _row("flat at every close", ["yes" if r.flat_every_close else "NO"]),
    ]
    if r.canceled:
        lines.append(_row("canceled while resting", [str(len(r.canceled))]))
    if r.unfilled:
        lines.append(_row("unfilled (no price)", [str(len(r.unfilled))]))
    if r.diagnostics:
        lines += [
            "",
            "signal diagnostics: real bars of the scored sessions, forward returns within the "
            "session; t over n/h samples (overlapping returns)",
        ]
        for d in r.diagnostics:
            lines += _diagnostic_lines(d)
    lines += [
        "",
        "per session (set: IS in-sample, HO held-out; returns net of costs):",
        f"  {'date':10}  {'set':3}  {'min':>3}  {'start equity':>13}  {'end equity':>13}  "
        f"{'gross':>10}  {'costs':>8}  {'net':>10}  {'net ret':>9}  {'hold net':>9}  {'turn':>6}  "
        f"{'orders':>6}  {'trades':>6}  {'won':>4}  flat  note",
    ]
    for d in r.days:
        notes = [n for n, on in (("half day", d.half_day), ("HALTED", d.halted)) if on]
        hold = "-" if d.hold is None else _pct(d.hold.return_pct)
        lines.append(
            f"  {d.session_date}  {'HO' if d.held_out else 'IS':3}  {d.minutes:>3}  "
            f"{d.start_equity:>13,.2f}  {d.end_equity:>13,.2f}  {d.gross:>+10,.2f}  "
            f"{d.costs.total:>8,.2f}  {d.net:>+10,.2f}  {d.return_pct:>+8.4f}%  {hold:>9}  "
            f"{d.turnover:>5.2f}x  {d.orders:>6}  {d.trades:>6}  {d.wins:>4}  "
            f"{'yes ' if d.flat_at_close else 'NO  '}  {', '.join(notes)}".rstrip()
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
    "HELD_OUT",
    "IN_SAMPLE",
    "NO_SPLIT",
    "BacktestResult",
    "Costs",
    "DayResult",
    "PnL",
    "Summary",
    "costs_of",
    "OrderRecord",
    "TradeRecord",
    "format_orders",
    "format_report",
    "max_drawdown_pct",
]

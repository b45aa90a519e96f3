"""A backtest's :class:`~launch.session_record.SessionRecord`: the same report as a traded day.

From a :class:`engine.backtest_result.BacktestResult`: its equity curve (marked at every
minute's close, as a traded day's), its fills (each with the bar its order was decided on),
its sessions with their group (in-sample, held-out), the strategy's state changes, the fees
charged, and the printed report. The minute closes — decision prices, position values,
filled bars — come from the same history files the backtest read
(:mod:`launch.minute_prices`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from common.calendar import TradingCalendar, nyse
from common.config import BEST_PARAMS_FILE
from engine.backtest_result import HELD_OUT, IN_SAMPLE, NO_SPLIT, BacktestResult, format_report
from launch.journal_record import optimizer_summary
from launch.minute_prices import load_minute_prices
from launch.session_record import DataQuality, DayRow, SessionRecord, TradeRow, positions_through


def backtest_record(result: BacktestResult, data_dir: Path, *, config_dir: Path | None = None,
                    calendar: TradingCalendar | None = None) -> SessionRecord:  # fmt: skip
    """The record of ``result``, whose bars came from ``data_dir``."""
    cal = calendar or nyse()
    r = result
    sessions = cal.sessions_between(r.start, r.end)
    symbols = tuple(r.config.symbols)
    prices = load_minute_prices(symbols, sessions, cal.previous_session(r.start), data_dir)
    t_ms = np.asarray(r.equity_t, dtype=np.int64)
    reasons = {o.client_order_id: o.reason for o in r.orders}
    trades = tuple(
        TradeRow(t_ms=f.t_ms, symbol=f.symbol, side=f.side, qty=f.qty, price=f.price,
                 client_order_id=f.client_order_id, decided_t_ms=f.decided_t_ms,
                 decision_price=prices.close_at(f.symbol, f.decided_t_ms), reason=reasons.get(f.client_order_id, ""))
        for f in r.fills
    )  # fmt: skip
    positions = positions_through(t_ms, symbols, {}, trades, frozenset(s.close_ms for s in sessions))
    idx = np.searchsorted(prices.t_ms, t_ms)
    ok = (idx < len(prices.t_ms)) & (prices.t_ms[np.minimum(idx, len(prices.t_ms) - 1)] == t_ms) \
        if len(prices.t_ms) else np.zeros(len(t_ms), dtype=bool)  # fmt: skip
    close = np.full((len(symbols), len(t_ms)), np.nan)
    close[:, ok] = prices.close[:, idx[ok]]
    filled = np.ones((len(symbols), len(t_ms)), dtype=bool)
    filled[:, ok] = prices.filled[:, idx[ok]]
    values = positions * np.where(np.isnan(close), 0.0, close)
    values[np.isnan(close)] = np.nan
    days = tuple(
        DayRow(d.session_date, d.start_equity, d.end_equity, d.fills, d.orders, d.halted, d.flat_at_close,
               HELD_OUT if d.held_out else (IN_SAMPLE if r.held_out_from is not None else NO_SPLIT))
        for d in r.days
    )  # fmt: skip
    unfilled, canceled = len(r.unfilled), len(r.canceled)
    statuses = {"filled": len({f.client_order_id for f in r.fills})}
    statuses.update({k: n for k, n in (("unfilled", unfilled), ("canceled", canceled)) if n})
    quality = DataQuality(
        minutes=len(t_ms), symbols=len(symbols), filled_bars=int(filled.sum()),
        filled_by_symbol={s: int(filled[i].sum()) for i, s in enumerate(symbols)},
    )  # fmt: skip
    notes = [f"no bars in {data_dir} for: {', '.join(prices.missing)}"] if prices.missing else []
    return SessionRecord(
        kind="backtest", strategy=r.strategy, start=r.start, end=r.end, t_ms=t_ms,
        equity=np.asarray(r.equity, dtype=np.float64), start_equity=r.starting_cash, symbols=symbols,
        positions=positions, position_values=values, states=tuple(r.states), trades=trades, days=days,
        orders_by_status=statuses, fees=sum(d.costs.fees for d in r.days), broker_pnl=None,
        optimizer=None if config_dir is None else optimizer_summary(config_dir / BEST_PARAMS_FILE, r.strategy),
        quality=quality, notes=tuple(notes),
        sources={"fills, equity, sessions": "engine.backtest (mockmarket's fill rule and costs)",
                 "minute closes": str(data_dir), "fees": r.costs_model or "the config's cost model"},
        text_report=format_report(r),
    )  # fmt: skip


__all__ = ["backtest_record"]

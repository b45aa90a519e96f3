"""The backtest: the live strategy code over history, with mockmarket's fill rule.

``run_backtest("rotation", date(2025, 10, 1), date(2025, 10, 31))``:

1. the sessions ``start..end`` and the ``warmup_sessions`` before them are loaded from
   ``<data_dir>/equities`` onto the session grid (:func:`engine.market_grid.load_sessions`);
2. the signals of every minute come from engine_core's batch entry in one call
   (:func:`engine.signals.batch_signals`; ``per_bar=True`` takes the live per-bar path
   instead — the same numbers, to the last bit);
3. each session's minutes are decided in order by :class:`engine.decision.DecisionStep`,
   exactly as the live engine decides them: holdings and cash as the broker reports them
   (:class:`engine.sim_account.SimAccount`), the daily loss halt kept for the rest of the
   day, orders decided on the last minute not sent, and at the end-of-day minute (close −
   2 min: 15:58, 12:58 on a half day) every position flattened with
   :func:`engine.decision.flatten_plan`;
4. an order decided on bar ``t`` fills at bar ``t + 1``'s open (:mod:`engine.sim_fills`),
   so the fills are those a mock replay of the same day gets.

Strategies start every session fresh (their state is per session), so a one-day backtest
and the mock replay of that day, warmed up on the same sessions, send the same orders.
A multi-day backtest keeps one signal run across its days: day 2 is warmed up on
``warmup_sessions`` + 1 sessions.

:func:`simulate` runs step 3 on a grid and signals already computed (the optimizer
reuses signals across trials that change only decision knobs).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

from common.calendar import Session, TradingCalendar, nyse
from common.config import (
    DEFAULT_CONFIG_DIR,
    PsmStrategyConfig,
    RotationStrategyConfig,
    StrategyConfig,
    load_strategy_config,
)
from engine.backtest_result import (
    BacktestResult,
    DayResult,
    OrderRecord,
    TradeRecord,
    format_orders,
    format_report,
)
from engine.cost_estimates import session_round_trip_costs
from engine.decision import DecisionStep, flatten_plan
from engine.market_grid import MinuteGrid, load_sessions
from engine.order_plan import PlannedOrder
from engine.risk import RiskGuard
from engine.signals import BatchSignals, batch_signals, per_bar_signals
from engine.sim_account import SimAccount, SimFill
from engine.sim_fills import GridPrices
from engine.strategies import make_strategy

log = logging.getLogger(__name__)

CONFIG_TYPES = (RotationStrategyConfig, PsmStrategyConfig)


def _as_date(value: date | str, name: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a date YYYY-MM-DD") from None


def backtest_sessions(
    start: date, end: date, warmup_sessions: int, calendar: TradingCalendar | None = None
) -> tuple[list[Session], list[Session]]:
    """(warm-up sessions, scored sessions) of a backtest from ``start`` to ``end``."""
    if (
        isinstance(warmup_sessions, bool)
        or not isinstance(warmup_sessions, int)
        or warmup_sessions < 0
    ):
        raise ValueError(f"warmup_sessions={warmup_sessions!r} must be a whole number >= 0")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    cal = calendar or nyse()
    scored = cal.sessions_between(start, end)
    if not scored:
        raise ValueError(f"no NYSE session between {start} and {end}")
    warm = cal.sessions_before(scored[0].date, warmup_sessions) if warmup_sessions else []
    return warm, scored


def resolve_config(
    strategy: str | StrategyConfig,
    config: str | Path | StrategyConfig | None = None,
    params_path: str | Path | None = None,
    config_dir: str | Path = DEFAULT_CONFIG_DIR,
) -> StrategyConfig:
    """The strategy config a backtest runs: given, or loaded (with best params) like live."""
    if isinstance(strategy, CONFIG_TYPES):
        if config is not None or params_path is not None:
            raise ValueError("give either a config object or config/params paths, not both")
        return strategy
    if isinstance(config, CONFIG_TYPES):
        if config.strategy != strategy:
            raise ValueError(f"config is a {config.strategy} config, not {strategy}")
        if params_path is not None:
            raise ValueError("params_path applies to a config file, not a config object")
        return config
    return load_strategy_config(str(strategy), config, params_path, config_dir=config_dir)


def run_backtest(
    strategy: str | StrategyConfig,
    start: date | str,
    end: date | str,
    *,
    config: str | Path | StrategyConfig | None = None,
    params_path: str | Path | None = None,
    data_dir: str | Path = Path("data"),
    warmup_sessions: int = 20,
    config_dir: str | Path = DEFAULT_CONFIG_DIR,
    per_bar: bool = False,
    calendar: TradingCalendar | None = None,
) -> BacktestResult:
    """Backtest ``strategy`` (a name or a loaded config) over the sessions ``start..end``.

    History comes from ``<data_dir>/equities``. Raises ``HistoryError`` (naming the file)
    when bars are missing, ``ConfigError`` for a bad config, ValueError for bad dates.
    """
    cfg = resolve_config(strategy, config, params_path, config_dir)
    start_d, end_d = _as_date(start, "start"), _as_date(end, "end")
    warm, scored = backtest_sessions(start_d, end_d, warmup_sessions, calendar)
    grid = load_sessions(cfg.symbols, [*warm, *scored], Path(data_dir) / "equities")
    signals = (per_bar_signals if per_bar else batch_signals)(grid, cfg.oes_config)
    result = simulate(cfg, grid, signals, range(len(warm), len(warm) + len(scored)))
    log.info(
        "backtest %s %s..%s: MRD %+.4f%%, %d trades",
        cfg.strategy,
        start_d,
        end_d,
        result.mrd_pct,
        result.n_trades,
    )
    return result


class _Trips:
    """Round trips per symbol, from the fills."""

    def __init__(self) -> None:
        self.open: dict[str, tuple[int, float, int]] = {}  # symbol -> (entry t, cash sum, fills)
        self.closed: list[TradeRecord] = []

    def add(self, f: SimFill) -> TradeRecord | None:
        entry, cash, n = self.open.get(f.symbol, (f.t_ms, 0.0, 0))
        cash, n = cash + f.cash_delta, n + 1
        if abs(f.position_after) > 1e-9:
            self.open[f.symbol] = (entry, cash, n)
            return None
        self.open.pop(f.symbol, None)
        trade = TradeRecord(f.symbol, entry, f.t_ms, round(cash, 2), n)
        self.closed.append(trade)
        return trade


class _Run:
    """One backtest's account and records, filled session by session."""

    def __init__(self, cfg: StrategyConfig, grid: MinuteGrid, signals: BatchSignals) -> None:
        costs = cfg.costs
        self.cfg, self.grid, self.signals = cfg, grid, signals
        self.strategy = make_strategy(cfg)
        self.guard = RiskGuard(cfg.risk)
        self.account = SimAccount(
            cfg.backtest.starting_cash,
            slippage_bps=costs.slippage_bps,
            fee_per_share=costs.fee_per_share,
        )
        self.prices = GridPrices(grid)
        self.orders: list[OrderRecord] = []
        self.fills: list[SimFill] = []
        self.unfilled: list[str] = []
        self.trips = _Trips()
        self.curve_t: list[int] = []
        self.curve: list[float] = []

    def _fill(self, queued: Sequence[PlannedOrder], decided_at: int) -> tuple[int, int, int]:
        """Fill the orders of the previous minute; (fills, trades closed, trades won)."""
        done, missed = self.account.execute(queued, decided_at, self.prices)
        self.fills += done
        self.unfilled += [o.client_order_id for o in missed]
        closed = [t for f in done if (t := self.trips.add(f)) is not None]
        return len(done), len(closed), sum(t.won for t in closed)

    def session(self, k: int) -> DayResult:
        """Decide and fill every minute of ``grid.sessions[k]``, as the live engine would."""
        grid, account = self.grid, self.account
        session = grid.sessions[k]
        minutes = grid.session_range(k)
        step = DecisionStep(
            self.strategy, self.cfg, session, guard=self.guard,
            round_trip_costs=session_round_trip_costs(grid, k, self.cfg.costs),
        )  # fmt: skip
        marks = grid.last_closes(minutes.start - 1) if minutes.start > 0 else {}
        start_equity = account.equity(marks)
        halted = eod_done = False
        queued: tuple[PlannedOrder, ...] = ()
        decided_at = 0
        n_orders = n_fills = n_trades = n_wins = unsent = 0
        for n in minutes:
            minute = grid.bars_at(n)
            if queued:  # decided on the minute before: they fill at this minute's open
                f, t, w = self._fill(queued, decided_at)
                n_fills, n_trades, n_wins = n_fills + f, n_trades + t, n_wins + w
                queued = ()
            self.curve_t.append(minute.t)
            self.curve.append(account.equity(minute.closes))
            res = step.decide(
                minute,
                self.signals.at(n),
                holdings=account.holdings(),
                cash=account.cash,
                start_equity=start_equity,
                halted=halted,
            )
            halted = halted or res.plan.halted
            plan = res.plan
            if not res.orders_allowed:
                unsent += len(plan.orders)
                continue
            if res.is_eod and not eod_done:
                eod_done = True
                plan = flatten_plan(
                    self.strategy.name, minute.t, account.positions(), minute.closes, self.guard
                )
            queued, decided_at = plan.orders, minute.t
            n_orders += len(queued)
            self.orders += [
                OrderRecord(
                    session.date, minute.t, o.symbol, o.side, o.qty, o.client_order_id, o.reason
                )
                for o in queued
            ]
        if account.positions():
            log.error("backtest %s: not flat at the close: %s", session.date, account.positions())
        end_marks = grid.last_closes(minutes.stop - 1) if len(minutes) else marks
        return DayResult(
            session_date=session.date,
            minutes=len(minutes),
            start_equity=start_equity,
            end_equity=account.equity(end_marks),
            orders=n_orders,
            fills=n_fills,
            trades=n_trades,
            wins=n_wins,
            flat_at_close=not account.positions(),
            halted=halted,
            unsent=unsent,
        )


def simulate(
    cfg: StrategyConfig,
    grid: MinuteGrid,
    signals: BatchSignals,
    sessions: Sequence[int],
    *,
    warmup_sessions: int | None = None,
) -> BacktestResult:
    """Decide and fill the grid sessions with indexes ``sessions`` (ascending).

    ``signals`` must have been computed on ``grid`` with ``cfg.oes_config`` (the decision
    knobs may differ: that is how the optimizer reuses signals across trials).
    """
    if tuple(grid.symbols) != tuple(cfg.symbols) or signals.symbols != grid.symbols:
        raise ValueError(
            f"grid symbols {list(grid.symbols)}, signal symbols {list(signals.symbols)} and "
            f"config symbols {list(cfg.symbols)} must be the same list"
        )
    if not np.array_equal(signals.t_ms, grid.t_ms):
        raise ValueError("signals were not computed on this grid (minutes differ)")
    ks = list(sessions)
    if not ks or ks != sorted(set(ks)) or ks[0] < 0 or ks[-1] >= len(grid.sessions):
        raise ValueError(f"sessions={ks!r} must be ascending indexes into the grid's sessions")
    run = _Run(cfg, grid, signals)
    days = tuple(run.session(k) for k in ks)
    return BacktestResult(
        strategy=cfg.strategy,
        config=cfg,
        start=grid.sessions[ks[0]].date,
        end=grid.sessions[ks[-1]].date,
        warmup_sessions=ks[0] if warmup_sessions is None else warmup_sessions,
        starting_cash=float(cfg.backtest.starting_cash),
        days=days,
        orders=tuple(run.orders),
        fills=tuple(run.fills),
        trades=tuple(run.trips.closed),
        unfilled=tuple(run.unfilled),
        equity_t=np.array(run.curve_t, dtype=np.int64),
        equity=np.array(run.curve, dtype=np.float64),
    )


__all__ = [
    "BacktestResult",
    "backtest_sessions",
    "format_orders",
    "format_report",
    "resolve_config",
    "run_backtest",
    "simulate",
]

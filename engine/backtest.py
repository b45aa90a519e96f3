"""The backtest: the live strategy code over history, with mockmarket's fill rule and costs.

``run_backtest("rotation", date(2025, 10, 1), date(2025, 10, 31))``:

1. the sessions ``start..end`` and the ``warmup_sessions`` before them are loaded from
   ``<data_dir>/equities`` onto the session grid (:func:`engine.market_grid.load_sessions`);
2. the signals of every minute come from engine_core's batch entry in one call
   (:func:`engine.signals.batch_signals`; ``per_bar=True`` takes the live per-bar path
   instead — the same numbers, to the last bit);
3. each session's minutes are decided in order by :class:`engine.decision.DecisionStep`,
   exactly as the live engine decides them: holdings, cash and pending (resting) orders
   as the broker reports them (:class:`engine.sim_account.SimAccount`), the plan's
   cancels applied, the daily loss halt kept for the rest of the day, orders decided on
   the last minute not sent, and at the end-of-day minute (close − 2 min: 15:58, 12:58 on
   a half day) every working order canceled and every position flattened with
   :func:`engine.decision.flatten_plan`;
4. an order decided on bar ``t`` reaches the broker in minute ``t + 1`` and fills as
   mockmarket's paper broker fills it (:mod:`engine.sim_fills`: the open of the symbol's
   next real bar, else the session's last price at the close) at the price and fees of
   the shared cost model (:mod:`ledger.costs`; the half-spread from the symbol's liquidity
   over the sessions before, :mod:`engine.sim_liquidity`), so the fills are those a mock
   replay of the same day gets;
5. the report's figures (:mod:`engine.backtest_result`: gross, costs, net, the hold
   baseline, turnover, round trips) and the signal diagnostics (:mod:`engine.diagnostics`)
   per group of sessions, in-sample and held-out (``held_out_from``).

Strategies start every session fresh (their state is per session), so a one-day backtest
and the mock replay of that day, warmed up on the same sessions, send the same orders.
A multi-day backtest keeps one signal run across its days: day 2 is warmed up on
``warmup_sessions`` + 1 sessions.

:func:`simulate` runs steps 3-5 on a grid and signals already computed (the optimizer
reuses signals across trials that change only decision knobs).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

from common.calendar import Session, TradingCalendar, ny_date, nyse
from common.config import (
    DEFAULT_CONFIG_DIR,
    PsmStrategyConfig,
    RotationStrategyConfig,
    StrategyConfig,
    load_strategy_config,
)
from engine.backtest_result import (
    HELD_OUT,
    IN_SAMPLE,
    NO_SPLIT,
    BacktestResult,
    DayResult,
    OrderRecord,
    TradeRecord,
    costs_of,
    format_orders,
    format_report,
)
from engine.cost_estimates import round_trip_costs, session_prices
from engine.decision import DecisionStep, flatten_plan
from engine.diagnostics import SignalDiagnostics, signal_diagnostics, traded_horizon
from engine.hold_baseline import hold_baseline
from engine.market_grid import MinuteGrid, load_sessions
from engine.risk import RiskGuard
from engine.signals import BatchSignals, batch_signals, per_bar_signals
from engine.sim_account import SimAccount, SimFill
from engine.sim_fills import SessionMarket
from engine.sim_liquidity import SessionLiquidity, backtest_liquidity
from engine.strategies import make_strategy
from ledger.costs import CostModel
from ledger.money import fmt

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
    held_out_from: date | str | None = None,
) -> BacktestResult:
    """Backtest ``strategy`` (a name or a loaded config) over the sessions ``start..end``.

    History comes from ``<data_dir>/equities`` (the liquidity that sets each fill's
    half-spread too: from the files when the warm-up holds fewer than
    ``costs.liquidity_sessions`` sessions, as mockmarket's broker measures it). Sessions
    from ``held_out_from`` on are labelled held-out. Raises ``HistoryError`` (naming the
    file) when bars are missing, ``ConfigError`` for a bad config, ValueError for bad dates.
    """
    cfg = resolve_config(strategy, config, params_path, config_dir)
    start_d, end_d = _as_date(start, "start"), _as_date(end, "end")
    split = None if held_out_from is None else _as_date(held_out_from, "held_out_from")
    cal = calendar or nyse()
    warm, scored = backtest_sessions(start_d, end_d, warmup_sessions, cal)
    history = Path(data_dir) / "equities"
    grid = load_sessions(cfg.symbols, [*warm, *scored], history)
    signals = (per_bar_signals if per_bar else batch_signals)(grid, cfg.oes_config)
    ks = range(len(warm), len(warm) + len(scored))
    model = CostModel.from_config(cfg.costs)
    liquidity = backtest_liquidity(
        grid, ks, model.liquidity_sessions, calendar=cal, history_dir=history
    )
    result = simulate(
        cfg, grid, signals, ks, held_out_from=split, liquidity=liquidity, costs=model, calendar=cal
    )
    log.info(
        "backtest %s %s..%s: MRD %+.4f%% net of costs $%.2f, %d trades",
        cfg.strategy,
        start_d,
        end_d,
        result.mrd_pct,
        result.total_costs.total,
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


def describe_costs(model: CostModel) -> str:
    """The cost model's knobs in one line, for the report."""
    parts = []
    if model.spread is not None:
        sp = model.spread
        parts.append(
            f"half-spread {fmt(sp.at_reference_bps)} bp at ${float(sp.reference_dollar_volume):,.0f}/min "
            f"(max {fmt(sp.max_bps)} bp; liquidity over {model.liquidity_sessions} session(s))"
        )
    fees = model.fees
    parts += [
        f"slippage {fmt(model.slippage_bps)} bp",
        f"SEC ${fmt(fees.sec_fee_per_million)}/M",
        f"TAF ${fmt(fees.taf_per_share)}/sh (max ${fmt(fees.taf_max_per_trade)})",
        f"CAT ${fmt(fees.cat_fee_per_share)}/sh",
        f"commission ${fmt(fees.commission_per_share)}/sh",
    ]
    return ", ".join(parts)


class _Run:
    """One backtest's account and records, filled session by session."""

    def __init__(
        self,
        cfg: StrategyConfig,
        grid: MinuteGrid,
        signals: BatchSignals,
        costs: CostModel,
        liquidity: SessionLiquidity,
    ) -> None:
        self.cfg, self.grid, self.signals = cfg, grid, signals
        self.costs, self.liquidity = costs, liquidity
        self.strategy = make_strategy(cfg)
        self.guard = RiskGuard(cfg.risk)
        self.account = SimAccount(cfg.backtest.starting_cash, costs)
        self.orders: list[OrderRecord] = []
        self.fills: list[SimFill] = []
        self.unfilled: list[str] = []
        self.canceled: list[str] = []
        self.trips = _Trips()
        self.curve_t: list[int] = []
        self.curve: list[float] = []

    def _record(self, done: Sequence[SimFill], day: list[SimFill]) -> None:
        self.fills += done
        day += done
        for f in done:
            self.trips.add(f)

    def session(self, k: int, held_out: bool = False) -> DayResult:
        """Decide and fill every minute of ``grid.sessions[k]``, as the live engine would.

        The paper broker's minute ``n + 1`` starts (resting orders fill at its open, or at
        the close after the last bar) before bar ``n`` is decided: the decision sees those
        fills, and what still rests counts as pending. Orders decided on bar ``n`` reach the
        broker in minute ``n + 1``.
        """
        grid, account = self.grid, self.account
        session = grid.sessions[k]
        minutes = grid.session_range(k)
        liquidity = self.liquidity.on(session, grid.symbols)
        market = SessionMarket(grid, k, self.costs, liquidity)
        step = DecisionStep(
            self.strategy, self.cfg, session, guard=self.guard,
            round_trip_costs=round_trip_costs(self.costs, session_prices(grid, k), liquidity),
        )  # fmt: skip
        marks = grid.last_closes(minutes.start - 1) if minutes.start > 0 else {}
        start_equity = account.equity(marks)
        halted = eod_done = False
        eod_n: int | None = None
        day_fills: list[SimFill] = []
        trades_before = len(self.trips.closed)
        n_orders = unsent = canceled = 0
        for n in minutes:
            minute = grid.bars_at(n)
            self.curve_t.append(minute.t)
            self.curve.append(account.equity(minute.closes))
            if n + 1 < minutes.stop:
                self._record(account.start_minute(n + 1, market), day_fills)
            else:
                self._record(account.close_session(market), day_fills)
            res = step.decide(
                minute,
                self.signals.at(n),
                holdings=account.holdings(),
                cash=account.cash,
                start_equity=start_equity,
                pending=account.pending(),
                halted=halted,
            )
            halted = halted or res.plan.halted
            plan = res.plan
            if not res.orders_allowed:
                unsent += len(plan.orders)
                continue
            if res.is_eod and not eod_done:
                eod_done, eod_n = True, n
                gone = account.cancel()
                plan = flatten_plan(
                    self.strategy.name, minute.t, account.positions(), minute.closes, self.guard
                )
            else:
                gone = [cid for sym, side in plan.cancels for cid in account.cancel(sym, side)]
            canceled += len(gone)
            self.canceled += gone
            n_orders += len(plan.orders)
            self.orders += [
                OrderRecord(
                    session.date, minute.t, o.symbol, o.side, o.qty, o.client_order_id, o.reason
                )
                for o in plan.orders
            ]
            done, missed = account.submit(plan.orders, n, market)
            self._record(done, day_fills)
            self.unfilled += [o.client_order_id for o in missed]
        if account.positions() or account.working:
            log.error("backtest %s: not flat at the close: %s", session.date, account.positions())
        end_marks = grid.last_closes(minutes.stop - 1) if len(minutes) else marks
        trades = self.trips.closed[trades_before:]
        return DayResult(
            session_date=session.date,
            minutes=len(minutes),
            start_equity=start_equity,
            end_equity=account.equity(end_marks),
            orders=n_orders,
            fills=len(day_fills),
            trades=len(trades),
            wins=sum(t.won for t in trades),
            flat_at_close=not account.positions(),
            halted=halted,
            unsent=unsent,
            costs=costs_of(day_fills),
            traded_value=sum(f.traded_value for f in day_fills),
            hold=hold_baseline(
                grid, k, market, start_equity, eod_n if eod_n is not None else minutes.stop - 2
            ),
            held_out=held_out,
            canceled=canceled,
        )


def _diagnostics(
    cfg: StrategyConfig,
    grid: MinuteGrid,
    signals: BatchSignals,
    days: Sequence[DayResult],
    ks: Sequence[int],
    trades: Sequence[TradeRecord],
    split: bool,
) -> tuple[SignalDiagnostics, ...]:
    """Signal diagnostics of each group of scored sessions (engine.diagnostics)."""
    groups = [(NO_SPLIT, list(ks))]
    if split:
        groups = [
            (IN_SAMPLE, [k for k, d in zip(ks, days, strict=True) if not d.held_out]),
            (HELD_OUT, [k for k, d in zip(ks, days, strict=True) if d.held_out]),
        ]
        groups = [(label, g) for label, g in groups if g]
    fit_days = {grid.sessions[k].date for k in groups[0][1]}  # in-sample, else held-out
    held = [t.exit_t_ms - t.entry_t_ms for t in trades if ny_date(t.exit_t_ms) in fit_days]
    oes = cfg.oes_config
    h, source = traded_horizon(held, tuple(oes.horizons), tuple(oes.horizon_weights))
    if split and groups[0][0] == IN_SAMPLE:
        source += ", in-sample"
    return tuple(
        signal_diagnostics(grid, signals, g, h, label=label, horizon_source=source)
        for label, g in groups
    )


def simulate(
    cfg: StrategyConfig,
    grid: MinuteGrid,
    signals: BatchSignals,
    sessions: Sequence[int],
    *,
    warmup_sessions: int | None = None,
    held_out_from: date | None = None,
    liquidity: SessionLiquidity | None = None,
    costs: CostModel | None = None,
    calendar: TradingCalendar | None = None,
    diagnostics: bool = True,
) -> BacktestResult:
    """Decide and fill the grid sessions with indexes ``sessions`` (ascending).

    ``signals`` must have been computed on ``grid`` with ``cfg.oes_config`` (the decision
    knobs may differ: that is how the optimizer reuses signals across trials). Sessions on
    or after ``held_out_from`` are labelled held-out. ``liquidity`` defaults to the grid's
    own sessions (:mod:`engine.sim_liquidity`), ``costs`` to ``cfg.costs``'s model;
    ``diagnostics=False`` skips the signal diagnostics.
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
    model = costs if costs is not None else CostModel.from_config(cfg.costs)
    if liquidity is None:
        liquidity = backtest_liquidity(grid, ks, model.liquidity_sessions, calendar=calendar)
    run = _Run(cfg, grid, signals, model, liquidity)
    days = tuple(
        run.session(k, held_out_from is not None and grid.sessions[k].date >= held_out_from)
        for k in ks
    )
    trades = tuple(run.trips.closed)
    diag = (
        _diagnostics(cfg, grid, signals, days, ks, trades, held_out_from is not None)
        if diagnostics
        else ()
    )
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
        trades=trades,
        unfilled=tuple(run.unfilled),
        equity_t=np.array(run.curve_t, dtype=np.int64),
        equity=np.array(run.curve, dtype=np.float64),
        held_out_from=held_out_from,
        diagnostics=diag,
        canceled=tuple(run.canceled),
        costs_model=describe_costs(model),
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

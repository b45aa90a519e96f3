"""The optimizer's fast :class:`~optimize.simulator.Simulator`: the compiled decision-and-fill loop.

:class:`CompiledSimulator` runs a trial's sessions through ``engine_core.decision_loop``
(the rotation or PSM strategy, the order plan and the paper account, compiled: the module's
docstring says what it models) and gives the same orders, fills, daily net returns and
round trips as :func:`engine.backtest.simulate` (``tests/unit/optimize/test_compiled_simulator.py``
proves it on random parameter sets and markets). This module is the thin adapter around it:

- the inputs become typed arrays once, rows in the order the strategy sorts symbols: the
  grid's closes, each symbol's next real bar per session minute, the marks of each
  session's start and end (per grid), the signals' prob/confidence/rhat/age (per signal
  set); each session's round-trip cost estimates (:mod:`engine.cost_estimates`) per
  liquidity and cost model;
- a fill's execution price is the cost model's own (:meth:`ledger.costs.CostModel.execution_price`
  at the reference price the fill rule gives), computed by the ledger the first time the
  loop asks for it and memoized (the same fills recur from trial to trial);
- the decision knobs become the loop's parameters; the fee rates integers.

Both strategies are compiled (rotation and PSM). Never silently different: a config that
uses something the loop does not model (a knob the loop does not know, fee rates with more
decimals than it keeps, a fill rule other than the next real bar) runs on the reference
simulator, and so does the rest of a run in which the loop meets a case it does not model
exactly (a fractional or huge quantity, a position whose cost has more than 4 decimals
left without a mark): one INFO log line names the reason each time.
"""

from __future__ import annotations

import logging
import math
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np

from common.config import (
    PsmStrategyConfig,
    RotationManagerConfig,
    RotationStrategyConfig,
    SignalAggregatorConfig,
    StrategyConfig,
)
from engine.backtest import _check_inputs
from engine.cost_estimates import round_trip_costs, session_prices
from engine.market_grid import MinuteGrid
from engine.signals import BatchSignals
from engine.sim_liquidity import SessionLiquidity
from engine.strategies.psm_ladder import ALLOCATIONS, Ladder, PsmState, state_leverage
from engine_core.decision_loop import FEE_SCALE, FEES, PARAMS, PSM_STATES, DecisionLoop
from ledger.costs import CostModel
from ledger.money import cents, parse_decimal, price_of
from ledger.no_bar_rule import NoBarRule
from optimize.simulator import REFERENCE, SessionScore, Simulator

log = logging.getLogger(__name__)

PRICE_UNITS = 10_000
"""$0.0001: the loop's price unit (every ledger price has at most 4 decimals)."""

COMMON: dict[str, frozenset[str]] = {
    "oes_config": frozenset({"buy_threshold", "sell_threshold", "entry_cost_margin"}),
    "risk": frozenset({
        "daily_loss_limit_pct", "max_position_pct", "max_orders_per_minute",
        "capital_fraction", "allocated_capital",
    }),
    "session": frozenset({"eod_minutes_before_close", "no_entry_minutes_before_close"}),
    "backtest": frozenset({"starting_cash"}),
}
MODELLED: dict[str, frozenset[str]] = {
    **COMMON,
    "signal_aggregator_config": frozenset({
        "min_probability", "min_confidence", "min_strength", "smoothing_alpha",
        "max_signal_age_bars", "default_boost", "leverage_boosts",
    }),
    "rotation_manager_config": frozenset({
        "max_positions", "min_strength_to_enter", "min_strength_to_exit",
        "rotation_strength_delta", "min_hold_bars", "profit_target", "stop_loss",
        "min_rank_to_hold", "cooldown_bars", "eod_liquidation", "eod_exit_time_minutes",
    }),
}
"""The knobs of each rotation config section the loop implements. ``oes_config``'s other
knobs shape the signals (given to the loop); ``reconciliation`` is start-up only and
``costs`` comes as the cost model."""
MODELLED_PSM: dict[str, frozenset[str]] = {
    **COMMON,
    "psm_config": frozenset({"signal_symbol", "ladder_offsets", "min_hold_bars", "profit_target",
                             "stop_loss"}),
}
"""The same for PSM configs."""
IGNORED_SECTIONS = frozenset({"strategy", "symbols", "reconciliation", "costs"})


def unsupported_reason(cfg: StrategyConfig, costs: CostModel) -> str | None:
    """Why ``cfg`` under ``costs`` cannot run on the compiled loop (None: it can)."""
    if isinstance(cfg, RotationStrategyConfig):
        modelled = MODELLED
    elif isinstance(cfg, PsmStrategyConfig):
        modelled = MODELLED_PSM
    else:
        return f"the {getattr(cfg, 'strategy', type(cfg).__name__)} strategy is not compiled"
    for name in type(cfg).model_fields:
        if name in IGNORED_SECTIONS:
            continue
        known = modelled.get(name)
        if known is None:
            return f"config section {name!r} is not modelled by the compiled loop"
        section = getattr(cfg, name)
        if name == "oes_config":
            from engine.signals import DECISION_KEYS

            extra = sorted(DECISION_KEYS - known)
        else:
            extra = sorted(set(type(section).model_fields) - known)
        if extra:
            return f"{name} knob(s) {extra} are not modelled by the compiled loop"
    if costs.no_bar_rule is not NoBarRule.NEXT_BAR:
        return f"the {costs.no_bar_rule.value} fill rule is not compiled"
    if fee_rates(costs) is None:
        return "fee rates with more decimals than the compiled loop keeps (1e-12 dollars)"
    return None


def fee_rates(costs: CostModel) -> dict[str, int] | None:
    """The cost model's fee rates as the loop's integers (None: not representable)."""
    f = costs.fees
    scaled = {
        "sec": f.sec_fee_per_million * 100,  # per share x $0.0001, in 1e-12 dollars
        "taf": f.taf_per_share * FEE_SCALE,
        "taf_max": f.taf_max_per_trade * FEE_SCALE,
        "cat": f.cat_fee_per_share * FEE_SCALE,
        "commission": f.commission_per_share * FEE_SCALE,
    }
    out = {}
    for k in FEES:
        v = scaled[k]
        if v != v.to_integral_value() or not 0 <= v < 10**15:
            return None
        out[k] = int(v)
    return out


def loop_params(cfg: StrategyConfig) -> dict[str, Any]:
    """The loop's parameters (:data:`engine_core.decision_loop.PARAMS`) from a config (a PSM
    config gives rotation's knobs their defaults: the loop does not read them for PSM)."""
    out: dict[str, Any] = {}
    if isinstance(cfg, RotationStrategyConfig):
        out.update(cfg.rotation_manager_config.model_dump())
        out.update(cfg.signal_aggregator_config.model_dump())
    else:
        out.update(RotationManagerConfig().model_dump())
        out.update(SignalAggregatorConfig().model_dump())
    for section in ("risk", "session"):
        out.update(getattr(cfg, section).model_dump())
    oes = cfg.oes_config
    out.update(buy_threshold=oes.buy_threshold, sell_threshold=oes.sell_threshold,
               entry_cost_margin=oes.entry_cost_margin)  # fmt: skip
    return {k: out[k] for k in PARAMS}


def psm_params(cfg: PsmStrategyConfig, symbols: Sequence[str]) -> dict[str, Any]:
    """The loop's ``psm`` argument: the ladder, states and signal of a PSM config, with
    ``symbols`` the loop's rows (sorted)."""
    row = {s: i for i, s in enumerate(symbols)}
    psm = cfg.psm_config
    edges = Ladder.from_config(cfg).boundaries()
    states = [PsmState(name) for name in PSM_STATES]
    return {
        "signal_row": row[psm.signal_symbol],
        "min_hold_bars": psm.min_hold_bars,
        "profit_target": psm.profit_target,
        "stop_loss": psm.stop_loss,
        "edges": (edges["bull2"], edges["bull1"], edges["sell"], edges["bear1"], edges["bear2"]),
        "alloc": [[(row[s], w) for s, w in ALLOCATIONS[st].items()] for st in states],
        "leverage": [state_leverage(st, psm.signal_symbol) for st in states],
        "order": [row[s] for s in cfg.symbols],
    }


def _p4(value: float) -> int:
    return int(price_of(value) * PRICE_UNITS)


@dataclass(frozen=True)
class _Session:
    """One grid session as the loop reads it."""

    lo: int
    hi: int
    nxt: np.ndarray
    close_ok: np.ndarray
    start_marks: np.ndarray
    has_start: np.ndarray
    end_marks: np.ndarray
    has_end: np.ndarray


class _GridArrays:
    """A grid's arrays in the strategy's symbol order, and its sessions (built lazily)."""

    def __init__(self, grid: MinuteGrid) -> None:
        self.symbols = tuple(sorted(grid.symbols))
        self.perm = np.array([grid.symbols.index(s) for s in self.symbols], dtype=np.intp)
        self.grid = weakref.ref(grid)
        self.t_ms = np.array(grid.t_ms, dtype=np.int64)  # writable: the loop takes plain views
        self.close = np.ascontiguousarray(grid.close[self.perm], dtype=np.float64)
        self.real = np.ascontiguousarray(grid.real[self.perm])
        self.sessions: dict[int, _Session] = {}

    def _marks(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        S = len(self.symbols)
        marks, has = np.zeros(S, dtype=np.int64), np.zeros(S, dtype=np.uint8)
        if n >= 0:
            for i in range(S):
                c = float(self.close[i, n])
                if not math.isnan(c):
                    marks[i], has[i] = _p4(c), 1
        return marks, has

    def session(self, grid: MinuteGrid, k: int) -> _Session:
        got = self.sessions.get(k)
        if got is None:
            r = grid.session_range(k)
            lo, hi = r.start, r.stop
            m = hi - lo
            real = self.real[:, lo:hi]
            idx = np.where(real, np.arange(m, dtype=np.int64)[None, :], m)
            nxt = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1] if m else idx
            nxt = np.where(nxt >= m, -1, nxt).astype(np.int32)
            last = self.close[:, hi - 1] if m else np.full(len(self.symbols), np.nan)
            close_ok = (np.isfinite(last) & (last > 0)).astype(np.uint8)
            start = self._marks(lo - 1)
            end = self._marks(hi - 1) if m else start
            got = _Session(lo, hi, np.ascontiguousarray(nxt), close_ok, *start, *end)
            self.sessions[k] = got
        return got


class _SignalArrays:
    def __init__(self, signals: BatchSignals, perm: np.ndarray) -> None:
        self.prob = np.ascontiguousarray(signals.prob[perm], dtype=np.float64)
        self.conf = np.ascontiguousarray(signals.confidence[perm], dtype=np.float64)
        self.rhat = np.ascontiguousarray(signals.rhat[perm], dtype=np.float64)
        self.age = np.ascontiguousarray(signals.age[perm], dtype=np.int64)


class _Market:
    """What a liquidity and cost model give a grid's sessions: each session's round-trip
    cost estimates and liquidity, and the memo of execution prices."""

    def __init__(self) -> None:
        self.costs: dict[int, tuple[np.ndarray, np.ndarray, dict[str, Decimal | None]]] = {}
        self.prices: dict[tuple[int, int, bool, bool], int] = {}


_GRIDS: weakref.WeakKeyDictionary[MinuteGrid, _GridArrays] = weakref.WeakKeyDictionary()
_SIGNALS: weakref.WeakKeyDictionary[BatchSignals, _SignalArrays] = weakref.WeakKeyDictionary()
_MARKETS: weakref.WeakKeyDictionary[SessionLiquidity, dict[tuple[int, CostModel], _Market]] = (
    weakref.WeakKeyDictionary()
)


def _grid_arrays(grid: MinuteGrid) -> _GridArrays:
    got = _GRIDS.get(grid)
    if got is None:
        got = _GRIDS[grid] = _GridArrays(grid)
    return got


def _signal_arrays(signals: BatchSignals, ga: _GridArrays) -> _SignalArrays:
    got = _SIGNALS.get(signals)
    if got is None:
        got = _SIGNALS[signals] = _SignalArrays(signals, ga.perm)
    return got


def _market(liquidity: SessionLiquidity, grid: MinuteGrid, costs: CostModel) -> _Market:
    per = _MARKETS.setdefault(liquidity, {})
    key = (id(grid), costs)
    got = per.get(key)
    if got is None:
        got = per[key] = _Market()
    return got


@dataclass(frozen=True)
class CompiledDay:
    """One session's figures from the loop (what a trial reads: :class:`SessionScore`)."""

    session_date: date
    start_equity: float
    end_equity: float
    orders: int
    fills: int
    trades: int
    halted: bool
    unsent: int
    canceled: int

    @property
    def return_pct(self) -> float:
        """The session's net return, % of its start equity (DayResult's formula)."""
        return 100.0 * (self.end_equity / self.start_equity - 1.0)


@dataclass
class Recorded:
    """Every order (decided bar, symbol, side, qty) and fill (symbol, side, qty, price,
    fee, t_ms, decided bar, cash delta, position after) of a compiled run, and why it went
    on on the reference simulator if it did (``fallback``; the records then stop there)."""

    orders: list[tuple[int, str, str, float]] = field(default_factory=list)
    fills: list[tuple[str, str, float, float, float, int, int, float, float]] = field(
        default_factory=list
    )
    fallback: str | None = None
    decimal_reductions: int = 0
    """Partial reductions whose cost the loop kept as the ledger's Decimal."""


class CompiledSimulator:
    """The compiled loop behind the :class:`~optimize.simulator.Simulator` seam (module docstring).

    ``fallback`` runs what the loop does not model (the reference by default).
    :meth:`run` with ``record=True`` also answers every order and fill (the tests').
    """

    name = "compiled (engine_core.decision_loop)"

    def __init__(self, fallback: Simulator = REFERENCE) -> None:
        self.fallback = fallback

    def days(
        self,
        cfg: StrategyConfig,
        grid: MinuteGrid,
        signals: BatchSignals,
        sessions: Sequence[int],
        *,
        liquidity: SessionLiquidity,
        costs: CostModel,
    ) -> Iterator[SessionScore]:
        return self.run(cfg, grid, signals, sessions, liquidity=liquidity, costs=costs)[0]

    def run(
        self,
        cfg: StrategyConfig,
        grid: MinuteGrid,
        signals: BatchSignals,
        sessions: Sequence[int],
        *,
        liquidity: SessionLiquidity,
        costs: CostModel,
        record: bool = False,
    ) -> tuple[Iterator[SessionScore], Recorded | None]:
        """(the sessions one at a time, the orders and fills when ``record``; they fill
        as the sessions are read). A run that falls back records nothing (None)."""
        ks = _check_inputs(cfg, grid, signals, sessions)
        why = unsupported_reason(cfg, costs)
        if why is not None:
            log.info("compiled simulator: %s: this trial runs on the reference simulator", why)
            return self.fallback.days(cfg, grid, signals, ks, liquidity=liquidity, costs=costs), None
        ga = _grid_arrays(grid)
        rec = Recorded() if record else None
        return self._days(cfg, grid, signals, ks, liquidity, costs, ga, rec), rec

    def _days(
        self,
        cfg: StrategyConfig,
        grid: MinuteGrid,
        signals: BatchSignals,
        ks: list[int],
        liquidity: SessionLiquidity,
        costs: CostModel,
        ga: _GridArrays,
        rec: Recorded | None,
    ) -> Iterator[SessionScore]:
        sa = _signal_arrays(signals, ga)
        market = _market(liquidity, grid, costs)
        fees = fee_rates(costs)
        assert fees is not None
        if isinstance(cfg, RotationStrategyConfig):
            boost = np.array([cfg.signal_aggregator_config.boost(s) for s in ga.symbols])
            psm = None
        else:
            boost = np.ones(len(ga.symbols))
            psm = psm_params(cfg, ga.symbols)
        cash = int(cents(parse_decimal(cfg.backtest.starting_cash, "starting_cash")) * 100)
        loop = DecisionLoop(loop_params(cfg), boost.astype(np.float64), fees, cash,
                            rec is not None, psm)  # fmt: skip
        for j, k in enumerate(ks):
            s = ga.session(grid, k)
            session = grid.sessions[k]
            rt, has_rt, liq = self._costs(market, grid, ga, k, liquidity, costs)
            price_fn = self._price_fn(market, grid, ga, liq, costs)
            lo, hi = s.lo, s.hi
            got = loop.session(
                ga.t_ms[lo:hi], session.open_ms, session.close_ms, lo,
                ga.close[:, lo:hi], s.nxt, s.close_ok,
                sa.prob[:, lo:hi], sa.conf[:, lo:hi], sa.rhat[:, lo:hi], sa.age[:, lo:hi],
                rt, has_rt, s.start_marks, s.has_start, s.end_marks, s.has_end, price_fn,
            )  # fmt: skip
            if rec is not None:
                self._drain(loop, ga, rec)
            if got is None:
                if rec is not None:
                    rec.fallback = loop.reason
                log.info("compiled simulator: %s (session %s): the run goes on on the reference "
                         "simulator", loop.reason, session.date)  # fmt: skip
                rest = self.fallback.days(cfg, grid, signals, ks, liquidity=liquidity, costs=costs)
                for i, day in enumerate(rest):
                    if i >= j:
                        yield day
                return
            start, end, orders, fills, trades, halted, unsent, canceled = got
            yield CompiledDay(session.date, start / 100.0, end / 100.0, orders, fills, trades,
                              halted, unsent, canceled)  # fmt: skip

    @staticmethod
    def _drain(loop: DecisionLoop, ga: _GridArrays, rec: Recorded) -> None:
        sym = ga.symbols
        rec.orders.extend((t, sym[i], side, q) for t, i, side, q in loop.orders)
        rec.fills.extend(
            (sym[i], side, q, px / PRICE_UNITS, fee / 100.0, at, decided, cash / 100.0, after)
            for i, side, q, px, fee, at, decided, cash, after in loop.fills
        )
        loop.orders.clear()
        loop.fills.clear()
        rec.decimal_reductions = loop.decimal_reductions

    @staticmethod
    def _costs(
        market: _Market,
        grid: MinuteGrid,
        ga: _GridArrays,
        k: int,
        liquidity: SessionLiquidity,
        costs: CostModel,
    ) -> tuple[np.ndarray, np.ndarray, dict[str, Decimal | None]]:
        """Session ``k``'s round-trip cost estimates in row order (as DecisionStep gets them)."""
        got = market.costs.get(k)
        if got is None:
            liq = liquidity.on(grid.sessions[k], grid.symbols)
            est = round_trip_costs(costs, session_prices(grid, k), liq)
            rt = np.array([est.get(s, 0.0) for s in ga.symbols], dtype=np.float64)
            has = np.array([s in est for s in ga.symbols], dtype=np.uint8)
            got = market.costs[k] = (rt, has, liq)
        return got

    @staticmethod
    def _price_fn(
        market: _Market,
        grid: MinuteGrid,
        ga: _GridArrays,
        liq: dict[str, Decimal | None],
        costs: CostModel,
    ) -> Callable[[int, int, bool, bool], int]:
        """A fill's execution price in $0.0001: the cost model's, at the fill rule's
        reference (the bar's open, or the session's last close), memoized."""
        memo = market.prices

        def price(i: int, n: int, at_close: bool, buy: bool) -> int:
            key = (i, n, at_close, buy)
            got = memo.get(key)
            if got is None:
                row, sym = ga.perm[i], ga.symbols[i]
                ref = price_of(float((grid.close if at_close else grid.open)[row, n]))
                px = costs.execution_price("buy" if buy else "sell", ref, liq.get(sym)).price
                got = memo[key] = int(px * PRICE_UNITS)
            return got

        return price


COMPILED = CompiledSimulator()

__all__ = ["COMPILED", "CompiledDay", "CompiledSimulator", "Recorded", "fee_rates",
           "loop_params", "psm_params", "unsupported_reason"]  # fmt: skip

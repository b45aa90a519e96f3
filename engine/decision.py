"""The per-minute decision, one code path for the live engine and the backtest.

:class:`DecisionStep` takes what the broker says (holdings with average entry prices,
cash, open orders) and the minute's grid bars and signals, and answers a
:class:`StepResult`: the strategy's :class:`~engine.strategies.Decision` and the
:class:`~engine.order_plan.OrderPlan` that moves the book to its targets. The minute is a
:class:`~common.minute.Minute` on the session grid, trusted as it is. In order:

1. prices are the minute's grid closes (a filled bar carries the last close; a symbol
   with no price yet is absent);
2. equity = cash + every holding at its own price (:func:`engine.risk.mark_to_market`);
3. the strategy decides on the calendar's :func:`~engine.strategies.minute_input`
   (end of day and the no-entry window come from the session, never from memory), with
   each symbol's round-trip cost estimate (:mod:`engine.cost_estimates`; a symbol given
   none is priced at unknown liquidity, the widest spread);
4. :func:`~engine.order_plan.plan_orders` applies the risk limits (daily loss halt, cap
   per position, cap on orders per minute) and names every order deterministically.

Orders decided on the session's last minute (decision time = the close) cannot be sent:
:attr:`StepResult.orders_allowed` is False for them. At the end-of-day minute the engine
flattens every position in the strategy's universe, the strategy's or not (adopted ones
included), with :func:`flatten_plan` (the same client order ids the strategy's own exit
orders would carry); symbols outside the universe are never traded, a halt included.

Live, the engine keeps the halt flag, pending orders and used ids from its journal; the
backtest keeps them itself. Both call :meth:`DecisionStep.decide` with the same inputs,
so a backtest and a mock replay of a day send the same orders.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from common.bars import MINUTE_MS
from common.calendar import Session
from common.config import StrategyConfig
from common.minute import Minute
from engine.cost_estimates import unknown_liquidity_cost
from engine.order_plan import OrderPlan, plan_orders
from engine.risk import RiskGuard, mark_to_market
from engine.signals import SignalEngine
from engine.strategies import Decision, Holding, MinuteInput, Signal, Strategy, minute_input

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepResult:
    """What one minute's decision produced."""

    decision: Decision
    plan: OrderPlan
    minute: MinuteInput
    equity: float
    orders_allowed: bool
    """False when the decision time is the close: nothing can be sent any more."""

    @property
    def is_eod(self) -> bool:
        return self.minute.is_eod


def flatten_plan(
    strategy_name: str,
    t_ms: int,
    positions: Mapping[str, float],
    prices: Mapping[str, float],
    guard: RiskGuard,
    *,
    used_ids: Collection[str] = (),
    pending: Mapping[str, float] | None = None,
    reason: str = "end of day: flatten",
) -> OrderPlan:
    """Orders that close every position in ``positions`` (signed shares), ids of bar ``t_ms``;
    what working orders still bring (``pending``, signed) counts, so none is closed twice."""
    held = {s: q for s, q in positions.items() if q}
    pending = {s: q for s, q in (pending or {}).items() if q}
    symbols = sorted(set(held) | set(pending))
    return plan_orders(
        strategy_name,
        t_ms,
        dict.fromkeys(symbols, 0),
        held,
        prices=prices,
        equity=0.0,
        guard=guard,
        pending=pending,
        used_ids=used_ids,
        reasons=dict.fromkeys(symbols, reason),
    )


class DecisionStep:
    """``strategy`` deciding the minutes of ``session`` under ``cfg``'s session and risk rules.

    ``signal_engine`` (optional) is the live engine's warmed-up :class:`SignalEngine`;
    :meth:`signals` feeds it a minute. The backtest passes precomputed signals instead.
    ``round_trip_costs`` are the session's cost estimates by symbol
    (:func:`engine.cost_estimates.session_round_trip_costs`).
    """

    def __init__(
        self,
        strategy: Strategy,
        cfg: StrategyConfig,
        session: Session,
        *,
        signal_engine: SignalEngine | None = None,
        guard: RiskGuard | None = None,
        round_trip_costs: Mapping[str, float] | None = None,
    ) -> None:
        if tuple(strategy.symbols) != tuple(cfg.symbols):
            raise ValueError(
                f"strategy symbols {list(strategy.symbols)} differ from the config's "
                f"{list(cfg.symbols)}"
            )
        if signal_engine is not None and set(signal_engine.symbols) != set(cfg.symbols):
            raise ValueError(
                f"signal engine symbols {list(signal_engine.symbols)} differ from the config's "
                f"{list(cfg.symbols)}"
            )
        self.strategy = strategy
        self.cfg = cfg
        self.session = session
        self.signal_engine = signal_engine
        self.guard = guard if guard is not None else RiskGuard(cfg.risk)
        self.round_trip_costs: dict[str, float] = dict(round_trip_costs or {})

    def _costs(self, prices: Mapping[str, float]) -> dict[str, float]:
        """The cost estimates, a symbol with none priced (once) at unknown liquidity."""
        costs = self.round_trip_costs
        for sym in self.cfg.symbols:
            if sym not in costs and sym in prices:
                costs[sym] = unknown_liquidity_cost(self.cfg.costs, prices[sym])
                log.warning(
                    "%s: no liquidity estimate for the %s session: its round trip is priced "
                    "at the widest spread (%.1f bp)", sym, self.session.date, costs[sym] * 1e4,
                )
        return costs

    def signals(self, minute: Minute) -> dict[str, Signal]:
        """Feed one grid minute to the signal engine; its signals."""
        if self.signal_engine is None:
            raise RuntimeError(
                "this DecisionStep has no SignalEngine: build it with signal_engine=<the "
                "warmed-up engine>"
            )
        return self.signal_engine.update(minute)

    def orders_allowed(self, t_ms: int) -> bool:
        """Whether orders decided on bar ``t_ms`` can still reach the market before the close."""
        return t_ms + MINUTE_MS < self.session.close_ms

    def decide(
        self,
        minute: Minute,
        signals: Mapping[str, Signal],
        *,
        holdings: Mapping[str, Holding],
        cash: float,
        start_equity: float | None = None,
        pending: Mapping[str, float] | None = None,
        halted: bool = False,
        used_ids: Collection[str] = (),
        sent_this_minute: int = 0,
    ) -> StepResult:
        """Decide bar ``minute.t``: the strategy's targets, then the risk-checked orders.

        ``holdings`` are the broker's positions (every symbol held, signed whole shares and
        average entry price; all of them count in the equity, only the universe's are
        traded), ``cash`` its cash, ``start_equity`` the equity at the session's
        start (arms the daily loss limit), ``pending`` what open orders still have to fill
        (signed), ``halted`` whether the day is already halted, ``used_ids`` the client
        order ids already used on this minute.
        """
        t = int(minute.t)
        prices = dict(minute.closes)
        equity = mark_to_market(float(cash), holdings, prices)
        m = minute_input(
            self.session,
            t,
            self.cfg.session,
            prices=prices,
            signals=signals,
            positions=holdings,
            equity=equity,
            round_trip_costs=self._costs(prices),
        )
        decision = self.strategy.decide(m)
        universe = self.cfg.symbols  # a halt flattens the universe: other symbols are never traded
        plan = plan_orders(
            self.strategy.name,
            t,
            decision.targets,
            {s: float(h.qty) for s, h in holdings.items() if h.qty and s in universe},
            prices=prices,
            equity=equity,
            guard=self.guard,
            pending=pending,
            start_equity=start_equity,
            halted=halted,
            sent_this_minute=sent_this_minute,
            used_ids=used_ids,
            reasons=decision.reasons,
        )
        return StepResult(decision, plan, m, equity, self.orders_allowed(t))


__all__ = ["DecisionStep", "StepResult", "flatten_plan"]

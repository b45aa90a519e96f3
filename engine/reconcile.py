"""Start-up reconciliation: the broker's positions and open orders → strategy state.

Inputs are the broker's word (``GET /v2/positions``, ``GET /v2/orders?status=open``) and
the journal's last state; the broker wins where they differ. Only the strategy interface
(:class:`engine.strategies.Strategy`) is used here: what a state is, and how holdings
become one, is each strategy's business.

1. Open orders. Ours for this strategy and today (by the client_order_id format,
   :mod:`engine.order_ids`) are *adopted*: their unfilled remainder counts as pending.
   Every other open order on a strategy symbol — another strategy's, an earlier day's, a
   hand-placed one — is cancelled; orders on other symbols are cancelled only under the
   ``flatten`` policy.
2. Holdings = positions + adopted remainders. They *fit* when every symbol is the
   strategy's, nothing is short or fractional, and the strategy recognizes the long set as
   one of its states (:meth:`Strategy.recognize`: PSM — exactly one state's symbols;
   rotation — at most ``max_positions`` of them).
3. Holdings that fit no state follow ``reconciliation.policy``:
   ``flatten`` (default) — cancel every open order, every target 0, strategy state reset;
   ``adopt`` — keep what is held: foreign symbols are left alone (never traded), shorts in
   strategy symbols are covered, the strategy takes every long over as it is;
   ``halt`` — change nothing, send nothing; the engine stops and tells the operator.
4. The strategy takes the longs over (:meth:`Strategy.take_over`): quantities follow the
   one takeover policy (:mod:`engine.strategies.takeover`), and the journal's state (same
   strategy and session) is restored where it agrees with the broker; anything else is
   reset conservatively: the hold clock starts now, entry prices are the broker's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from common.config import StrategyConfig
from common.quantities import QTY_EPS
from engine.order_ids import parse_client_order_id
from engine.strategies import BrokerHoldings, StateError, Strategy
from engine.strategies.takeover import usable, whole


class BrokerPosition(Protocol):
    """The fields read from a position (``common.rest_models.Position`` has them)."""

    symbol: str
    avg_entry_price: float

    @property
    def signed_qty(self) -> float: ...


class BrokerOrder(Protocol):
    """The fields read from an order (``common.rest_models.Order`` has them)."""

    id: str
    client_order_id: str
    symbol: str
    side: str
    qty: float | None
    filled_qty: float
    status: str

    @property
    def is_open(self) -> bool: ...


Action = Literal["continue", "flatten", "halt"]


@dataclass(frozen=True)
class ReconcileResult:
    """What reconciliation found and what the engine must do about it."""

    strategy: str
    state_name: str
    action: Action
    strategy_state: dict[str, Any]
    targets: dict[str, int]
    pending: dict[str, float]
    adopt_order_ids: tuple[str, ...]
    cancel_order_ids: tuple[str, ...]
    holdings: dict[str, float]
    journal: str  # "restored", "partly restored", "reset", "none", "ignored: ..."
    issues: tuple[str, ...] = ()
    details: tuple[str, ...] = field(default=())

    @property
    def summary(self) -> str:
        held = ", ".join(f"{s} {q:g}" for s, q in sorted(self.holdings.items())) or "no positions"
        parts = [
            f"{self.state_name} ({held})",
            f"action {self.action}",
            f"journal {self.journal}",
            f"{len(self.adopt_order_ids)} open orders adopted, {len(self.cancel_order_ids)} to cancel",
        ]
        changes = [
            f"{s}->{q}"
            for s, q in sorted(self.targets.items())
            if abs(q - self.holdings.get(s, 0.0)) > QTY_EPS
        ]
        if changes:
            parts.append("rebalance " + " ".join(changes))
        if self.issues:
            parts.append("issues: " + "; ".join(self.issues))
        return ", ".join(parts)

    def log_line(self) -> str:
        return f"Position reconciliation complete: {self.summary}"


def _is_whole(q: float) -> bool:
    return abs(q - round(q)) <= 1e-6


def reconcile(
    strategy: Strategy,
    positions: Sequence[BrokerPosition],
    open_orders: Sequence[BrokerOrder],
    *,
    session_date: date,
    t_ms: int,
    prices: Mapping[str, float],
    equity: float,
    journal_state: Mapping[str, Any] | None = None,
) -> ReconcileResult:
    """Map the broker's book onto ``strategy`` (not modified: load ``result.strategy_state``)."""
    cfg: StrategyConfig = strategy.config
    rc = cfg.reconciliation
    symbols = set(strategy.symbols)
    issues: list[str] = []
    details: list[str] = []

    pos: dict[str, float] = {}
    entry: dict[str, float] = {}
    for p in positions:
        q = p.signed_qty
        if abs(q) <= QTY_EPS:
            continue
        pos[p.symbol] = pos.get(p.symbol, 0.0) + q
        entry[p.symbol] = float(p.avg_entry_price)

    adopt: list[BrokerOrder] = []
    other: list[BrokerOrder] = []
    for o in open_orders:
        if not o.is_open:
            continue
        key = parse_client_order_id(o.client_order_id)
        ours = (
            key is not None and key.strategy == strategy.name and key.session_date == session_date
        )
        (adopt if ours and o.symbol in symbols else other).append(o)
    unpriced = [o for o in adopt if o.symbol not in pos and not usable(prices.get(o.symbol))]
    for o in unpriced:
        issues.append(
            f"open order {o.client_order_id} on {o.symbol}: no position and no price: cancel"
        )
        adopt.remove(o)
        other.append(o)
    pending: dict[str, float] = {}
    for o in adopt:
        left = max(0.0, float(o.qty or 0.0) - float(o.filled_qty or 0.0))
        pending[o.symbol] = pending.get(o.symbol, 0.0) + (left if o.side == "buy" else -left)
        details.append(f"adopt open order {o.client_order_id} {o.side} {left:g} {o.symbol}")
    holdings = {s: q for s, q in pos.items()}
    for s, q in pending.items():
        holdings[s] = holdings.get(s, 0.0) + q
    holdings = {s: q for s, q in holdings.items() if abs(q) > QTY_EPS}

    foreign = sorted(s for s in holdings if s not in symbols)
    shorts = sorted(s for s, q in holdings.items() if s in symbols and q < 0)
    fractional = sorted(s for s, q in holdings.items() if s in symbols and not _is_whole(q))
    longs = {s: q for s, q in holdings.items() if s in symbols and q > 0}
    unfit: list[str] = []
    if foreign:
        unfit.append(f"symbols outside the strategy: {foreign}")
    if shorts:
        unfit.append(f"short positions: {shorts}")
    if fractional:
        unfit.append(f"fractional quantities: {fractional}")
    recognized = strategy.recognize(longs)
    if not recognized.fits:
        unfit.append(recognized.why)

    policy = rc.policy if unfit else None
    if unfit:
        issues.extend(unfit)
        details.append(f"holdings fit no state; policy {policy}")

    scratch = strategy.fresh()
    scratch.reset(session_date)
    cancel_foreign_symbols = policy == "flatten"
    cancel_ids = [o.id for o in other if o.symbol in symbols or cancel_foreign_symbols]
    for o in other:
        if o.symbol in symbols or cancel_foreign_symbols:
            details.append(f"cancel open order {o.client_order_id or o.id} {o.side} {o.symbol}")

    if policy == "halt":
        return ReconcileResult(
            strategy.name,
            "HALT",
            "halt",
            scratch.state_dict(),
            {s: whole(q) for s, q in holdings.items() if s in symbols and q > 0},
            pending,
            tuple(o.id for o in adopt),
            (),
            holdings,
            "none",
            tuple(issues),
            tuple(details),
        )
    if policy == "flatten":
        targets = dict.fromkeys(sorted(set(strategy.symbols) | set(holdings)), 0)
        return ReconcileResult(
            strategy.name,
            strategy.flat_state_name,
            "flatten",
            scratch.state_dict(),
            targets,
            {},
            (),
            tuple([*(o.id for o in adopt), *cancel_ids]),
            holdings,
            "reset",
            tuple(issues),
            tuple(details),
        )

    journal = _valid_journal_state(strategy, journal_state, session_date, issues)
    held = BrokerHoldings(longs, entry, prices, equity, t_ms, session_date)
    took = scratch.take_over(held, journal)
    details.extend(took.details)
    targets = scratch.targets()
    if policy == "adopt":
        for s in shorts:
            targets[s] = 0
            details.append(f"cover short {s} {holdings[s]:g} (long-only strategy)")
    return ReconcileResult(
        strategy.name,
        took.state_name,
        "continue",
        scratch.state_dict(),
        targets,
        pending,
        tuple(o.id for o in adopt),
        tuple(cancel_ids),
        holdings,
        took.journal,
        tuple(issues),
        tuple(details),
    )


def _valid_journal_state(
    strategy: Strategy,
    state: Mapping[str, Any] | None,
    session_date: date,
    issues: list[str],
) -> Strategy | None:
    """The journal's state as a strategy, if it can be restored and is of this session."""
    if state is None or not strategy.config.reconciliation.restore_journal_state:
        return None
    try:
        probe = strategy.restored(state)
    except StateError as e:
        issues.append(f"journal state ignored: {e}")
        return None
    return probe if probe.session_date == session_date else None

"""Start-up reconciliation: the broker's positions and open orders → strategy state.

Inputs are the broker's word (``GET /v2/positions``, ``GET /v2/orders?status=open``) and
the journal's last state; the broker wins where they differ. Only the strategy interface
(:class:`engine.strategies.Strategy`) is used here: what a state is, and how holdings
become one, is each strategy's business. Takeover never disrupts (design.md §6): a
position the strategy can manage is kept exactly as it is, and nothing is sent at
start-up unless the policy is ``flatten``.

1. Open orders. Ours for this strategy and today (by the client_order_id format,
   :mod:`engine.order_ids`) are *adopted*: their unfilled remainder counts as pending.
   Every other open order on a strategy symbol — another strategy's, an earlier day's, a
   hand-placed one — is cancelled; orders on other symbols are cancelled only under the
   ``flatten`` policy.
2. Holdings = positions + adopted remainders, assessed by :func:`assess` (the launcher's
   preview uses it too): symbols outside the universe are *foreign* — left alone under
   every policy, never traded; in the universe, holdings *fit* when nothing is short or
   fractional and the strategy recognizes the long set as one of its states
   (:meth:`Strategy.recognize`: PSM — exactly one state's symbols; rotation — at most
   ``max_positions`` of them).
3. Holdings that fit no state follow ``reconciliation.policy``:
   ``adopt`` (default) — keep them: the strategy takes every whole long over as it is,
   and keeps shorts and fractions aside (out of its targets) until its exit rules or the
   end of day close them;
   ``flatten`` — cancel every open order, close every position in the universe, strategy
   state reset;
   ``halt`` — change nothing, send nothing; the engine stops and tells the operator.
4. The strategy takes the holdings over (:meth:`Strategy.take_over`): quantities as they
   are (:mod:`engine.strategies.takeover`), and the journal's state (same strategy and
   session) restored where it agrees with the broker; anything else is reset
   conservatively: the hold clock starts now, entry prices are the broker's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

from common.config import StrategyConfig
from common.quantities import QTY_EPS
from engine.order_ids import parse_client_order_id
from engine.strategies import BrokerHoldings, Recognition, StateError, Strategy
from engine.strategies.takeover import is_whole, kept_quantity, usable


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
            parts.append("to trade " + " ".join(changes))
        if self.issues:
            parts.append("issues: " + "; ".join(self.issues))
        return ", ".join(parts)

    def log_line(self) -> str:
        return f"Position reconciliation complete: {self.summary}"


@dataclass(frozen=True)
class Assessment:
    """What a strategy can make of a set of holdings (symbol → signed shares)."""

    foreign: dict[str, float]
    """Outside the strategy's universe: never traded."""
    shorts: dict[str, float]
    fractional: dict[str, float]
    """Positive but not whole, in the universe."""
    longs: dict[str, float]
    """Whole longs in the universe: what :meth:`Strategy.recognize` reads."""
    recognition: Recognition

    @property
    def kept(self) -> dict[str, float]:
        """In the universe, but no book can hold them: kept aside under policy ``adopt``."""
        return {**self.shorts, **self.fractional}

    @property
    def unfit(self) -> list[str]:
        """Why the holdings in the universe fit no state (empty: they fit one)."""
        out = []
        if self.shorts:
            out.append(f"short positions in a long-only strategy: {sorted(self.shorts)}")
        if self.fractional:
            out.append(f"fractional quantities: {sorted(self.fractional)}")
        if not self.recognition.fits:
            out.append(self.recognition.why)
        return out

    def unmanaged(self) -> dict[str, str]:
        """Symbol → why the strategy cannot manage that holding in its universe."""
        out = {s: "a short position in a long-only strategy" for s in self.shorts}
        out.update({s: "a fractional quantity; it trades whole shares" for s in self.fractional})
        if not self.recognition.fits:
            out.update({s: self.recognition.why for s in self.longs})
        return out


def assess(strategy: Strategy, holdings: Mapping[str, float]) -> Assessment:
    """Sort ``holdings`` into foreign, shorts, fractions and whole longs; recognize the longs."""
    symbols = set(strategy.symbols)
    held = {s: q for s, q in holdings.items() if abs(q) > QTY_EPS}
    foreign = {s: q for s, q in held.items() if s not in symbols}
    mine = {s: q for s, q in held.items() if s in symbols}
    shorts = {s: q for s, q in mine.items() if q < 0}
    fractional = {s: q for s, q in mine.items() if q > 0 and not is_whole(q)}
    longs = {s: q for s, q in mine.items() if q > 0 and is_whole(q)}
    return Assessment(foreign, shorts, fractional, longs, strategy.recognize(longs))


POLICY_EFFECT = {
    "adopt": "policy adopt: kept as it is, never added to; closed by the strategy's exit rules "
    "or at end of day",
    "flatten": "policy flatten: closed at start-up",
    "halt": "policy halt: nothing is sent; the engine stops for the operator",
}
FOREIGN_EFFECT = "left alone (never traded)"
FOREIGN_AT_EOD_EFFECT = "left alone until the end of day, then closed (flatten_foreign_at_eod)"


def _foreign_effect(strategy: Strategy) -> str:
    return FOREIGN_AT_EOD_EFFECT if strategy.config.reconciliation.flatten_foreign_at_eod else FOREIGN_EFFECT


def takeover_notes(strategy: Strategy, holdings: Mapping[str, float]) -> list[str]:
    """What the engine will do with ``holdings`` (symbol → signed shares): one line per
    holding the strategy cannot manage, saying why and what its policy does, and one for
    the state it takes over as it is (the launcher's preview; the engine logs the same)."""
    a = assess(strategy, holdings)
    name, policy = strategy.name, strategy.config.reconciliation.policy
    lines = [
        f"{sym}: outside the {name} strategy's universe: {_foreign_effect(strategy)}"
        for sym in sorted(a.foreign)
    ]
    lines += [
        f"{sym}: the {name} strategy cannot manage it ({why}): {POLICY_EFFECT[policy]}"
        for sym, why in sorted(a.unmanaged().items())
    ]
    if a.longs and a.recognition.fits:
        if not a.unfit or policy == "adopt":
            lines.append(f"the {name} strategy takes over {a.recognition.state} as it is: no order")
        elif policy == "flatten":
            lines.append(f"{', '.join(sorted(a.longs))}: closed at start-up too (policy flatten)")
    return lines


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

    a = assess(strategy, holdings)
    details.extend(takeover_notes(strategy, holdings))  # what the preview showed
    unfit = a.unfit
    policy = rc.policy if unfit else None
    issues.extend(unfit)

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
            {s: kept_quantity(q) for s, q in a.longs.items()},
            pending,
            tuple(o.id for o in adopt),
            (),
            holdings,
            "none",
            tuple(issues),
            tuple(details),
        )
    if policy == "flatten":
        targets = dict.fromkeys(sorted(symbols), 0)
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
    held = BrokerHoldings(a.longs, entry, prices, equity, t_ms, session_date, kept=a.kept)
    took = scratch.take_over(held, journal)
    details.extend(took.details)
    targets = scratch.targets()
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

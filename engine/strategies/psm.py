"""The PSM strategy: one SPY-driven probability ladder over SPY, SPXL, SH and SDS.

Each minute, in order:

1. end of day (calendar) → CASH_ONLY;
2. in a position: profit target / stop loss on the broker's holdings (value-weighted
   return against their average entry prices) → CASH_ONLY, whatever the hold;
3. the ladder maps the signal symbol's probability to a desired state; a change needs
   ``min_hold_bars`` minutes in the current state unless the current state is CASH_ONLY;
   in the no-entry window only a move to CASH_ONLY is allowed;
3b. the cost gate (``oes_config.entry_cost_margin``, :mod:`engine.strategies.cost_gate`): a
   move into a position state needs the state's expected return — the signal symbol's
   calibrated forecast ``rhat`` times the state's leverage on it (SPXL_ONLY 3, BASE_BEAR_2X
   −1.5, ...) — to beat the margin times the state's round-trip cost (its symbols' costs
   weighted by the allocation). When it does not, a position whose expected return is
   still positive is kept (switching would pay for nothing), anything else goes to
   CASH_ONLY;
4. a transition sizes the new state's allocation from equity in whole shares; quantities
   stay fixed while the state lasts (no churn as prices move).

``bars_in_state`` is the number of minutes since the decision that entered the state,
computed from bar times, so it advances every minute and survives a restart.

Taking over the broker's holdings (:mod:`engine.strategies.takeover`): long holdings are
a state when their symbols are exactly that state's (SPY+SPXL → BASE_BULL_3X, nothing →
CASH_ONLY, ...), and every quantity is kept as it is (never resized to the allocation);
the journal's state is restored when it is the same state with the same quantities (its
entry minute, so the minimum hold continues). A mix that is no state (policy ``adopt``) is
held as state ``ADOPTED``, and shorts or fractional quantities are kept aside (left out of
the targets), until the profit target, the stop loss (on every PSM holding, shorts
included), the ladder's next transition (which sizes a legal state and closes what does
not belong to it) or the end of day.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from common.config import PsmStrategyConfig
from engine.strategies.base import (
    MINUTE_MS,
    BrokerHoldings,
    Decision,
    MinuteInput,
    Recognition,
    StateError,
    Strategy,
    Takeover,
    check_header,
    state_header,
    state_int,
)
from engine.strategies.cost_gate import GateVerdict, entry_gate
from engine.strategies.psm_ladder import ALLOCATIONS, Ladder, PsmState, recognize, state_leverage
from engine.strategies.sizing import trading_capital, whole_shares
from engine.strategies.takeover import (
    Kept,
    journal_agrees,
    kept_from_broker,
    kept_from_json,
    kept_quantity,
    kept_to_json,
)

ADOPTED = "ADOPTED"  # reconciliation kept an unrecognized holding (policy "adopt")


class PsmStrategy(Strategy):
    """PSM over ``config.symbols`` driven by ``psm_config.signal_symbol``'s probability."""

    name = "psm"
    flat_state_name = PsmState.CASH_ONLY.value

    def __init__(self, config: PsmStrategyConfig) -> None:
        self.config = config
        self.symbols = tuple(config.symbols)
        self.ladder = Ladder.from_config(config)
        self._psm = config.psm_config
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self, session_date: date | None = None) -> None:
        self.session_date = session_date
        self.last_t_ms: int | None = None
        self.state: str = PsmState.CASH_ONLY.value
        self.entered_t_ms: int | None = None
        self._targets: dict[str, int] = dict.fromkeys(self.symbols, 0)
        self.kept: dict[str, Kept] = {}

    def targets(self) -> dict[str, int]:
        return {s: q for s, q in self._targets.items() if s not in self.kept}

    @property
    def state_name(self) -> str:
        return self.state

    def bars_in_state(self, t_ms: int) -> int:
        """Minutes between the decision that entered the current state and bar ``t_ms``."""
        if self.entered_t_ms is None:
            return 1 << 30
        return max(0, (t_ms - self.entered_t_ms) // MINUTE_MS)

    def state_dict(self) -> dict[str, Any]:
        d = state_header(self.name, self.session_date, self.last_t_ms)
        d.update(state=self.state, entered_t_ms=self.entered_t_ms, targets=dict(self._targets),
                 kept=kept_to_json(self.kept))  # fmt: skip
        return d

    def load_state(self, state: Mapping[str, Any]) -> None:
        session_date, last = check_header(self.name, state)
        name = state.get("state")
        if not isinstance(name, str) or (name != ADOPTED and name not in PsmState.__members__):
            raise StateError(f"psm state: state={name!r} is not a PSM state")
        entered = state.get("entered_t_ms")
        if entered is not None:
            state_int("psm", "entered_t_ms", entered)
        raw = state.get("targets")
        if not isinstance(raw, Mapping):
            raise StateError(f"psm state: targets={raw!r} is not an object")
        unknown = sorted(set(raw) - set(self.symbols))
        if unknown:
            raise StateError(
                f"psm state: targets name symbols {unknown} outside {list(self.symbols)}"
            )
        targets = dict.fromkeys(self.symbols, 0)
        for sym, q in raw.items():
            targets[sym] = state_int("psm", f"targets.{sym}", q)
        if name in PsmState.__members__:
            held = {s for s, q in targets.items() if q > 0}
            want = set(ALLOCATIONS[PsmState(name)])
            if held - want:
                raise StateError(f"psm state: {name} cannot hold {sorted(held - want)}")
        kept = kept_from_json("psm", state.get("kept"), self.symbols, StateError)
        both = sorted(s for s in kept if targets[s] > 0)
        if both:
            raise StateError(f"psm state: {both} are both kept aside and targeted")
        self.session_date, self.last_t_ms = session_date, last
        self.state, self.entered_t_ms, self._targets = name, entered, targets
        self.kept = kept

    def assume(
        self,
        state: str,
        targets: Mapping[str, int],
        *,
        entered_t_ms: int | None,
        session_date: date | None,
        last_t_ms: int | None = None,
        kept: Mapping[str, Kept] | None = None,
    ) -> None:
        """Take a state decided elsewhere (reconciliation); validated like :meth:`load_state`."""
        d = state_header(self.name, session_date, last_t_ms)
        d.update(state=state, entered_t_ms=entered_t_ms, targets=dict(targets),
                 kept=kept_to_json(kept or {}))  # fmt: skip
        self.load_state(d)

    # ------------------------------------------------------------------ broker holdings

    def recognize(self, longs: Mapping[str, float]) -> Recognition:
        state = recognize(longs)
        if state is None:
            return Recognition(None, f"no PSM state holds {sorted(longs)}")
        return Recognition(state.value, f"{state.value} holds {sorted(longs)}")

    def take_over(self, held: BrokerHoldings, journal: PsmStrategy | None) -> Takeover:
        longs, t_ms, day = held.longs, held.t_ms, held.session_date
        kept, notes = kept_from_broker(held.kept, held.entry_prices, held.prices)
        details = list(notes)
        last = journal.last_t_ms if journal is not None else None
        wanted = {s: kept_quantity(q) for s, q in longs.items()}
        state = recognize(longs)
        name = ADOPTED if state is None else state.value
        if state is None:
            details.append(f"adopted unrecognized holdings {wanted} as {ADOPTED}: kept as they are")
        if journal is not None:
            agrees = (
                journal.state == name
                and all(journal_agrees(longs.get(s, 0.0), journal._targets[s]) for s in self.symbols)
                and {s: k.qty for s, k in journal.kept.items()} == {s: k.qty for s, k in kept.items()}
            )
            if agrees:
                entered = journal.entered_t_ms
                self.assume(name, wanted, entered_t_ms=entered, session_date=day, last_t_ms=last,
                            kept=kept)  # fmt: skip
                if name != PsmState.CASH_ONLY:
                    details.append(f"journal agrees: {name} since {entered}")
                return Takeover(name, "restored", tuple(details))
            details.append(
                f"journal says {journal.state} {journal.targets()}, broker holds {dict(longs)}: "
                "hold clock reset"
            )
        entered = None if name == PsmState.CASH_ONLY and not kept else t_ms
        self.assume(name, wanted, entered_t_ms=entered, session_date=day, last_t_ms=last, kept=kept)
        return Takeover(name, "none" if journal is None else "reset", tuple(details))

    # ------------------------------------------------------------------ deciding

    def decide(self, m: MinuteInput) -> Decision:
        if self.session_date != m.session_date:
            self.reset(m.session_date)
        if self.last_t_ms is not None and m.t_ms <= self.last_t_ms:
            raise ValueError(f"psm: minute {m.t_ms} already decided (last {self.last_t_ms})")
        self.last_t_ms = m.t_ms
        bars = self.bars_in_state(m.t_ms)
        details: dict[str, Any] = {"from": self.state, "bars_in_state": min(bars, 10_000)}
        why = self._step(m, bars, details)
        details["state"] = self.state
        reasons = {s: f"{self.state}: {why}" for s in self.symbols}
        return Decision(m.t_ms, self.targets(), reasons, self.state, details)

    def _step(self, m: MinuteInput, bars: int, details: dict[str, Any]) -> str:
        if m.is_eod:
            return self._go(PsmState.CASH_ONLY.value, m, "end of day")
        if self.state != PsmState.CASH_ONLY or self.kept:
            ret = self.position_return(m)
            details["position_return"] = ret
            if ret is not None and ret >= self._psm.profit_target:
                return self._go(PsmState.CASH_ONLY.value, m, f"profit target {ret:+.4f}")
            if ret is not None and ret <= -self._psm.stop_loss:
                return self._go(PsmState.CASH_ONLY.value, m, f"stop loss {ret:+.4f}")
        sig = m.signals.get(self._psm.signal_symbol)
        if sig is None:
            return f"hold: no {self._psm.signal_symbol} signal"
        desired = self.ladder.state_for(sig.prob)
        details["prob"], details["desired"] = sig.prob, desired.value
        if desired == self.state:
            return f"hold: p={sig.prob:.4f} in band"
        if self.state != PsmState.CASH_ONLY and bars < self._psm.min_hold_bars:
            return (
                f"hold: p={sig.prob:.4f} wants {desired}, min hold {bars}/{self._psm.min_hold_bars}"
            )
        if desired != PsmState.CASH_ONLY and not m.entries_allowed:
            return f"hold: p={sig.prob:.4f} wants {desired}, no entries before the close"
        if desired != PsmState.CASH_ONLY:
            gate = self._gate(desired, sig.rhat, m)
            details["gate"] = gate.why
            if not gate.ok:
                held = self.state not in (PsmState.CASH_ONLY, ADOPTED)
                if held and sig.rhat * state_leverage(self.state, self._psm.signal_symbol) > 0:
                    return f"hold: p={sig.prob:.4f} wants {desired} but {gate.why}"
                return self._go(PsmState.CASH_ONLY.value, m, f"p={sig.prob:.4f}: {desired} {gate.why}")
        return self._go(desired.value, m, f"p={sig.prob:.4f}")

    def _gate(self, state: PsmState, rhat: float, m: MinuteInput) -> GateVerdict:
        """The cost gate of entering ``state`` on the signal symbol's forecast ``rhat``."""
        expected = rhat * state_leverage(state, self._psm.signal_symbol)
        costs = m.round_trip_costs
        cost: float | None = 0.0
        for sym, w in ALLOCATIONS[state].items():
            c = None if costs is None else costs.get(sym)
            cost = None if c is None or cost is None else cost + w * c
        return entry_gate(expected, cost, self.config.oes_config.entry_cost_margin,
                          modelled=costs is not None)  # fmt: skip

    def _go(self, state: str, m: MinuteInput, why: str) -> str:
        if state == self.state and state == PsmState.CASH_ONLY and not self.kept:
            return why
        alloc = ALLOCATIONS[PsmState(state)]
        capital = trading_capital(m.equity, self.config.risk)
        targets = dict.fromkeys(self.symbols, 0)
        for sym, w in alloc.items():
            price = m.price(sym)
            if price is None:
                return f"hold: wants {state} ({why}) but {sym} has no price"
            targets[sym] = whole_shares(capital * w, price)
        self.state, self.entered_t_ms, self._targets = state, m.t_ms, targets
        self.kept = {}  # a legal state closes what does not belong to it
        return f"enter {state} ({why})"

    def position_return(self, m: MinuteInput) -> float | None:
        """Value-weighted return of the broker's PSM holdings; None if flat or a price is missing."""
        pnl = cost = 0.0
        for sym in self.symbols:
            h = m.positions.get(sym)
            if h is None or h.qty == 0:
                continue
            price = m.price(sym)
            if price is None:
                return None
            pnl += h.qty * (price - h.entry_price)
            cost += abs(h.qty) * h.entry_price
        return pnl / cost if cost > 0 else None

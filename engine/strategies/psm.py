"""The PSM strategy: one SPY-driven probability ladder over SPY, SPXL, SH and SDS.

Each minute, in order:

1. end of day (calendar) → CASH_ONLY;
2. in a position: profit target / stop loss on the broker's holdings (value-weighted
   return against their average entry prices) → CASH_ONLY, whatever the hold;
3. the ladder maps the signal symbol's probability to a desired state; a change needs
   ``min_hold_bars`` minutes in the current state unless the current state is CASH_ONLY;
   in the no-entry window only a move to CASH_ONLY is allowed;
4. a transition sizes the new state's allocation from equity in whole shares; quantities
   stay fixed while the state lasts (no churn as prices move).

``bars_in_state`` is the number of minutes since the decision that entered the state,
computed from bar times, so it advances every minute and survives a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from common.config import PsmStrategyConfig
from engine.strategies.base import (
    MINUTE_MS,
    Decision,
    MinuteInput,
    StateError,
    Strategy,
    check_header,
    state_header,
    state_int,
)
from engine.strategies.psm_ladder import ALLOCATIONS, Ladder, PsmState
from engine.strategies.sizing import trading_capital, whole_shares

ADOPTED = "ADOPTED"  # reconciliation kept an unrecognized holding (policy "adopt")


class PsmStrategy(Strategy):
    """PSM over ``config.symbols`` driven by ``psm_config.signal_symbol``'s probability."""

    name = "psm"

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

    def targets(self) -> dict[str, int]:
        return dict(self._targets)

    def bars_in_state(self, t_ms: int) -> int:
        """Minutes between the decision that entered the current state and bar ``t_ms``."""
        if self.entered_t_ms is None:
            return 1 << 30
        return max(0, (t_ms - self.entered_t_ms) // MINUTE_MS)

    def state_dict(self) -> dict[str, Any]:
        d = state_header(self.name, self.session_date, self.last_t_ms)
        d.update(state=self.state, entered_t_ms=self.entered_t_ms, targets=dict(self._targets))
        return d

    def load_state(self, state: Mapping[str, Any]) -> None:
        session_date, last = check_header(self.name, state)
        name = state.get("state")
        if name != ADOPTED and name not in PsmState.__members__:
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
        self.session_date, self.last_t_ms = session_date, last
        self.state, self.entered_t_ms, self._targets = name, entered, targets

    def assume(
        self,
        state: str,
        targets: Mapping[str, int],
        *,
        entered_t_ms: int | None,
        session_date: date | None,
        last_t_ms: int | None = None,
    ) -> None:
        """Take a state decided elsewhere (reconciliation); validated like :meth:`load_state`."""
        d = state_header(self.name, session_date, last_t_ms)
        d.update(state=state, entered_t_ms=entered_t_ms, targets=dict(targets))
        self.load_state(d)

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
        if self.state != PsmState.CASH_ONLY:
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
        return self._go(desired.value, m, f"p={sig.prob:.4f}")

    def _go(self, state: str, m: MinuteInput, why: str) -> str:
        if state == self.state and state == PsmState.CASH_ONLY:
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

"""The entry gate both strategies apply: enter only what is expected to pay for its round trip.

A position entered on a minute's signal pays the round trip's cost whatever happens next
(half-spreads, slippage and fees both ways: ``MinuteInput.round_trip_costs``). So an entry
needs its expected return (the calibrated forecast engine_core combines: ``Signal.rhat``)
to exceed ``entry_cost_margin`` × that cost; a margin above 1 asks for an edge beyond
break-even (the forecast is an estimate). ``entry_cost_margin`` null turns the gate off
(the original strategies), and so does a minute whose costs are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

BPS = 1e4


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """Whether an entry passes the gate, and why in a few words."""

    ok: bool
    why: str


PASS_UNGATED = GateVerdict(True, "no cost gate")


def entry_gate(expected: float, cost: float | None, margin: float | None,
               modelled: bool = True) -> GateVerdict:  # fmt: skip
    """``expected`` (a return) against ``margin`` × ``cost`` (a fraction of the price).

    ``margin`` None or ``modelled`` False: no gate. ``cost`` None (no estimate for the
    symbol): refused.
    """
    if margin is None or not modelled:
        return PASS_UNGATED
    if cost is None:
        return GateVerdict(False, "no round-trip cost estimate")
    need = margin * cost
    rel = ">" if expected > need else "<="
    why = f"expected {expected * BPS:+.2f} bp {rel} {margin:g} x cost {cost * BPS:.2f} bp"
    return GateVerdict(expected > need, why)


__all__ = ["PASS_UNGATED", "GateVerdict", "entry_gate"]

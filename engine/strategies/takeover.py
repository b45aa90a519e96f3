"""Taking over the broker's holdings: the policy, and the small arithmetic strategies share.

The policy lives in one function, :func:`rebalance_to`: what quantity a holding found at
start-up should be brought to. Today a holding within ``reconciliation.rebalance_tolerance``
(relative) of the state's allocation at current prices is kept exactly as it is, and one
further away gets the allocation as its target (a rebalance order). Every strategy's
:meth:`~engine.strategies.base.Strategy.take_over` asks this function, so a different
policy (e.g. keep every holding exactly as it is) is a change here alone.
"""

from __future__ import annotations

import math

from common.quantities import QTY_EPS


def whole(q: float) -> int:
    """Whole shares of a (possibly fractional) positive holding, rounded down."""
    return int(math.floor(q + 1e-6))


def usable(price: float | None) -> bool:
    """Whether ``price`` can value or size a position (a positive finite number)."""
    return price is not None and math.isfinite(price) and price > 0


def within(actual: float, wanted: int, tolerance: float) -> bool:
    """Whether ``actual`` shares are ``wanted`` give or take ``tolerance`` (relative)."""
    if wanted <= 0:
        return abs(actual) <= QTY_EPS
    return abs(actual - wanted) <= tolerance * wanted + QTY_EPS


def rebalance_to(held: float, allocation: int, tolerance: float) -> int | None:
    """The takeover policy: None to keep a holding of ``held`` shares as it is, else the
    quantity to rebalance it to (its ``allocation``)."""
    return None if within(held, allocation, tolerance) else allocation


__all__ = ["rebalance_to", "usable", "whole", "within"]

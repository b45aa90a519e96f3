"""Share quantities: when two are the same.

Alpaca reports quantities with up to 9 decimals as strings, which become floats here;
sums of floats drift in their last digits, and this system only sends whole shares. So
two quantities closer than :data:`QTY_EPS` are equal, and a position smaller than it is flat.
"""

from __future__ import annotations

QTY_EPS = 1e-6


def is_flat(qty: float) -> bool:
    """Whether a (signed) quantity is zero for trading purposes."""
    return abs(qty) <= QTY_EPS


__all__ = ["QTY_EPS", "is_flat"]

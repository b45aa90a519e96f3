from __future__ import annotations

from common.quantities import QTY_EPS, is_flat


def test_a_quantity_within_the_epsilon_is_flat():
    assert is_flat(0.0) and is_flat(QTY_EPS) and is_flat(-QTY_EPS / 2)
    assert not is_flat(2 * QTY_EPS) and not is_flat(-1.0)
    assert is_flat(0.1 + 0.2 - 0.3)  # float drift

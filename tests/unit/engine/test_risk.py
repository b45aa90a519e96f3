"""Risk checks: honest mark-to-market, daily loss limit, per-position cap, orders per minute."""

from __future__ import annotations

import pytest

from common.config import RiskConfig
from engine.risk import RiskGuard, daily_loss_fraction, mark_to_market
from engine.strategies import Holding
from engine.strategies.sizing import trading_capital, whole_shares


def test_equity_is_not_inflated_by_a_price_fallback() -> None:
    """The original valued a symbol without a price at another symbol's price (18× equity)."""
    positions = {"SVXY": Holding(100, 45.0), "TQQQ": Holding(10, 900.0)}
    prices = {"TQQQ": 905.0}  # SVXY has no bar this minute
    eq = mark_to_market(1_000.0, positions, prices)
    assert eq == 1_000.0 + 100 * 45.0 + 10 * 905.0  # SVXY at its own entry price, not TQQQ's
    assert eq < 1_000.0 + 100 * 905.0


def test_mark_to_market_uses_each_symbols_own_price_and_shorts() -> None:
    eq = mark_to_market(
        10_000.0, {"A": Holding(10, 20.0), "B": Holding(-5, 30.0)}, {"A": 21.0, "B": 29.0}
    )
    assert eq == 10_000.0 + 210.0 - 145.0


def test_mark_to_market_refuses_when_nothing_values_a_position() -> None:
    with pytest.raises(ValueError, match="X: no usable price"):
        mark_to_market(0.0, {"X": Holding(1, 0.0)}, {})
    with pytest.raises(ValueError, match="cash"):
        mark_to_market(float("nan"), {}, {})


@pytest.mark.parametrize(
    ("equity", "limit", "breached"),
    [(97_000.0, 0.03, True), (97_001.0, 0.03, False), (97_000.0, 0.05, False)],
)
def test_daily_loss_limit(equity, limit, breached) -> None:
    guard = RiskGuard(RiskConfig(daily_loss_limit_pct=limit))
    reason = guard.loss_breach(equity, 100_000.0)
    assert (reason is not None) is breached
    if breached:
        assert "daily loss limit" in reason and "3.00%" in reason


def test_daily_loss_fraction_checks_inputs() -> None:
    assert daily_loss_fraction(110.0, 100.0) == pytest.approx(-0.1)
    with pytest.raises(ValueError, match="start_equity"):
        daily_loss_fraction(1.0, 0.0)


def test_position_cap_limits_buys_only() -> None:
    guard = RiskGuard(RiskConfig(max_position_pct=0.25))
    assert guard.max_shares(50.0, 100_000.0) == 500
    assert guard.cap_target(800, 0, 50.0, 100_000.0) == 500
    assert guard.cap_target(400, 0, 50.0, 100_000.0) == 400
    assert guard.cap_target(700, 600, 50.0, 100_000.0) == 600  # above the cap already: no more
    assert guard.cap_target(300, 600, 50.0, 100_000.0) == 300  # reductions are never capped
    assert RiskGuard(RiskConfig(max_position_pct=0.5)).cap_target(800, 0, 50.0, 100_000.0) == 800


def test_orders_left() -> None:
    guard = RiskGuard(RiskConfig(max_orders_per_minute=4))
    assert [guard.orders_left(n) for n in (0, 3, 4, 9)] == [4, 1, 0, 0]


def test_trading_capital_knobs() -> None:
    assert trading_capital(100_000.0, RiskConfig()) == pytest.approx(95_000.0)
    assert trading_capital(100_000.0, RiskConfig(capital_fraction=0.5)) == pytest.approx(50_000.0)
    assert trading_capital(100_000.0, RiskConfig(allocated_capital=20_000.0)) == pytest.approx(
        19_000.0
    )
    assert trading_capital(-5.0, RiskConfig()) == 0.0
    assert (
        whole_shares(1000.0, 3.0) == 333
        and whole_shares(0.3, 0.1) == 3
        and whole_shares(-1.0, 3.0) == 0
    )
    with pytest.raises(ValueError, match="price"):
        whole_shares(100.0, 0.0)

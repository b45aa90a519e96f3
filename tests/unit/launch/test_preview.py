"""launch.preview: the reconciliation preview, as the seeds show it."""

from __future__ import annotations

from common.rest_models import Position
from launch.preview import money, preview_lines


def pos(symbol: str, qty: str, entry: str, current: str | None, pl: str | None) -> Position:
    return Position.from_json({
        "symbol": symbol, "qty": qty, "side": "long" if not qty.startswith("-") else "short",
        "avg_entry_price": entry, "current_price": current, "unrealized_pl": pl,
    })  # fmt: skip


def test_no_positions_is_a_clean_start():
    assert preview_lines([]) == ["No existing positions - clean start"]
    assert preview_lines([pos("SPY", "0", "500", "501", "0")]) == ["No existing positions - clean start"]


def test_each_position_shows_side_quantity_entry_current_and_pnl():
    lines = preview_lines([
        pos("TQQQ", "100", "68.50", "69.20", "70"),
        pos("SQQQ", "-50", "12.10", "12.30", "-10"),
    ])  # fmt: skip
    assert lines == [
        "Found 2 existing position(s):",
        "  SQQQ: SHORT 50 shares @ $12.10 / Current: $12.30 | P&L: -$10.00",
        "  TQQQ: LONG 100 shares @ $68.50 / Current: $69.20 | P&L: +$70.00",
    ]


def test_a_missing_pnl_is_computed_and_a_missing_price_is_said():
    (_, line) = preview_lines([pos("ERX", "10", "50", "51.5", None)])
    assert line.endswith("P&L: +$15.00")
    (_, line) = preview_lines([pos("ERX", "10", "50", None, None)])
    assert line.endswith("Current: n/a | P&L: n/a")


def test_money():
    assert money(1234.5) == "$1,234.50"
    assert money(-3.456) == "-$3.46"
    assert money(0.0, signed=True) == "+$0.00"
    assert money(-12.341, signed=True) == "-$12.34"


def test_what_the_strategy_makes_of_each_holding_is_shown_by_its_own_rule():
    from common.config import RotationStrategyConfig
    from engine.strategies import RotationStrategy

    positions = [
        pos("TQQQ", "100", "68.50", "69.20", "70"),
        pos("SQQQ", "-50", "12.10", "12.00", "5"),
        pos("AAPL", "5", "200", "201", "5"),
    ]
    lines = preview_lines(positions, RotationStrategy(RotationStrategyConfig()))
    assert lines == [
        "Found 3 existing position(s):",
        "  AAPL: LONG 5 shares @ $200.00 / Current: $201.00 | P&L: +$5.00",
        "  SQQQ: SHORT 50 shares @ $12.10 / Current: $12.00 | P&L: +$5.00",
        "  TQQQ: LONG 100 shares @ $68.50 / Current: $69.20 | P&L: +$70.00",
        "  AAPL: outside the rotation strategy's universe: left alone (never traded)",
        "  SQQQ: the rotation strategy cannot manage it (a short position in a long-only strategy):"
        " policy adopt: kept as it is, never added to; closed by the strategy's exit rules or at end of day",
        "  the rotation strategy takes over ROTATION[TQQQ] as it is: no order",
    ]


def test_the_preview_names_the_configured_policy():
    from common.config import PsmStrategyConfig
    from engine.strategies import PsmStrategy

    mix = [pos("SPY", "10", "500", "501", "10"), pos("SH", "20", "40", "40", "0")]
    for policy, effect in [("flatten", "policy flatten: closed at start-up"),
                           ("halt", "policy halt: nothing is sent; the engine stops for the operator")]:  # fmt: skip
        cfg = PsmStrategyConfig(reconciliation={"policy": policy, "flatten_foreign_at_eod": True})
        lines = preview_lines([*mix, pos("AAPL", "1", "200", "200", "0")], PsmStrategy(cfg))
        assert "  AAPL: outside the psm strategy's universe: left alone until the end of day, then closed" \
               " (flatten_foreign_at_eod)" in lines
        assert f"  SH: the psm strategy cannot manage it (no PSM state holds ['SH', 'SPY']): {effect}" in lines
        assert not any("takes over" in line for line in lines)

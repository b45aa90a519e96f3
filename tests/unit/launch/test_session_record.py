"""launch.session_record: the definitions every report shares (positions, drawdown, slippage)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from launch.session_record import (
    DayRow,
    SessionRecord,
    TradeRow,
    minute_of_fill,
    positions_through,
    state_changes,
)

T0 = 1_760_621_400_000  # 2025-10-16 09:30 New York
M = 60_000
T = np.arange(T0, T0 + 5 * M, M, dtype=np.int64)


def trade(t: int, side: str, qty: float = 10, price: float = 100.0, decision: float | None = 99.0, **kw) -> TradeRow:
    return TradeRow(t_ms=t, symbol=kw.pop("symbol", "SPY"), side=side, qty=qty, price=price, client_order_id="c",
                    decided_t_ms=t - M, decision_price=decision, **kw)  # fmt: skip


def record(equity, start=100.0, kind="mock", trades=(), **kw) -> SessionRecord:
    n = len(equity)
    return SessionRecord(kind=kind, strategy="psm", start=date(2025, 10, 16), end=date(2025, 10, 16),
                         t_ms=T[:n], equity=np.asarray(equity, dtype=float), start_equity=start, symbols=("SPY",),
                         positions=np.zeros((1, n)), position_values=np.zeros((1, n)), states=(), trades=trades,
                         days=(DayRow(date(2025, 10, 16), start, equity[-1], 0, 0),), **kw)  # fmt: skip


def test_a_fill_counts_from_the_minute_it_executed_in_and_a_close_fill_in_the_last_minute():
    assert minute_of_fill(T, T0) == 0  # the open of the first minute
    assert minute_of_fill(T, T0 + M + 1_500) == 1
    assert minute_of_fill(T, T0 + 2 * M) == 2  # took minute 2's open
    assert minute_of_fill(T, T0 - 5_000) == 0  # before the first minute: there from the start
    close = int(T[-1]) + M
    assert minute_of_fill(T, close) == len(T)  # after the last minute...
    assert minute_of_fill(T, close, frozenset({close})) == len(T) - 1  # ...unless it is the session's close


def test_positions_start_from_what_was_held_and_move_with_each_fill():
    fills = [trade(T0 + M + 10, "buy", 10), trade(T0 + 3 * M, "sell", 4), trade(T0 + 3 * M + 5, "buy", 2, symbol="SH")]
    pos = positions_through(T, ("SPY", "SH", "SDS"), {"SPY": 5.0}, fills)
    assert pos.tolist() == [[5, 15, 15, 11, 11], [0, 0, 0, 2, 2], [0, 0, 0, 0, 0]]


def test_drawdown_is_the_fall_from_the_running_peak_the_start_included():
    r = record([99.0, 102.0, 101.0, 97.0, 103.0])
    assert r.drawdown.tolist() == [1.0, 0.0, 1.0, 5.0, 0.0]
    assert r.max_drawdown == 5.0 and r.max_drawdown_pct == pytest.approx(100 * 5 / 102)
    assert r.pnl == 3.0 and r.return_pct == pytest.approx(3.0)


def test_slippage_is_signed_against_the_trader():
    buy = trade(T0, "buy", qty=10, price=100.05, decision=100.0)
    sell = trade(T0, "sell", qty=10, price=99.95, decision=100.0)
    better = trade(T0, "sell", qty=10, price=100.02, decision=100.0)
    assert buy.slippage_per_share == pytest.approx(0.05) and buy.slippage_bps == pytest.approx(5.0)
    assert sell.slippage_usd == pytest.approx(0.5)
    assert better.slippage_usd == pytest.approx(-0.2)
    assert trade(T0, "buy", decision=None).slippage_bps is None
    r = record([100.0], trades=(buy, sell, better))
    assert r.slippage_usd == pytest.approx(0.8) and r.slippage_bps == pytest.approx(0.8 / 3000 * 1e4)


def test_state_changes_keep_only_where_the_state_changes():
    decided = [(1, "CASH_ONLY"), (2, "CASH_ONLY"), (3, "SPY_ONLY"), (4, "SPY_ONLY"), (5, "CASH_ONLY")]
    assert state_changes(decided) == ((1, "CASH_ONLY"), (3, "SPY_ONLY"), (5, "CASH_ONLY"))


def test_a_record_refuses_curves_of_the_wrong_shape():
    with pytest.raises(ValueError, match="positions has shape"):
        SessionRecord(kind="mock", strategy="psm", start=date(2025, 10, 16), end=date(2025, 10, 16), t_ms=T,
                      equity=np.zeros(5), start_equity=1.0, symbols=("SPY",), positions=np.zeros((2, 5)),
                      position_values=np.zeros((1, 5)), states=(), trades=(), days=())  # fmt: skip
    with pytest.raises(ValueError, match="kind="):
        record([1.0], kind="paper")

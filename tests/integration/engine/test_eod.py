"""End of day against a real mockmarket: cancel, flatten the universe, confirm flat."""

from __future__ import annotations

from datetime import date

import pytest

from common.calendar import iso_ny, ny_datetime, nyse, to_ms
from common.config import RiskConfig, RotationStrategyConfig, SessionConfig
from engine.eod import EndOfDay, EodScope, eod_bar, eod_time_ms
from engine.execution import Executor
from engine.order_ids import parse_client_order_id
from engine.position_book import PositionBook, signed_positions
from engine.risk import RiskGuard
from tests.support import journal_reads as jr

DAY = date(2025, 10, 16)
HALF_DAY = date(2025, 11, 28)


def test_eod_minute_comes_from_the_calendar():
    full, half = nyse().session(DAY), nyse().session(HALF_DAY)
    cfg = SessionConfig()
    assert iso_ny(eod_time_ms(full, cfg)) == "2025-10-16T15:58:00-04:00"
    assert iso_ny(eod_bar(full, cfg)) == "2025-10-16T15:57:00-04:00"
    assert iso_ny(eod_time_ms(half, cfg)) == "2025-11-28T12:58:00-05:00"
    assert iso_ny(eod_time_ms(full, SessionConfig(eod_minutes_before_close=5))) == (
        "2025-10-16T15:55:00-04:00"
    )


@pytest.mark.parametrize(("day", "hhmm", "foreign"),
                         [(DAY, "15:58", False), (HALF_DAY, "12:58", False), (DAY, "15:58", True)])  # fmt: skip
def test_eod_cancels_flattens_the_universe_and_confirms(market_factory, rest_for, journal, day, hhmm, foreign):
    market = market_factory(start_time=hhmm, day=day)
    rest = rest_for(market)
    market.admin("POST", "/admin/clock", json={"action": "step", "seconds": 1})
    for sym, qty in (("TQQQ", 10), ("SPY", 3), ("FAS", 4)):  # SPY: not a rotation symbol
        rest.submit_order(symbol=sym, qty=qty, side="buy", client_order_id=f"hand-{sym}")
    resting = rest.submit_order(symbol="ERX", qty=5, side="buy", type="limit", limit_price=0.01,
                                client_order_id="hand-limit")  # fmt: skip
    assert signed_positions(rest.get_positions()) == {"TQQQ": 10, "SPY": 3, "FAS": 4}

    session = nyse().session(day)
    ex = Executor(rest, journal, "rotation", day, book=PositionBook(), now_ms=market.now_ms)
    scope = EodScope.of(RotationStrategyConfig(reconciliation={"flatten_foreign_at_eod": foreign}))
    eod = EndOfDay(ex, session, SessionConfig(), RiskGuard(RiskConfig()), scope=scope, confirm_timeout_s=5)
    t = eod_bar(session, SessionConfig())
    assert eod.due_for_bar(t) and not eod.due_for_bar(t - 60_000)
    assert eod.due_at(to_ms(ny_datetime(day, hhmm)))
    result = eod.run(t, {"TQQQ": 50.0, "SPY": 500.0, "FAS": 100.0})
    assert result.canceled >= 1 and result.resting == {}, result
    # issue 9: a symbol outside the universe is left alone unless the config says so
    left = {} if foreign else {"SPY": 3}
    assert signed_positions(rest.get_positions()) == left
    assert rest.get_order(resting.id).status == "canceled"
    orders = jr.orders(journal.path, "rotation", day)
    sold = [("FAS", "sell", 4.0, "filled"), ("TQQQ", "sell", 10.0, "filled")]
    if foreign:
        sold.insert(1, ("SPY", "sell", 3.0, "filled"))
    assert sorted((o.symbol, o.side, o.qty, o.status) for o in orders) == sold
    for o in orders:
        key = parse_client_order_id(o.client_order_id)
        assert key is not None and key.t_ms == t
    # the broker filled them in the EOD minute, before the close
    for o in orders:
        broker = rest.get_order_by_client_id(o.client_order_id)
        filled = to_ms(broker.filled_at)
        assert eod.at_ms <= filled < session.close_ms
    # a second run finds nothing to do; the confirmation says flat, and what was left alone
    again = eod.run(t, {})
    assert again.orders == []
    confirmed = eod.confirm_at_close()
    assert confirmed.flat and confirmed.left_alone == left

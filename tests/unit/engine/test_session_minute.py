"""Session flags come from the calendar and the bar time only (EOD, no-entry window)."""

from __future__ import annotations

import pytest

from common.config import SessionConfig, default_config_json, validate_strategy_config
from engine.strategies import BrokerHoldings, Holding, make_strategy, minute_input, session_minute


def test_full_day_flags(full_day, at) -> None:
    cfg = SessionConfig()
    first = session_minute(full_day, at(full_day, "09:30"), cfg)
    assert (first.minute_index, first.minutes_to_close, first.is_eod, first.entries_allowed) == (
        0,
        389,
        False,
        True,
    )
    assert session_minute(full_day, at(full_day, "15:28"), cfg).entries_allowed
    cut = session_minute(full_day, at(full_day, "15:29"), cfg)  # decided at 15:30
    assert not cut.entries_allowed and not cut.is_eod
    assert not session_minute(full_day, at(full_day, "15:56"), cfg).is_eod
    eod = session_minute(full_day, at(full_day, "15:57"), cfg)  # decided at 15:58
    assert eod.is_eod and eod.minutes_to_close == 2 and eod.minute_index == 387
    last = session_minute(full_day, at(full_day, "15:59"), cfg)
    assert last.is_eod and last.minutes_to_close == 0


def test_half_day_flattens_at_1258(half_day, at) -> None:
    cfg = SessionConfig()
    assert not session_minute(half_day, at(half_day, "12:56"), cfg).is_eod
    assert session_minute(half_day, at(half_day, "12:57"), cfg).is_eod
    assert session_minute(half_day, at(half_day, "12:28"), cfg).entries_allowed
    assert not session_minute(half_day, at(half_day, "12:29"), cfg).entries_allowed


def test_knobs_move_the_window(full_day, at) -> None:
    cfg = SessionConfig(eod_minutes_before_close=5, no_entry_minutes_before_close=60)
    assert session_minute(full_day, at(full_day, "15:54"), cfg).is_eod
    assert not session_minute(full_day, at(full_day, "15:53"), cfg).is_eod
    assert not session_minute(full_day, at(full_day, "14:59"), cfg).entries_allowed
    assert session_minute(full_day, at(full_day, "14:58"), cfg).entries_allowed


def test_off_grid_minute_is_refused(full_day) -> None:
    with pytest.raises(ValueError, match="not a minute of the 2025-10-16 session"):
        session_minute(full_day, full_day.close_ms, SessionConfig())
    with pytest.raises(ValueError, match="not a minute"):
        session_minute(full_day, full_day.open_ms + 1000, SessionConfig())


@pytest.mark.parametrize(
    ("strategy", "longs", "short"),
    [("psm", {"SPY": 10.0}, {"SH": -40.0}), ("rotation", {"TQQQ": 10.0}, {"SQQQ": -40.0})],
)
@pytest.mark.parametrize(("day", "eod_bar"), [("full", "15:57"), ("half", "12:57")])
def test_the_eod_minute_takes_every_holding_to_zero_shorts_included(
    full_day, half_day, at, strategy, longs, short, day, eod_bar
) -> None:
    """The calendar's EOD minute (decided at close − 2) makes each strategy target 0 for every
    holding it took over: the long in its book and the short kept aside alike (a strategy
    closing only its longs left the short open overnight)."""
    session = full_day if day == "full" else half_day
    cfg = validate_strategy_config(strategy, default_config_json(strategy))
    strat = make_strategy(cfg)
    prices = dict.fromkeys(cfg.symbols, 20.0)
    held = {**longs, **short}
    strat.take_over(
        BrokerHoldings(longs=longs, entry_prices=dict.fromkeys(held, 20.0), prices=prices,
                       equity=100_000.0, t_ms=at(session, "10:00"), session_date=session.date,
                       kept=short),  # fmt: skip
        None,
    )
    positions = {s: Holding(q, 20.0) for s, q in held.items()}
    before = minute_input(session, at(session, eod_bar) - 60_000, cfg.session, prices=prices,
                          signals={}, positions=positions, equity=100_000.0)  # fmt: skip
    assert not before.is_eod
    kept_before = strat.decide(before).targets
    assert not set(short) & set(kept_before)  # kept aside: no target before end of day
    m = minute_input(session, at(session, eod_bar), cfg.session, prices=prices, signals={},
                     positions=positions, equity=100_000.0)  # fmt: skip
    assert m.is_eod
    targets = strat.decide(m).targets
    assert {s: targets.get(s) for s in held} == dict.fromkeys(held, 0)

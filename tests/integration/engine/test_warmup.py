"""The warm-up against a real mockmarket: history, today's file, then REST, through one grid
rule; warm-up followed by the live update equals an uninterrupted per-minute run, bit for bit."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from common.calendar import from_ms, ny_datetime, nyse, to_ms
from common.config import RotationStrategyConfig
from common.csvfiles import history_path, today_path, write_history, write_today
from common.history_download import EQUITIES, TODAYS_BARS
from engine.cost_estimates import session_round_trip_costs
from engine.market_grid import HistoryError, build_grid
from engine.signals import per_bar_signals
from engine.strategies import make_strategy
from engine.warmup import warm_up

DAY = date(2025, 10, 16)
HISTORY = 2  # the integration market holds 3 sessions: 2 of history + the replay date
CFG = RotationStrategyConfig()
SYMS = CFG.symbols


def at(hhmm: str) -> int:
    return to_ms(ny_datetime(DAY, hhmm))


@pytest.fixture
def setup(market_factory, rest_for, tmp_path):
    def make(start_time: str, today_until: str | None, today_symbols=SYMS):
        market = market_factory(start_time=start_time)
        rest = rest_for(market)
        data = tmp_path / "data"
        before = nyse().sessions_before(DAY, HISTORY)
        hist = rest.get_bars(SYMS, from_ms(before[0].open_ms), from_ms(before[-1].close_ms - 60_000))
        for s in SYMS:
            write_history(history_path(data / EQUITIES, s), hist[s])
        if today_until is not None:
            today = rest.get_bars(SYMS, from_ms(at("09:30")), from_ms(at(today_until)))
            for s in today_symbols:
                write_today(today_path(data / TODAYS_BARS, s), today[s])
        return rest, data

    return make


@pytest.mark.parametrize(("today_until", "today_symbols", "from_rest"),
                         [(None, (), 90), ("10:29", SYMS, 30), ("10:29", SYMS[:5], 90)])  # fmt: skip
def test_warm_up_then_live_equals_an_uninterrupted_run(setup, today_until, today_symbols, from_rest):
    rest, data = setup("11:00", today_until, today_symbols)
    session = nyse().session(DAY)
    strategy = make_strategy(CFG)
    w = warm_up(strategy, session, data, rest, history_sessions=HISTORY)
    assert w.pending is not None and w.pending.t == at("10:59") and w.last_t == at("10:59")
    # today's files cover up to the earliest of the symbols' last bars (a thin symbol may
    # not have traded at 10:29); they count only if every symbol has one
    assert from_rest <= w.rest_minutes < from_rest + 5
    assert w.today_minutes == 89  # 09:30..10:58 observed; 10:59 is decided live
    assert strategy.state_dict()["seen_t_ms"] == at("10:58")
    live = w.signals.update(w.pending)

    # the reference: every bar of the same sessions on one grid, fed minute by minute
    sessions = [*nyse().sessions_before(DAY, HISTORY), session]
    bars = rest.get_bars(SYMS, from_ms(sessions[0].open_ms), from_ms(at("10:59")))
    grid = build_grid(SYMS, sessions, bars, until_ms=at("10:59"))
    ref = per_bar_signals(grid, CFG.oes_config)
    expected = ref.at(grid.n_minutes - 1)
    assert live == expected  # dataclass equality: every float identical
    assert np.array_equal(w.grid.close, grid.close[:, :-1], equal_nan=True)
    assert w.last_closes == grid.last_closes()
    # today's round-trip cost estimates: the cost model at the liquidity of the sessions
    # before today (what the broker's fills pay), priced at yesterday's close
    assert w.round_trip_costs == session_round_trip_costs(grid, len(sessions) - 1, CFG.costs)
    assert set(w.round_trip_costs) == set(SYMS) and all(c > 2e-4 for c in w.round_trip_costs.values())


def test_before_the_open_there_is_nothing_of_today(setup):
    rest, data = setup("09:10", None)
    w = warm_up(make_strategy(CFG), nyse().session(DAY), data, rest, history_sessions=HISTORY)
    assert w.pending is None and w.last_t is None and w.today_minutes == 0 and w.rest_minutes == 0
    assert set(w.last_closes) <= set(SYMS) and w.last_closes


def test_missing_history_is_an_error_naming_the_file(setup):
    rest, data = setup("11:00", None)
    history_path(data / EQUITIES, "TQQQ").unlink()
    with pytest.raises(HistoryError, match=r"history missing for TQQQ: .*TQQQ_RTH_NH.csv does not exist"):
        warm_up(make_strategy(CFG), nyse().session(DAY), data, rest, history_sessions=HISTORY)


def test_a_session_missing_from_the_history_is_an_error(setup):
    rest, data = setup("11:00", None)
    with pytest.raises(HistoryError, match=r"history missing for ERX: .* has no bars on 2025-10-09"):
        warm_up(make_strategy(CFG), nyse().session(DAY), data, rest, history_sessions=5)

"""Today's partial session in the optimizer's windows: the midday re-optimization scores
this morning (the last held-out session), cut after its last bar, in a study of its own."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from common.calendar import from_ms, ny_datetime, nyse, to_ms
from engine.backtest import simulate
from optimize.dataset import load_dataset
from optimize.last_run import read_last_run
from optimize.run import OptimizeOptions, run_optimizer
from optimize.signal_cache import SignalCache
from optimize.windows import WindowSpec, cut_session

from .conftest import LAST, MIDDAY_MS, NOW_MS, SMALL, TODAY, Home


def at(hhmm: str) -> int:
    return to_ms(ny_datetime(TODAY, hhmm))


def test_at_midday_the_windows_slide_by_one_to_end_with_todays_session():
    spec = WindowSpec(3, 4, 2)
    closed = spec.latest(nyse(), MIDDAY_MS)
    midday = spec.latest(nyse(), MIDDAY_MS, today=True)
    assert not closed.partial and closed.last.date == LAST
    assert midday.partial and midday.last.date == TODAY
    assert [s.date for s in midday.sessions] == [s.date for s in closed.sessions[1:]] + [TODAY]
    assert [len(midday.warmup), len(midday.scored), len(midday.held_out)] == [3, 4, 2]
    # nothing of today to add before its first minute has closed; after the close it is whole
    for hhmm, last in (("08:00", LAST), ("09:30", LAST), ("16:30", TODAY)):
        w = spec.latest(nyse(), at(hhmm) + 30_000, today=True)
        assert not w.partial and w.last.date == last, hhmm


def test_a_cut_session_closes_one_minute_after_its_last_bar():
    day = nyse().session(TODAY)
    cut = cut_session(day, at("11:59"))
    assert cut.date == TODAY and cut.open == day.open and cut.close_ms == at("12:00")
    assert cut.n_minutes == 150 and cut.eod_ms() == at("11:58")
    with pytest.raises(ValueError, match="is not a minute of the 2025-11-03 session"):
        cut_session(day, at("16:00"))


def _midday_data(home: Home):
    return load_dataset(home.strategy, SMALL.latest(nyse(), MIDDAY_MS, today=True), home.data_dir,
                        config_dir=home.config_dir)  # fmt: skip


def test_todays_bars_are_loaded_up_to_the_last_one_and_a_worker_loads_the_same(midday_market: Home):
    data = _midday_data(midday_market)
    w, grid = data.windows, data.grid
    assert w.partial and grid.sessions[-1] == w.last and w.last.close_ms == at("12:00")
    assert "today's up to 11:59 ET" in w.describe() and w.end_label() == "2025-11-03T11:59"
    k = len(grid.sessions) - 1
    assert k == w.held_out_index[-1] and len(grid.session_range(k)) == 150
    assert int(grid.t_ms[-1]) == at("11:59")
    again = load_dataset("psm", w, midday_market.data_dir, config_dir=midday_market.config_dir)
    assert again.windows == w and np.array_equal(again.grid.t_ms, grid.t_ms)
    assert np.array_equal(again.grid.close, grid.close, equal_nan=True)


def test_a_partial_session_is_traded_as_a_session_closing_at_its_cut(midday_market: Home):
    data = _midday_data(midday_market)
    k = len(data.grid.sessions) - 1
    cache = SignalCache(data.grid)

    def today(**params):
        cfg = data.config({"oes_config.buy_threshold": 0.5, "oes_config.sell_threshold": 0.49,
                           **{key.replace("__", "."): v for key, v in params.items()}})  # fmt: skip
        res = simulate(cfg, data.grid, cache.get(cfg.oes_config), [k], liquidity=data.liquidity,
                       costs=data.costs, diagnostics=False)  # fmt: skip
        (day,) = res.days
        assert day.session_date == TODAY and day.minutes == 150 and day.flat_at_close
        assert all(f.t_ms < at("12:00") for f in res.fills)
        return res

    # trading all morning: busy up to 11:30, then no entry in the last 30 minutes of the cut
    busy = today(psm_config__min_hold_bars=1)
    assert busy.days[0].orders > 10 and any(at("11:00") <= o.t_ms < at("11:30") for o in busy.orders)
    assert all(o.side == "sell" for o in busy.orders if o.t_ms >= at("11:30"))
    # holding all morning: flattened by the end of day of a session closing at 12:00, decided
    # on 11:57 (decision time 11:58) and filled at 11:58's open
    held = today(psm_config__min_hold_bars=390, psm_config__profit_target=0.5, psm_config__stop_loss=0.5)
    first, last = held.orders[0], held.orders[-1]
    assert first.side == "buy" and first.t_ms < at("10:00")
    assert (last.side, last.t_ms, last.reason) == ("sell", at("11:57"), "end of day: flatten")
    assert held.fills[-1].t_ms == at("11:58")


def test_the_midday_study_is_a_new_one_and_its_run_is_recorded(midday_market: Home, home_copy):
    home = home_copy(midday_market)
    opts = OptimizeOptions("psm", home.data_dir, home.config_dir, trials=3, windows=SMALL, progress=False)
    morning = run_optimizer(opts, now_ms=MIDDAY_MS)  # the sessions closed before today only
    rec = read_last_run(home.data_dir, "psm")
    assert rec is not None and rec.data_end == LAST and rec.partial_end is None
    midday = run_optimizer(replace(opts, today=True), now_ms=MIDDAY_MS)
    assert not set(morning.studies) & set(midday.studies)  # new studies: their trials ran
    assert all("-2025-11-03T11:59-phase" in name for name in midday.studies)
    assert midday.trials == 6 and midday.windows.last.date == TODAY
    rec = read_last_run(home.data_dir, "psm")
    assert rec is not None and rec.data_end == TODAY and rec.partial_end == from_ms(at("11:59"))
    assert rec.trials == 6 and rec.verdict == ("promoted" if midday.promoted else "kept")


def test_a_budget_of_no_time_runs_no_trial_and_keeps_the_parameters(psm_market: Home, home_copy):
    home = home_copy(psm_market)
    opts = OptimizeOptions("psm", home.data_dir, home.config_dir, trials=5, windows=SMALL,
                           progress=False, budget_s=0)  # fmt: skip
    out = run_optimizer(opts, now_ms=NOW_MS)
    assert out.trials == 0 and not out.promoted
    assert "the candidate is the current parameter set" in out.verdict.reasons
    assert not (home.config_dir / "best_params.json").exists()
    rec = read_last_run(home.data_dir, "psm")
    assert rec is not None and rec.trials == 0 and rec.verdict == "kept"

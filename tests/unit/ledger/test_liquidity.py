"""Liquidity: a session's dollar volume per minute, the median over the sessions before."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from common.bars import Bar
from common.calendar import nyse
from common.session_grid import fill_grid
from ledger.liquidity import history_liquidity, liquidity, session_dollar_volume

D = Decimal
CAL = nyse()


def test_session_dollar_volume_is_exact_and_missing_minutes_count():
    # 2 bars on a 390-minute session: (10.01 × 100 + 10.02 × 300) / 390
    got = session_dollar_volume([10.01, 10.02], [100.0, 300.0], 390)
    assert got == (D("1001") + D("3006")) / 390
    assert session_dollar_volume([], [], 210) == 0
    with pytest.raises(ValueError, match="minutes"):
        session_dollar_volume([1.0], [1.0], 0)


def test_liquidity_is_the_median_and_none_without_history():
    assert liquidity([D(3), D(1), D(2)]) == D(2)
    assert liquidity([D(4), D(1), D(2), D(100)]) == D(3)
    assert liquidity([]) is None
    assert liquidity([D(0), D(0)]) is None
    assert liquidity([D(0), D(6), D(0), D(4)]) == D(5)  # sessions without bars are left out


class History:
    def __init__(self, bars: list[Bar]) -> None:
        self.bars = bars
        self.asked: list[tuple[int, int]] = []

    def bars_between(self, symbol: str, start_ms: int, end_ms: int) -> list[Bar]:
        self.asked.append((start_ms, end_ms))
        return [b for b in self.bars if b.symbol == symbol and start_ms <= b.t < end_ms]


def test_history_liquidity_reads_only_the_sessions_it_is_given():
    day = CAL.session(date(2024, 3, 12))
    before = CAL.sessions_before(day.date, 3)
    bars = [Bar("X", s.open_ms + i * 60_000, 10.0, 10.0, 10.0, 10.0, 39.0 * (k + 1)) for k, s in enumerate(before) for i in range(10)]
    future = [Bar("X", day.open_ms, 10.0, 10.0, 10.0, 10.0, 1e9)]
    history = History(bars + future)
    got = history_liquidity(history, "X", before)
    # sessions: 10 bars × $10 × 39·k shares / 390 minutes = $10·k a minute, k = 1, 2, 3
    assert got == D(20)
    assert all(end <= day.open_ms for _, end in history.asked)


def test_a_grid_and_its_bars_give_the_same_figure():
    s = CAL.session(date(2024, 3, 12))
    rng = np.random.default_rng(1)
    minutes = list(s.minutes())
    bars = [
        Bar("X", t, c, c, c, c, float(rng.integers(1, 900)))
        for t in minutes
        if rng.random() < 0.4
        for c in [round(float(20 + rng.normal()), 2)]
    ]
    grid = fill_grid("X", bars, minutes)
    closes = np.array([b.close for b in grid])
    volumes = np.array([b.volume for b in grid])
    assert session_dollar_volume(closes, volumes, s.n_minutes) == session_dollar_volume(
        [b.close for b in bars], [b.volume for b in bars], s.n_minutes
    )

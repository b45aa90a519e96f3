"""The generated bars: determinism, the session grid, OHLC invariants, cents and volumes."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from datetime import date

import pytest

from common.bars import MINUTE_MS, Bar
from common.calendar import nyse
from mockmarket.synthetic import ALL_SYMBOLS, SyntheticConfig, generate_market, market_sessions

HALF_DAYS = (date(2024, 11, 29), date(2024, 12, 24))


def test_same_config_gives_identical_bars(base_cfg: SyntheticConfig, market: dict[str, list[Bar]]) -> None:
    again = generate_market(base_cfg)
    assert list(again) == list(market) == list(ALL_SYMBOLS)
    assert again == market


def test_different_seeds_differ(base_cfg: SyntheticConfig, market: dict[str, list[Bar]]) -> None:
    other = generate_market(replace(base_cfg, seed=8, symbols=("SPY", "ERY")))
    assert [b.close for b in other["SPY"]] != [b.close for b in market["SPY"]]
    # Thin symbols miss different minutes under another seed.
    assert [b.t for b in other["ERY"]] != [b.t for b in market["ERY"]]


def test_a_symbol_does_not_depend_on_which_others_are_generated(
    base_cfg: SyntheticConfig, market: dict[str, list[Bar]]
) -> None:
    subset = generate_market(replace(base_cfg, symbols=("TZA", "SPY")))
    assert list(subset) == ["TZA", "SPY"]
    assert subset["TZA"] == market["TZA"]
    assert subset["SPY"] == market["SPY"]


def test_every_bar_is_on_its_session_grid_and_sorted(
    base_cfg: SyntheticConfig, market: dict[str, list[Bar]]
) -> None:
    cal = nyse()
    dates = {s.date for s in market_sessions(base_cfg)}
    for sym, bars in market.items():
        assert bars, sym
        ts = [b.t for b in bars]
        assert ts == sorted(set(ts)), f"{sym}: not sorted and unique"
        for b in bars:
            assert b.symbol == sym
            s = cal.session_of_minute(b.t)
            assert s is not None, f"{sym} t={b.t} is off every session grid"
            assert s.date in dates


def test_liquid_symbol_fills_every_minute_including_half_days(
    base_cfg: SyntheticConfig, market: dict[str, list[Bar]]
) -> None:
    cal = nyse()
    per_day = Counter(cal.session_of_minute(b.t).date for b in market["SPY"])
    for s in market_sessions(base_cfg):
        assert per_day[s.date] == s.n_minutes, s.date
    for d in HALF_DAYS:
        assert per_day[d] == 210
        last = max(b.t for b in market["SPY"] if cal.session_of_minute(b.t).date == d)
        assert last == cal.session(d).close_ms - MINUTE_MS  # 12:59 New York
    assert sum(per_day.values()) == 28 * 390 + 2 * 210


def _cents(x: float) -> bool:
    return abs(x * 100 - round(x * 100)) < 1e-6


def test_ohlc_invariants_cents_and_volumes(market: dict[str, list[Bar]]) -> None:
    for sym, bars in market.items():
        for b in bars:
            b.validate()
            assert b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high, b
            assert b.low >= 0.01, b
            assert all(_cents(x) for x in (b.open, b.high, b.low, b.close)), b
            assert b.volume == int(b.volume) and b.volume >= 1, b
            assert b.trade_count is not None and 1 <= b.trade_count <= b.volume, b
            assert b.vwap is not None and b.low <= b.vwap <= b.high, b
            assert not b.filled
        # Bars are not degenerate: most liquid-symbol bars have a range.
        if sym == "SPY":
            assert sum(b.high > b.low for b in bars) > 0.9 * len(bars)


def test_open_continues_from_previous_close_within_a_session(mid_market: dict[str, list[Bar]]) -> None:
    """On the mid (microstructure off); with bounce, see test_synthetic_microstructure."""
    bars = mid_market["SPY"]
    gaps = [
        abs(b.open - a.close)
        for a, b in zip(bars, bars[1:], strict=False)
        if b.t - a.t == MINUTE_MS
    ]
    assert max(gaps) <= 0.01 + 1e-9


@pytest.mark.parametrize(("symbol", "low", "high"), [("SPY", 300, 800), ("TQQQ", 30, 120), ("UVXY", 10, 60)])
def test_prices_start_realistic(market: dict[str, list[Bar]], symbol: str, low: float, high: float) -> None:
    first = market[symbol][0]
    assert low < first.open < high
    assert all(math.isfinite(b.close) and b.close > 0 for b in market[symbol])

"""Shared synthetic markets: built once per test session (each takes a fraction of a second).

``market`` and ``signal_market`` are what mockmarket serves (bid-ask bounce on);
``mid_market`` and ``mid_signal_market`` the same markets printed at the mid, for the
properties of the price process itself (leverage, correlations, the learnable component).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from common.bars import Bar
from common.calendar import nyse
from mockmarket.synthetic import SyntheticConfig, generate_market

# 30 sessions ending 2024-12-31 include two half days: 2024-11-29 and 2024-12-24.
END = date(2024, 12, 31)
HALF_DAYS = (date(2024, 11, 29), date(2024, 12, 24))


@pytest.fixture(scope="session")
def base_cfg() -> SyntheticConfig:
    return SyntheticConfig(seed=7, sessions=30, end_date=END)


@pytest.fixture(scope="session")
def market(base_cfg: SyntheticConfig) -> dict[str, list[Bar]]:
    return generate_market(base_cfg)


@pytest.fixture(scope="session")
def signal_market() -> dict[str, list[Bar]]:
    return generate_market(SyntheticConfig(seed=7, sessions=30, end_date=END, signal_strength=0.2))


@pytest.fixture(scope="session")
def mid_cfg(base_cfg: SyntheticConfig) -> SyntheticConfig:
    """``base_cfg`` with microstructure off: bars print at the mid (the factor model's prices)."""
    return replace(base_cfg, microstructure=0.0)


@pytest.fixture(scope="session")
def mid_market(mid_cfg: SyntheticConfig) -> dict[str, list[Bar]]:
    """The mid process of ``market``: the same paths, trades and volumes, no bid-ask bounce."""
    return generate_market(mid_cfg)


@pytest.fixture(scope="session")
def mid_signal_market(mid_cfg: SyntheticConfig) -> dict[str, list[Bar]]:
    return generate_market(replace(mid_cfg, signal_strength=0.2))


def session_returns(bars: list[Bar]) -> np.ndarray:
    """Log close-to-close returns of consecutive minutes of one session (NaN elsewhere)."""
    cal = nyse()
    t = np.array([b.t for b in bars])
    day = np.array([cal.session_of_minute(b.t).open_ms for b in bars])
    r = np.diff(np.log([b.close for b in bars]))
    ok = (day[1:] == day[:-1]) & (np.diff(t) == 60_000)
    return np.where(ok, r, np.nan)


def lag1_autocorr(bars: list[Bar]) -> float:
    r = session_returns(bars)
    a, b = r[1:], r[:-1]
    k = ~np.isnan(a) & ~np.isnan(b)
    return float(np.corrcoef(a[k], b[k])[0, 1])


def minute_of_session(bars: list[Bar]) -> np.ndarray:
    cal = nyse()
    return np.array([cal.session_of_minute(b.t).minute_index(b.t) for b in bars])


@pytest.fixture(scope="session")
def returns_of():
    """``returns_of(bars)``: within-session one-minute log returns (NaN across gaps and nights)."""
    return session_returns


@pytest.fixture(scope="session")
def autocorr_of():
    """``autocorr_of(bars)``: lag-1 autocorrelation of within-session minute returns."""
    return lag1_autocorr


@pytest.fixture(scope="session")
def minute_index_of():
    """``minute_index_of(bars)``: each bar's 0-based minute within its session."""
    return minute_of_session

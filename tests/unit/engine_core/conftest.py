"""Data and implementations for the engine_core tests.

Markets are on the session grid (design.md section 5): random walks with overnight gaps,
runs of filled flat bars (volume 0), real bars with zero volume, prices on a tick grid,
at ordinary, very small and very large price levels, plus the synthetic market of
mockmarket when it is available.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pytest

from common.calendar import nyse
from common.session_grid import fill_grid
from engine_core import FeatureEngine
from engine_core.reference import ReferenceFeatures
from engine_core.timeinfo import minute_info


@dataclass(frozen=True)
class Market:
    """(S, N) bar arrays and the (N,) minutes, as the core consumes them."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    t: np.ndarray

    @property
    def arrays(self) -> tuple[np.ndarray, ...]:
        return self.open, self.high, self.low, self.close, self.volume

    def symbol(self, i: int) -> Market:
        return Market(*(a[i : i + 1] for a in self.arrays), self.t)

    def minutes(self, start: int, stop: int) -> Market:
        return Market(*(a[:, start:stop] for a in self.arrays), self.t[start:stop])


def session_minutes(last: date, n_sessions: int) -> np.ndarray:
    """Bar starts (ms) of the ``n_sessions`` NYSE sessions ending with ``last``."""
    cal = nyse()
    sessions = cal.sessions_before(date.fromordinal(last.toordinal() + 1), n_sessions)
    return np.array([t for s in sessions for t in s.minutes()], dtype=np.int64)


def random_market(seed: int, n_symbols: int, t: np.ndarray, price: float = 50.0,
                  vol: float = 0.001, tick: float = 0.01, flat_prob: float = 0.04,
                  zero_volume_prob: float = 0.04, gap: float = 0.01,
                  flat_runs: int = 2) -> Market:
    """A grid market: Student-t minute returns, overnight gaps, flat and zero-volume bars."""
    rng = np.random.default_rng(seed)
    S, N = n_symbols, len(t)
    day = minute_info(t).day
    new_session = np.r_[True, day[1:] != day[:-1]]
    op, hi, lo, cl, vo = (np.empty((S, N)) for _ in range(5))
    for i in range(S):
        r = vol * rng.standard_t(5, N) / np.sqrt(5 / 3)
        r[new_session] += gap * rng.standard_normal(new_session.sum())
        r[0] = 0.0
        flat = rng.random(N) < flat_prob
        for _ in range(flat_runs):  # long flat runs: windows of 20 and 50 equal closes
            start = int(rng.integers(60, N - 80))
            flat[start : start + int(rng.integers(25, 70))] = True
        flat[0] = False
        close = np.maximum(np.round(price * np.exp(np.cumsum(r)) / tick) * tick, tick)
        prev = price
        for j in range(N):
            if flat[j]:
                op[i, j] = hi[i, j] = lo[i, j] = cl[i, j] = prev
                vo[i, j] = 0.0
                continue
            c = close[j]
            o = max(np.round(prev * (1 + 0.3 * vol * rng.standard_normal()) / tick) * tick, tick)
            spread = np.abs(rng.standard_normal(2)) * vol * c
            h = np.round((max(o, c) + spread[0]) / tick) * tick
            low = max(np.round((min(o, c) - spread[1]) / tick) * tick, tick)
            op[i, j], hi[i, j], lo[i, j], cl[i, j] = o, max(h, o, c), min(low, o, c), c
            vo[i, j] = 0.0 if rng.random() < zero_volume_prob else float(rng.integers(1, 5000))
            prev = c
    return Market(op, hi, lo, cl, vo, t)


def synthetic_market(signal: float, sessions: int = 20, seed: int = 7,
                     symbols: tuple[str, ...] | None = None, microstructure: float = 0.0) -> Market:
    """mockmarket's synthetic market on the session grid (absent leading minutes: NaN).

    ``microstructure`` 0 (default): prices print at the mid, where the learnable component
    lives; with bid-ask bounce on, observed returns also carry the bounce's mean reversion,
    which a model learns too (it is the spread, not an edge).
    """
    synthetic = pytest.importorskip("mockmarket.synthetic")
    kwargs = {} if symbols is None else {"symbols": symbols}
    cfg = synthetic.SyntheticConfig(seed=seed, sessions=sessions, end_date=date(2025, 10, 31),
                                    signal_strength=signal, microstructure=microstructure, **kwargs)
    market = synthetic.generate_market(cfg)
    minutes = [t for s in synthetic.market_sessions(cfg) for t in s.minutes()]
    index = {t: j for j, t in enumerate(minutes)}
    A = np.full((5, len(market), len(minutes)), np.nan)
    for i, (sym, bars) in enumerate(market.items()):
        for b in fill_grid(sym, bars, minutes):
            A[:, i, index[b.t]] = (b.open, b.high, b.low, b.close, b.volume)
    return Market(*A, np.array(minutes, dtype=np.int64))


FeatureRun = Callable[[Market], tuple[np.ndarray, np.ndarray, np.ndarray]]


def _cython_features(m: Market) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return FeatureEngine().run(*(a[0] for a in m.arrays), *minute_info(m.t))


def _reference_features(m: Market) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return ReferenceFeatures().run(*(a[0] for a in m.arrays), m.t)


@pytest.fixture(params=["cython", "reference"])
def features_impl(request) -> FeatureRun:
    """Run one symbol's features with each implementation: (raw, z, ready)."""
    return {"cython": _cython_features, "reference": _reference_features}[request.param]


def _datasets() -> dict[str, Market]:
    t = session_minutes(date(2025, 3, 14), 4)  # spans the 2025-03-09 DST change
    sets = {
        "normal": random_market(1, 1, t),
        "tiny": random_market(2, 1, t, price=2e-4, tick=1e-8, vol=0.002),
        "huge": random_market(3, 1, t, price=3e6, tick=0.01, vol=0.0005),
        "volatile": random_market(4, 1, t, price=20.0, vol=0.01, gap=0.05, flat_prob=0.2),
    }
    return sets


DATASETS = _datasets()


@pytest.fixture(scope="session")
def synthetic() -> Callable[..., Market]:
    """The synthetic-market factory (skips when mockmarket.synthetic is not there)."""
    pytest.importorskip("mockmarket.synthetic")
    return synthetic_market


@pytest.fixture(scope="session")
def synthetic_uvxy() -> Market:
    """One thin, volatile synthetic symbol (many missing minutes -> flat bars)."""
    m = synthetic_market(0.2, sessions=4, symbols=("UVXY", "SVXY"))
    return m.symbol(1)


@pytest.fixture(params=[*DATASETS, "synthetic"])
def dataset(request) -> tuple[str, Market]:
    if request.param == "synthetic":
        m = request.getfixturevalue("synthetic_uvxy")
        first = int(np.flatnonzero(np.isfinite(m.close[0]))[0])
        return "synthetic", m.minutes(first, len(m.t))
    return request.param, DATASETS[request.param]


@pytest.fixture(scope="session")
def small_market() -> Market:
    """3 symbols x 3 sessions, for ensemble tests."""
    return random_market(11, 3, session_minutes(date(2025, 6, 13), 3))

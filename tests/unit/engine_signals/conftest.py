"""Markets for the grid, signal and decision tests.

``thin_market``: a real synthetic market (mockmarket.synthetic) of a few symbols over six
sessions ending 2025-12-01, so the half day 2025-11-28 is inside, with low liquidity so
many minutes have no bar (the grid fills them). Written once per test session.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from common.bars import Bar
from common.calendar import Session
from mockmarket.synthetic import SyntheticConfig, generate_market, market_sessions, write_bars

THIN_SYMBOLS = ("SPY", "SPXL", "SH", "SDS", "TQQQ")
LAST = date(2025, 12, 1)
HALF_DAY = date(2025, 11, 28)


@dataclass(frozen=True)
class ThinMarket:
    directory: Path
    sessions: list[Session]
    bars: dict[str, list[Bar]]
    symbols: tuple[str, ...]


@pytest.fixture(scope="session")
def thin_market(tmp_path_factory: pytest.TempPathFactory) -> ThinMarket:
    cfg = SyntheticConfig(
        seed=11,
        sessions=6,
        end_date=LAST,
        signal_strength=0.2,
        symbols=THIN_SYMBOLS,
        liquidity_scale=0.05,
    )
    directory = tmp_path_factory.mktemp("thin") / "equities"
    directory.mkdir()
    bars = generate_market(cfg)
    write_bars(directory, bars)
    return ThinMarket(directory, market_sessions(cfg), bars, THIN_SYMBOLS)

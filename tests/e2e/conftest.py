"""Whole mock sessions with real processes: mockmarket, ``python -m bridge`` and
``python -m engine``, talking over real sockets and a real FIFO under tmp_path.

The engine warms up on the market's own history: the sessions before the replay date are
downloaded over REST (``AlpacaRestClient.get_bars``) into the engine's
``<data-dir>/equities`` with ``csvfiles.write_history`` — what the launcher does. The
synthetic market files and the downloaded history are made once per test session and
copied per test. Every process is stopped by its own pid.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from common.calendar import from_ms, ny_datetime, nyse, to_ms
from common.csvfiles import history_path, write_history
from common.env import load_endpoints
from common.rest import AlpacaRestClient
from mockmarket.datasource import ensure_synthetic
from mockmarket.harness import RunningMarket, run_market
from tests.support.e2e_rig import Rig, strategy_config
from tests.support.processes import poll

SEED = 5
SESSIONS = 22  # 20 sessions of warm-up history + the replay date (+1 spare)
HISTORY = 20
DAY = date(2025, 10, 16)  # a Thursday
HALF_DAY = date(2025, 11, 28)  # closes 13:00
ALL_SYMBOLS = ("ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA",
               "UVXY", "SPY", "SPXL", "SH")  # fmt: skip


def at(day: date, hhmm: str) -> int:
    return to_ms(ny_datetime(day, hhmm))


# A rotation config that enters as soon as signals are warm and then holds to the close:
# every entry filter open, no exits but the end of day.
ROTATION_HOLDS = {
    "oes_config__buy_threshold": 0.5, "oes_config__sell_threshold": 0.06,
    "signal_aggregator_config__min_probability": 0.5, "signal_aggregator_config__min_confidence": 0.0,
    "signal_aggregator_config__min_strength": 0.0, "signal_aggregator_config__max_signal_age_bars": 390,
    "rotation_manager_config__min_strength_to_enter": 0.0,
    "rotation_manager_config__min_strength_to_exit": 0.0,
    "rotation_manager_config__rotation_strength_delta": 5.0,
    "rotation_manager_config__min_hold_bars": 390, "rotation_manager_config__profit_target": 1.0,
    "rotation_manager_config__stop_loss": 1.0, "rotation_manager_config__min_rank_to_hold": 12,
    "risk__daily_loss_limit_pct": 0.5,
}  # fmt: skip


@pytest.fixture(scope="session")
def market_files(tmp_path_factory) -> Callable[[date], Path]:
    """The synthetic market ending on a day (generated once per test session)."""
    made: dict[date, Path] = {}

    def get(day: date) -> Path:
        if day not in made:
            d = tmp_path_factory.mktemp(f"e2e_market_{day:%Y%m%d}")
            ensure_synthetic(d, seed=SEED, sessions=SESSIONS, end_date=day)
            made[day] = d
        return made[day]

    return get


def download_history(rest: AlpacaRestClient, day: date, symbols: tuple[str, ...], dest: Path) -> None:
    """The ``HISTORY`` sessions before ``day`` over REST into ``dest`` (history CSVs)."""
    sessions = nyse().sessions_before(day, HISTORY)
    bars = rest.get_bars(symbols, from_ms(sessions[0].open_ms), from_ms(sessions[-1].close_ms - 60_000))
    for sym in symbols:
        write_history(history_path(dest, sym), bars.get(sym, []))


@pytest.fixture(scope="session")
def history(tmp_path_factory, market_files) -> Callable[[RunningMarket, date], Path]:
    """``history(market, day)``: a directory of history CSVs downloaded from the market once."""
    made: dict[date, Path] = {}

    def get(market: RunningMarket, day: date) -> Path:
        if day not in made:
            d = tmp_path_factory.mktemp(f"e2e_history_{day:%Y%m%d}")
            with AlpacaRestClient(load_endpoints(None, market.env())) as rest:
                download_history(rest, day, ALL_SYMBOLS, d)
            made[day] = d
        return made[day]

    return get


@pytest.fixture
def rig_factory(tmp_path, market_files, history) -> Iterator[Callable[..., Rig]]:
    """``rig_factory(day, start_time, speed=..., extra_args=..., data_dir=..., name=...)`` → a
    rig on a paused market (``data_dir``: a copy of ``market_files(day)`` a test has changed;
    ``name``: a subdirectory of its own, for a test that runs several sessions)."""
    stack = contextlib.ExitStack()
    rigs: list[Rig] = []

    def make(day: date = DAY, start_time: str = "14:59", speed: float = 300.0,
             extra_args: tuple[str, ...] = (), data_dir: Path | None = None,
             name: str | None = None) -> Rig:  # fmt: skip
        home = tmp_path / name if name else tmp_path
        home.mkdir(exist_ok=True)
        market = stack.enter_context(run_market(
            home / "market", data_dir=data_dir or market_files(day), seed=SEED, sessions=SESSIONS,
            date=day.isoformat(), start_time=start_time, speed=speed,
            extra_args=["--paused", "--correction-rate", "0", *extra_args],
        ))  # fmt: skip
        rig = Rig(market, home, day)
        shutil.copytree(history(market, day), rig.data_dir / "equities")
        rigs.append(rig)
        return rig

    try:
        yield make
    finally:
        for r in rigs:
            r.close()
        stack.close()


@pytest.fixture
def e2e():
    """Helpers for the test modules (conftest modules cannot be imported under importlib)."""
    from types import SimpleNamespace

    return SimpleNamespace(at=at, poll=poll, DAY=DAY, HALF_DAY=HALF_DAY, ROTATION_HOLDS=ROTATION_HOLDS,
                           strategy_config=strategy_config)

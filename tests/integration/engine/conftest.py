"""Real parts for the engine's integration tests: a mockmarket server process, its REST API,
a real FIFO under tmp_path and a real SQLite journal.

The synthetic market's files are generated once per test session and shared (read-only)
by every market started here; each market gets its own work directory (state, log).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest

from common.calendar import Session, ny_datetime, nyse, to_ms
from common.env import load_endpoints
from common.rest import AlpacaRestClient
from engine.journal import Journal
from mockmarket.datasource import ensure_synthetic
from mockmarket.harness import RunningMarket, run_market

DAY = date(2025, 10, 16)  # a Thursday, full session
HALF_DAY = date(2025, 11, 28)  # the day after Thanksgiving: closes 13:00
SEED = 11
SESSIONS = 3


def poll(cond: Callable[[], object], timeout: float, what: str, every: float = 0.02) -> None:
    """Wait for ``cond`` with a deadline (real seconds); fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)


def at(day: date, hhmm: str) -> int:
    return to_ms(ny_datetime(day, hhmm))


@pytest.fixture(scope="session")
def market_data(tmp_path_factory) -> Callable[[date], Path]:
    """``market_data(day)``: a directory with a synthetic market ending on ``day``."""
    made: dict[date, Path] = {}

    def get(day: date) -> Path:
        if day not in made:
            d = tmp_path_factory.mktemp(f"market_{day:%Y%m%d}")
            ensure_synthetic(d, seed=SEED, sessions=SESSIONS, end_date=day)
            made[day] = d
        return made[day]

    return get


@pytest.fixture
def market_factory(tmp_path, market_data) -> Iterator[Callable[..., RunningMarket]]:
    """``market_factory(start_time="10:00", day=DAY, paused=True, **kw)`` → a running market."""
    stack = contextlib.ExitStack()
    n = 0

    def make(start_time: str = "10:00", day: date = DAY, paused: bool = True, speed: float = 60.0,
             extra_args: tuple[str, ...] = ()) -> RunningMarket:  # fmt: skip
        nonlocal n
        n += 1
        args = ["--correction-rate", "0", *extra_args] + (["--paused"] if paused else [])
        return stack.enter_context(
            run_market(tmp_path / f"market{n}", data_dir=market_data(day), seed=SEED,
                       sessions=SESSIONS, date=day.isoformat(), start_time=start_time,
                       speed=speed, extra_args=args)
        )  # fmt: skip

    with stack:
        yield make


@pytest.fixture
def rest_for() -> Iterator[Callable[[RunningMarket], AlpacaRestClient]]:
    clients: list[AlpacaRestClient] = []

    def make(market: RunningMarket) -> AlpacaRestClient:
        c = AlpacaRestClient(load_endpoints(None, market.env()), timeout=5.0, max_retries=3,
                             backoff_base=0.05, backoff_cap=0.2)  # fmt: skip
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def journal(tmp_path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite")
    yield j
    j.close()


@pytest.fixture(scope="session")
def day_session() -> Session:
    return nyse().session(DAY)

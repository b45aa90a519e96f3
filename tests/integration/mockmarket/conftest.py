"""Real mockmarket server processes (via mockmarket.harness) for the integration tests.

A module-scoped market serves read-mostly tests; tests that change faults or stop
the process start their own. Synthetic data is generated once per test session into
a shared temporary directory and reused (the generator's marker file makes a second
start with the same config skip generation).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from common.csvfiles import history_path, read_history
from mockmarket.harness import RunningMarket, run_market

REPLAY = "2025-10-16"


@pytest.fixture(scope="session")
def shared_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("mm_data") / "equities"


@pytest.fixture
def start_market(tmp_path: Path, shared_data: Path) -> Iterator[Callable[..., RunningMarket]]:
    """``start_market(**run_market kwargs)`` → a running server, stopped after the test."""
    with ExitStack() as stack:
        count = 0

        def start(**kw: object) -> RunningMarket:
            nonlocal count
            count += 1
            kw.setdefault("date", REPLAY)
            kw.setdefault("data_dir", shared_data)
            return stack.enter_context(run_market(tmp_path / f"market{count}", **kw))

        yield start


@pytest.fixture(scope="module")
def module_market(
    tmp_path_factory: pytest.TempPathFactory, shared_data: Path
) -> Iterator[RunningMarket]:
    """A market at speed 120 from 09:29 New York of the replay date, no corrections."""
    with run_market(
        tmp_path_factory.mktemp("module_market"),
        date=REPLAY,
        data_dir=shared_data,
        speed=120.0,
        extra_args=["--correction-rate", "0"],
    ) as m:
        yield m


@pytest.fixture
def csv_bars() -> Callable[[RunningMarket, str], list]:
    def read(market: RunningMarket, symbol: str) -> list:
        return read_history(history_path(market.data_dir, symbol), symbol)

    return read

"""Fixtures for the engine's decision and bookkeeping parts: sessions, configs, minute feeds."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from common.calendar import Session, ny_datetime, nyse, to_ms
from common.config import (
    PsmStrategyConfig,
    RotationStrategyConfig,
    apply_params,
    original_config_json,
    validate_strategy_config,
)
from engine.journal import Journal
from engine.strategies import Holding, MinuteInput, Signal, minute_input

FULL_DAY = date(2025, 10, 16)  # a Thursday, EDT
HALF_DAY = date(2025, 11, 28)  # day after Thanksgiving, closes 13:00 EST


def make_config(strategy: str, **dotted: Any) -> Any:
    """A validated config with ``section__knob=value`` (or ``section__map__KEY``) overrides.

    The base is the ported system's tuning (``common.config.original_config_json``): these
    tests pin the mechanics of every knob, stated in the original's units (thresholds 0.53
    / 0.47, boosts, ...); the shipped defaults have their own tests (test_default_edge.py).
    """
    params = {k.replace("__", "."): v for k, v in dotted.items()}
    data = apply_params(original_config_json(strategy), params, source="<test>", strategy=strategy)
    return validate_strategy_config(strategy, data, source="<test>")


@pytest.fixture(scope="session")
def full_day() -> Session:
    return nyse().session(FULL_DAY)


@pytest.fixture(scope="session")
def half_day() -> Session:
    return nyse().session(HALF_DAY)


@pytest.fixture
def rot_cfg() -> Callable[..., RotationStrategyConfig]:
    return lambda **kw: make_config("rotation", **kw)


@pytest.fixture
def psm_cfg() -> Callable[..., PsmStrategyConfig]:
    return lambda **kw: make_config("psm", **kw)


def bar(session: Session, hhmm: str) -> int:
    """Bar start (ms) of the minute ``HH:MM`` New York on the session's date."""
    t = to_ms(ny_datetime(session.date, hhmm))
    assert session.contains_minute(t), hhmm
    return t


@pytest.fixture
def at() -> Callable[[Session, str], int]:
    return bar


class Feed:
    """Builds MinuteInputs for one session, with positions following the last targets."""

    def __init__(self, session: Session, cfg: Any, equity: float = 100_000.0) -> None:
        self.session = session
        self.cfg = cfg
        self.equity = equity
        self.positions: dict[str, Holding] = {}

    def minute(
        self,
        t_ms: int,
        signals: Mapping[str, Signal],
        prices: Mapping[str, float],
        positions: Mapping[str, Holding] | None = None,
        equity: float | None = None,
        round_trip_costs: Mapping[str, float] | None = None,
    ) -> MinuteInput:
        return minute_input(
            self.session,
            t_ms,
            self.cfg.session,
            prices=prices,
            signals=signals,
            positions=self.positions if positions is None else positions,
            equity=self.equity if equity is None else equity,
            round_trip_costs=round_trip_costs,
        )

    def fill(self, targets: Mapping[str, int], prices: Mapping[str, float]) -> None:
        """Pretend every target filled at ``prices`` (entry price kept for unchanged holdings)."""
        new: dict[str, Holding] = {}
        for sym, q in targets.items():
            if q <= 0:
                continue
            old = self.positions.get(sym)
            new[sym] = old if old is not None and old.qty == q else Holding(q, prices[sym])
        self.positions = new


@pytest.fixture
def feed() -> Callable[..., Feed]:
    return Feed


class JournalClock:
    """A journal's ``now_ms``: 1001, 1002, ... one millisecond per read."""

    def __init__(self) -> None:
        self.now = 1_000

    def __call__(self) -> int:
        self.now += 1
        return self.now


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    """A fresh journal in ``tmp_path`` on a :class:`JournalClock`."""
    j = Journal(tmp_path / "journal.sqlite", now_ms=JournalClock())
    yield j
    j.close()

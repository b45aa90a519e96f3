"""Small synthetic markets for the optimizer's tests (tiny windows, few trials).

``psm_market``: the PSM family over 12 sessions ending 2025-10-31 with the learnable
component on; ``rotation_market``: four rotation ETFs over the same sessions;
``*_original_market``: the same with the ported tuning (``config/original/``). Each is a
directory holding ``data/equities`` and ``config/<strategy>_strategy.json`` (the default
config; rotation trimmed to its four symbols). ``midday_market``: the PSM family (ported tuning) at
``MIDDAY_MS`` (2025-11-03 12:00:30): 12 closed sessions in ``data/equities`` and today's
bars 09:30..11:59 in ``data/tmp/todays_bars``, as the launcher's midday download leaves them.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from common.calendar import ny_datetime, nyse, to_ms
from common.config import default_config_json, original_config_json
from common.csvfiles import read_history, symbol_of, today_path, write_history, write_today
from common.history_download import TODAYS_BARS
from mockmarket.synthetic import SyntheticConfig, write_market
from optimize.dataset import Dataset, load_dataset
from optimize.windows import WindowSpec

LAST = date(2025, 10, 31)
TODAY = date(2025, 11, 3)
NOW_MS = to_ms(ny_datetime(TODAY, "08:00"))  # before the open of the next session
MIDDAY_MS = to_ms(ny_datetime(TODAY, "12:00")) + 30_000  # 11:59 is the last closed minute
SMALL = WindowSpec(4, 4, 3)
PSM = ("SPY", "SPXL", "SH", "SDS")
ROTATION4 = ("TQQQ", "SQQQ", "TNA", "TZA")


@dataclass(frozen=True)
class Home:
    root: Path
    strategy: str

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    def dataset(self, spec: WindowSpec = SMALL) -> Dataset:
        return load_dataset(self.strategy, spec.latest(nyse(), NOW_MS), self.data_dir,
                            config_dir=self.config_dir)  # fmt: skip


def config_json(strategy: str, original: bool = False) -> dict:
    """The default config [``original``: the ported system's tuning, ``config/original/``],
    rotation trimmed to :data:`ROTATION4`."""
    data = original_config_json(strategy) if original else default_config_json(strategy)
    if strategy == "rotation":
        data["symbols"] = list(ROTATION4)
        boosts = data["signal_aggregator_config"]["leverage_boosts"]
        data["signal_aggregator_config"]["leverage_boosts"] = {s: boosts[s] for s in ROTATION4}
    return data


def make_home(root: Path, strategy: str, seed: int, signal: float, sessions: int = 12,
              end: date = LAST, config: dict | None = None) -> Home:  # fmt: skip
    """``config``: the strategy file [default: :func:`config_json`]."""
    symbols = PSM if strategy == "psm" else ROTATION4
    write_market(root / "data" / "equities", SyntheticConfig(seed=seed, sessions=sessions,
                 end_date=end, signal_strength=signal, symbols=symbols))  # fmt: skip
    (root / "config").mkdir(parents=True, exist_ok=True)
    data = config_json(strategy) if config is None else config
    (root / "config" / f"{strategy}_strategy.json").write_text(json.dumps(data))
    return Home(root, strategy)


def make_midday_home(root: Path, strategy: str, seed: int, signal: float, sessions: int = 12,
                     config: dict | None = None) -> Home:  # fmt: skip
    """A market at ``MIDDAY_MS``: ``sessions`` closed sessions of history, today's morning apart."""
    home = make_home(root, strategy, seed, signal, sessions + 1, end=TODAY, config=config)
    day = nyse().session(TODAY)
    equities = home.data_dir / "equities"
    for path in sorted(equities.glob("*_RTH_NH.csv")):
        sym = symbol_of(path)
        bars = read_history(path, sym)
        path.unlink()
        write_history(path, [b for b in bars if b.t < day.open_ms])
        morning = [b for b in bars if day.open_ms <= b.t < MIDDAY_MS - 30_000]
        write_today(today_path(home.data_dir / TODAYS_BARS, sym), morning)
    return home


@pytest.fixture(scope="session")
def midday_market(tmp_path_factory: pytest.TempPathFactory) -> Home:
    # the ported tuning: it trades all morning (what the partial session's tests need)
    return make_midday_home(tmp_path_factory.mktemp("opt_midday"), "psm", seed=3, signal=0.25,
                            config=config_json("psm", original=True))  # fmt: skip


@pytest.fixture(scope="session")
def psm_market(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return make_home(tmp_path_factory.mktemp("opt_psm"), "psm", seed=3, signal=0.25)


@pytest.fixture(scope="session")
def rotation_market(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return make_home(tmp_path_factory.mktemp("opt_rot"), "rotation", seed=5, signal=0.25)


@pytest.fixture(scope="session")
def psm_original_market(tmp_path_factory: pytest.TempPathFactory) -> Home:
    """``psm_market``'s bars with the ported tuning: the region the phase spaces cover."""
    return make_home(tmp_path_factory.mktemp("opt_psm_orig"), "psm", seed=3, signal=0.25,
                     config=config_json("psm", original=True))  # fmt: skip


@pytest.fixture(scope="session")
def rotation_original_market(tmp_path_factory: pytest.TempPathFactory) -> Home:
    return make_home(tmp_path_factory.mktemp("opt_rot_orig"), "rotation", seed=5, signal=0.25,
                     config=config_json("rotation", original=True))  # fmt: skip


@pytest.fixture
def home_copy(tmp_path: Path) -> Callable[[Home], Home]:
    """A private copy of a market (tests that write best_params.json or a study)."""

    def make(h: Home) -> Home:
        dest = tmp_path / f"{h.strategy}_home"
        shutil.copytree(h.root, dest)
        return Home(dest, h.strategy)

    return make

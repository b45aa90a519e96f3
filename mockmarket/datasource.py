"""Where a server's bars come from: CSV history on disk, or a synthetic market generated for it.

Synthetic history goes to ``data/mockmarket/equities`` by default, never to
``data/equities`` (design.md §4: mockmarket's files stay apart from the live ones,
so a synthetic bar can never reach a live warm-up). A marker file records the
generator's config and version, so a second start with the same config reuses the files
and files from an older generator are made again.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from pathlib import Path

from common.atomic_write import write_json_atomic
from common.calendar import NY, TradingCalendar, nyse
from common.csvfiles import history_path, history_symbols
from mockmarket.store import MarketStore
from mockmarket.synthetic import ALL_SYMBOLS, SyntheticConfig, write_market

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path("data/equities")
SYNTHETIC_DIR = Path("data/mockmarket/equities")
MARKER = ".mockmarket_synthetic.json"
DEFAULT_SESSIONS = 30
GENERATOR_VERSION = 2
"""Bumped whenever the same config would generate different bars (2: bid-ask bounce)."""


def last_session_before(today: date, calendar: TradingCalendar | None = None) -> date:
    """The last NYSE session strictly before ``today``."""
    return (calendar or nyse()).sessions_before(today, 1)[0].date


def ensure_synthetic(
    directory: str | Path,
    *,
    seed: int,
    sessions: int,
    end_date: date | None,
    signal: float = 0.0,
    microstructure: float = 1.0,
    today: date | None = None,
) -> date:
    """Make ``directory`` hold the synthetic market of this config; returns its last session.

    Reuses the files when the marker says they were made with the same config.
    """
    directory = Path(directory)
    if end_date is None:
        end_date = last_session_before(today or datetime.now(NY).date())
    cfg = SyntheticConfig(
        seed=seed,
        sessions=sessions,
        end_date=end_date,
        signal_strength=signal,
        microstructure=microstructure,
    )
    wanted = {
        "generator": GENERATOR_VERSION,
        "seed": seed,
        "sessions": sessions,
        "end_date": end_date.isoformat(),
        "signal": signal,
        "microstructure": microstructure,
        "symbols": list(cfg.symbols),
    }
    marker = directory / MARKER
    try:
        have = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        have = None
    if have == wanted and all(history_path(directory, s).is_file() for s in cfg.symbols):
        log.info(
            "synthetic market in %s is up to date (seed %d, %d sessions to %s)",
            directory,
            seed,
            sessions,
            end_date,
        )
        return end_date
    log.info(
        "generating a synthetic market in %s: seed %d, %d sessions to %s, signal %g, "
        "microstructure %g",
        directory,
        seed,
        sessions,
        end_date,
        signal,
        microstructure,
    )
    directory.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    write_market(directory, cfg)
    write_json_atomic(marker, wanted)
    return end_date


def prepare_store(
    data_dir: str | Path | None,
    *,
    synthetic: bool,
    replay_date: date | None,
    seed: int = 7,
    sessions: int = DEFAULT_SESSIONS,
    signal: float = 0.0,
    microstructure: float = 1.0,
    synthetic_dir: str | Path = SYNTHETIC_DIR,
) -> tuple[MarketStore, Path, bool]:
    """(store, the directory it was read from, whether it is synthetic)."""
    if synthetic:
        directory = Path(data_dir) if data_dir is not None else Path(synthetic_dir)
    else:
        directory = Path(data_dir) if data_dir is not None else DEFAULT_DATA_DIR
        if not history_symbols(directory):
            log.warning(
                "no history in %s: serving a synthetic market from %s instead",
                directory,
                synthetic_dir,
            )
            directory, synthetic = Path(synthetic_dir), True
    if synthetic:
        end = ensure_synthetic(
            directory,
            seed=seed,
            sessions=sessions,
            end_date=replay_date,
            signal=signal,
            microstructure=microstructure,
        )
        replay_date = replay_date or end
        store = MarketStore.load(directory, replay_date, symbols=list(ALL_SYMBOLS))
    else:
        store = MarketStore.load(directory, replay_date)
    return store, directory, synthetic

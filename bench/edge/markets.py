"""The synthetic markets of a study: one per (seed, signal strength), on the session grid.

Every market is mockmarket's deterministic generator (``SyntheticConfig``: the seed, the
planted signal's strength, bid-ask bounce on) over ``sessions`` NYSE sessions ending on
``END``, written once as ``{SYMBOL}_RTH_NH.csv`` under a cache directory and read back
through the engine's own loader (:func:`engine.market_grid.load_sessions`), so a study
sees exactly the bars a backtest of those files sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from engine.market_grid import MinuteGrid, load_sessions
from mockmarket.synthetic import ALL_SYMBOLS, SyntheticConfig, market_sessions, write_market

END = date(2025, 10, 31)
SESSIONS = 30


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One synthetic market."""

    seed: int
    signal: float
    sessions: int = SESSIONS
    end: date = END

    def config(self) -> SyntheticConfig:
        return SyntheticConfig(seed=self.seed, sessions=self.sessions, end_date=self.end,
                               signal_strength=self.signal, symbols=ALL_SYMBOLS)  # fmt: skip

    @property
    def name(self) -> str:
        return f"seed{self.seed}-signal{self.signal:g}-{self.sessions}x{self.end:%Y%m%d}"


def market_dir(spec: MarketSpec, cache: Path) -> Path:
    """The directory holding the market's CSV files (generated on first use)."""
    out = cache / spec.name / "equities"
    done = out / ".complete"
    if not done.exists():
        out.mkdir(parents=True, exist_ok=True)
        write_market(out, spec.config())
        done.touch()
    return out


def market_grid(spec: MarketSpec, symbols: tuple[str, ...], cache: Path) -> MinuteGrid:
    """The market's grid for ``symbols`` (all of its sessions)."""
    return load_sessions(symbols, market_sessions(spec.config()), market_dir(spec, cache))


__all__ = ["END", "SESSIONS", "MarketSpec", "market_dir", "market_grid"]

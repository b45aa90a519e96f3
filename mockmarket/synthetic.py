"""A deterministic synthetic US-equity market: minute bars of 15 leveraged/inverse ETFs.

``generate_market(SyntheticConfig(seed=7, sessions=30))`` simulates the 12 rotation ETFs
plus SPY, SPXL and SH over the last N real NYSE sessions (half days are 210 minutes),
``write_market(dir, cfg)`` writes them as ``{SYMBOL}_RTH_NH.csv`` (design.md §4).

The model (details in :mod:`mockmarket.synthetic_model` and :mod:`mockmarket.synthetic_etfs`):

- a market factor and five family factors correlated with it (Nasdaq, small caps,
  financials, energy, VIX futures strongly anti-correlated), minute log returns with a
  U-shaped intraday volatility, GARCH(1,1) clustering, a day-level volatility regime and
  unit-variance Student-t innovations (fat tails); S&P minute vol ≈ 0.03–0.06%, ≈ 1% a day;
  small overnight gaps;
- ETFs as L× their underlying with a daily reset: SPY 1×, SPXL 3×, SSO 2×, SH −1×, SDS −2×
  S&P; TQQQ 3×, SQQQ −3× Nasdaq; TNA 3×, TZA −3× Russell 2000; FAS 3×, FAZ −3× financials;
  ERX 2×, ERY −2× energy; UVXY 1.5×, SVXY −0.5× VIX futures;
- bars in cents with Brownian-bridge highs and lows, integer volumes with a U-shaped
  profile, and IEX-like gaps: a minute whose simulated trade count is 0 has no bar;
- microstructure (``microstructure``, default 1; 0 = off): a bar's open and close are
  trades at the bid or the ask around the mid, plus small noise, with the quoted spread
  from the cost model's half-spread for the symbol's liquidity (one cent for SPY or TQQQ,
  2-4 cents for thin names), so the next open is not the previous close about half the
  time (bid-ask bounce), by a cent or two in liquid names and a few cents in thin ones;
- a learnable component on the mid price: autocorrelation of strength ``signal_strength``
  over the last ``signal_lags`` minutes (0 turns it off exactly; 0.1–0.3 is weak but
  learnable, a linear model on 1- and 5-minute MID returns then reaches an out-of-sample
  correlation of roughly 0.05–0.15 with the next minute's mid return; on observed
  returns the bounce dilutes it, little for liquid names, more for thin ones).

Determinism: the factor draws come from ``SeedSequence(seed, spawn_key=(0,))`` and each
symbol's own draws (trades, highs and lows, then its microstructure) from a stream keyed by
its name, so the same config gives identical bars and a symbol's bars do not depend on
which others are generated. :func:`market_paths` gives the mid paths behind the bars.

CLI: ``python -m mockmarket.synthetic --out DIR [--seed N] [--sessions N]
[--end-date YYYY-MM-DD] [--signal X] [--microstructure X]``.
"""

from __future__ import annotations

import argparse
import logging
import math
import numbers
import os
import sys
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np

from common.bars import Bar
from common.calendar import NY, Session, nyse
from common.csvfiles import history_path, write_history
from mockmarket.synthetic_etfs import ETFS, etf_bars
from mockmarket.synthetic_model import FactorPaths, ModelParams, simulate_factors

log = logging.getLogger(__name__)

ROTATION_SYMBOLS: tuple[str, ...] = (
    "ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA", "UVXY",
)
PSM_SYMBOLS: tuple[str, ...] = ("SPY", "SPXL", "SH", "SDS")
ALL_SYMBOLS: tuple[str, ...] = tuple(sorted(set(ROTATION_SYMBOLS) | set(PSM_SYMBOLS)))

MAX_SESSIONS = 1000


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. Every field is validated when the config is built."""

    seed: int = 7
    sessions: int = 30
    end_date: date | None = None
    """The last session generated (an NYSE session); None = the last one before today (New York)."""
    signal_strength: float = 0.0
    """Learnable autocorrelation, in (-1, 1); 0 = off. 0.1–0.3 is weak but learnable."""
    symbols: tuple[str, ...] = ALL_SYMBOLS
    signal_lags: int = 3
    """How many past minutes the learnable component averages (1..60)."""
    tail_df: float = 5.0
    """Degrees of freedom of the Student-t innovations, in (2, 1000]; lower = fatter tails."""
    volatility_scale: float = 1.0
    """Multiplies every volatility (minute, overnight), in (0, 5]."""
    liquidity_scale: float = 1.0
    """Multiplies every symbol's trade rate, in (0, 100]; lower = more missing minutes."""
    microstructure: float = 1.0
    """Bid-ask bounce and print noise around the mid, in [0, 5]: 1 = realistic spreads,
    0 = prints at the mid (rounded to cents), as the generator did before bounce."""

    def __post_init__(self) -> None:
        for name, lo, hi in (("seed", 0, None), ("sessions", 1, MAX_SESSIONS), ("signal_lags", 1, 60)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise ValueError(f"{name}={v!r} must be an integer")
            if v < lo or (hi is not None and v > hi):
                raise ValueError(f"{name}={v!r} must be in {lo}..{hi if hi is not None else ''}")
            object.__setattr__(self, name, int(v))
        for name, ok, rule in (
            ("signal_strength", lambda v: -1.0 < v < 1.0, "in (-1, 1); 0 turns it off"),
            ("tail_df", lambda v: 2.0 < v <= 1000.0, "in (2, 1000]"),
            ("volatility_scale", lambda v: 0.0 < v <= 5.0, "in (0, 5]"),
            ("liquidity_scale", lambda v: 0.0 < v <= 100.0, "in (0, 100]"),
            ("microstructure", lambda v: 0.0 <= v <= 5.0, "in [0, 5]; 0 turns it off"),
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise ValueError(f"{name}={v!r} must be a finite number")
            if not ok(v):
                raise ValueError(f"{name}={v!r} must be {rule}")
        self._check_symbols()
        if self.end_date is not None:
            self._check_end_date()

    def _check_symbols(self) -> None:
        if isinstance(self.symbols, str) or not isinstance(self.symbols, Sequence):
            raise ValueError(f"symbols={self.symbols!r} must be a sequence of symbols")
        symbols = tuple(self.symbols)
        if not symbols:
            raise ValueError("symbols is empty: give at least one of " + ", ".join(ALL_SYMBOLS))
        unknown = [s for s in symbols if s not in ETFS]
        if unknown:
            raise ValueError(f"unknown symbol(s) {', '.join(map(repr, unknown))}; known: {', '.join(ALL_SYMBOLS)}")
        dupes = sorted({s for s in symbols if symbols.count(s) > 1})
        if dupes:
            raise ValueError(f"symbols repeats {', '.join(dupes)}")
        object.__setattr__(self, "symbols", symbols)

    def _check_end_date(self) -> None:
        d = self.end_date
        if isinstance(d, datetime) or not isinstance(d, date):
            raise ValueError(f"end_date={d!r} must be a datetime.date (or None)")
        cal = nyse()
        if not cal.first <= d <= cal.last:
            raise ValueError(f"end_date={d} is outside the NYSE calendar's range {cal.first}..{cal.last}")
        if not cal.is_session(d):
            raise ValueError(f"end_date={d} is not an NYSE session (weekend or holiday)")
        try:
            cal.sessions_before(d + timedelta(days=1), self.sessions)
        except ValueError:
            raise ValueError(
                f"sessions={self.sessions}: the NYSE calendar has fewer sessions up to end_date={d}"
            ) from None

    def model_params(self) -> ModelParams:
        return ModelParams(
            volatility_scale=float(self.volatility_scale),
            tail_df=float(self.tail_df),
            signal_strength=float(self.signal_strength),
            signal_lags=self.signal_lags,
        )


def market_sessions(cfg: SyntheticConfig, today: date | None = None) -> list[Session]:
    """The sessions ``cfg`` generates, oldest first.

    ``today`` (default: the New York date now) only matters when ``cfg.end_date`` is None.
    """
    cal = nyse()
    if cfg.end_date is not None:
        return cal.sessions_before(cfg.end_date + timedelta(days=1), cfg.sessions)
    today = today or datetime.now(NY).date()
    return cal.sessions_before(today, cfg.sessions)


def _symbol_seed(seed: int, symbol: str) -> np.random.SeedSequence:
    return np.random.SeedSequence(seed, spawn_key=(1, zlib.crc32(symbol.encode("ascii"))))


def market_paths(cfg: SyntheticConfig, today: date | None = None) -> tuple[list[Session], FactorPaths]:
    """The sessions of ``cfg`` and its simulated underlyings (``synthetic_etfs.etf_path``
    turns them into each ETF's mid prices)."""
    sessions = market_sessions(cfg, today)
    factor_rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(0,)))
    return sessions, simulate_factors(factor_rng, [s.n_minutes for s in sessions], cfg.model_params())


def generate_market(cfg: SyntheticConfig, today: date | None = None) -> dict[str, list[Bar]]:
    """Bars per symbol (in ``cfg.symbols`` order), sorted, on the session grid, gaps absent."""
    started = time.perf_counter()
    sessions, paths = market_paths(cfg, today)
    open_ms = np.array([s.open_ms for s in sessions], dtype=np.int64)
    out: dict[str, list[Bar]] = {}
    for sym in cfg.symbols:
        rng = np.random.default_rng(_symbol_seed(cfg.seed, sym))
        out[sym] = etf_bars(
            ETFS[sym], paths, open_ms, rng, cfg.liquidity_scale, float(cfg.microstructure)
        )
    log.debug(
        "synthetic market: %d symbols × %d sessions (%s..%s), %d bars in %.3f s",
        len(out), len(sessions), sessions[0].date, sessions[-1].date,
        sum(map(len, out.values())), time.perf_counter() - started,
    )
    return out


def write_bars(directory: str | Path, market: dict[str, list[Bar]]) -> dict[str, Path]:
    """Write each symbol's bars to ``{SYMBOL}_RTH_NH.csv``, replacing (not merging) the file."""
    paths: dict[str, Path] = {}
    for sym, bars in market.items():
        final = history_path(directory, sym)
        tmp = final.with_name(f".{final.name}.new")
        tmp.unlink(missing_ok=True)
        try:
            write_history(tmp, bars)
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        paths[sym] = final
    return paths


def write_market(directory: str | Path, cfg: SyntheticConfig, today: date | None = None) -> dict[str, Path]:
    """Generate ``cfg`` and write ``{SYMBOL}_RTH_NH.csv`` for each of its symbols into ``directory``.

    Files already there for those symbols are replaced, never merged; others are left alone.
    """
    return write_bars(directory, generate_market(cfg, today))


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m mockmarket.synthetic",
        description="Write a deterministic synthetic market as {SYMBOL}_RTH_NH.csv files.",
    )
    parser.add_argument("--out", required=True, type=Path, help="directory to write into")
    parser.add_argument("--seed", type=int, default=SyntheticConfig.seed)
    parser.add_argument("--sessions", type=int, default=SyntheticConfig.sessions)
    parser.add_argument("--end-date", type=_parse_date, default=None,
                        help="last session (YYYY-MM-DD, an NYSE session); default: the last before today")
    parser.add_argument("--signal", type=float, default=SyntheticConfig.signal_strength,
                        help="strength of the learnable component, 0 = off (0.1-0.3 is learnable)")
    parser.add_argument("--microstructure", type=float, default=SyntheticConfig.microstructure,
                        help="bid-ask bounce and print noise, 0 = off (prints at the mid)")
    args = parser.parse_args(argv)
    try:
        cfg = SyntheticConfig(seed=args.seed, sessions=args.sessions, end_date=args.end_date,
                              signal_strength=args.signal, microstructure=args.microstructure)
        today = datetime.now(NY).date()
        days = market_sessions(cfg, today)
        market = generate_market(cfg, today)
    except ValueError as e:
        parser.error(str(e))
    written = write_bars(args.out, market)
    for sym, path in written.items():
        bars = market[sym]
        print(f"{sym:5s} {len(bars):7d} bars  {path}")
    print(f"wrote {len(written)} files: {len(days)} sessions {days[0].date}..{days[-1].date}, "
          f"seed {cfg.seed}, signal {cfg.signal_strength}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

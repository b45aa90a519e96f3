"""Rotation's signal aggregator: per-symbol signals → smoothed strengths → ranking.

For every symbol each minute:

- a signal is *filtered* (raw strength 0, with the reason kept for the journal) when it is
  missing, stale (``age_bars > max_signal_age_bars``), weak in probability
  (``prob < min_probability``) or in confidence (``confidence < min_confidence``);
- otherwise raw strength = probability × confidence × leverage boost;
- smoothed = α·raw + (1 − α)·previous smoothed (the first observation starts the average);
- the ranking holds the symbols whose smoothed strength is >= ``min_strength``, strongest
  first (ties by symbol name, so it is deterministic); rank 1 is the strongest.

No symbol is dropped silently: every one gets a :class:`Strength` with its reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from common.config import SignalAggregatorConfig
from engine.strategies.base import Signal, StateError, state_float


@dataclass(frozen=True, slots=True)
class Strength:
    """One symbol's aggregated strength for one minute."""

    symbol: str
    raw: float
    smoothed: float
    prob: float | None
    confidence: float | None
    filtered: str | None  # why the raw strength is 0, or None
    rank: int | None = None


class SignalAggregator:
    """Filters, boosts and smooths signals; its only state is the smoothed strengths."""

    def __init__(self, cfg: SignalAggregatorConfig, symbols: Sequence[str]) -> None:
        self.cfg = cfg
        self.symbols = tuple(symbols)
        self.smoothed: dict[str, float] = {}

    def reset(self) -> None:
        self.smoothed.clear()

    def _raw(self, symbol: str, sig: Signal | None) -> tuple[float, str | None]:
        c = self.cfg
        if sig is None:
            return 0.0, "no signal"
        if sig.age_bars > c.max_signal_age_bars:
            return 0.0, f"stale: no trade for {sig.age_bars} bars"
        if sig.prob < c.min_probability:
            return 0.0, f"weak: p={sig.prob:.4f} < {c.min_probability}"
        if sig.confidence < c.min_confidence:
            return 0.0, f"weak: confidence={sig.confidence:.4f} < {c.min_confidence}"
        return sig.prob * sig.confidence * c.boost(symbol), None

    def update(self, signals: Mapping[str, Signal]) -> dict[str, Strength]:
        """Take one minute's signals; returns every symbol's strength with its rank (or None)."""
        alpha = self.cfg.smoothing_alpha
        out: dict[str, Strength] = {}
        for sym in self.symbols:
            sig = signals.get(sym)
            raw, why = self._raw(sym, sig)
            prev = self.smoothed.get(sym)
            sm = raw if prev is None else alpha * raw + (1.0 - alpha) * prev
            self.smoothed[sym] = sm
            out[sym] = Strength(
                sym,
                raw,
                sm,
                None if sig is None else sig.prob,
                None if sig is None else sig.confidence,
                why,
            )
        for rank, sym in enumerate(self.ranking(out), start=1):
            s = out[sym]
            out[sym] = Strength(s.symbol, s.raw, s.smoothed, s.prob, s.confidence, s.filtered, rank)
        return out

    def ranking(self, strengths: Mapping[str, Strength]) -> list[str]:
        """Symbols with smoothed strength >= min_strength, strongest first."""
        ok = [
            s for s in strengths.values() if s.smoothed >= self.cfg.min_strength and s.smoothed > 0
        ]
        ok.sort(key=lambda s: (-s.smoothed, s.symbol))
        return [s.symbol for s in ok]

    def state_dict(self) -> dict[str, float]:
        return dict(self.smoothed)

    def load_state(self, state: Mapping[str, Any]) -> None:
        if not isinstance(state, Mapping):
            raise StateError(f"rotation state: smoothed={state!r} is not an object")
        loaded = {}
        for sym, v in state.items():
            if sym not in self.symbols:
                raise StateError(f"rotation state: smoothed.{sym} is not a rotation symbol")
            x = state_float("rotation", f"smoothed.{sym}", v)
            if x < 0 or not math.isfinite(x):
                raise StateError(f"rotation state: smoothed.{sym}={v!r} is negative")
            loaded[sym] = x
        self.smoothed = loaded

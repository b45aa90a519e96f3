"""Per-symbol signals from engine_core, live (one minute at a time) and in batch.

- :func:`ensemble_params` is the one place ``oes_config`` becomes engine_core's
  :class:`~engine_core.EnsembleParams`: every ``oes_config`` knob is either a signal knob
  (same name in EnsembleParams) or a decision threshold (``buy_threshold``,
  ``sell_threshold``, ``entry_cost_margin``, read by the strategies); a knob that is neither
  is an error, so a
  new knob cannot be silently ignored by the signal path.
- :class:`SignalEngine` (live): ``update(minute)`` consumes one :class:`~common.minute.Minute`
  of all symbols through ``Ensemble.update`` and answers a :class:`Signal` per symbol
  that has a price. The minute is already on the session grid (the feed's
  :class:`~common.session_grid.GridFiller` or a :class:`~engine.market_grid.MinuteGrid`
  made it: filled bars carry the last close, a symbol with no price yet is absent) and
  its bars were validated where they entered the process: they go to engine_core as
  they are. ``warm_up(grid)`` consumes a whole grid through the batch entry
  (``Ensemble.run``) instead; engine_core guarantees the state is the same bit for bit.
- :func:`batch_signals` (backtests, the optimizer): all minutes of a grid in one call,
  as (S, N) arrays; :func:`per_bar_signals` computes the same arrays through the live
  per-bar path (tests and benchmarks compare the two);
- the optimizer's cheap path: :func:`ensemble_run` once per prediction key (lambda,
  regularization, horizons...), then :func:`recombined_signals` for any ``oes_config``
  sharing it (calibration, weights, probability scale, Bollinger): the same numbers as
  :func:`batch_signals`, for the cost of the step after the EWRLS.

``age_bars`` counts grid minutes since the symbol's last real (not filled) bar: 0 when it
traded this minute, 1 the minute after, ... across sessions too. A symbol that has never
had a price has no signal (its arrays hold ``age`` -1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from common.config import OesConfig
from common.minute import Minute
from engine.market_grid import MinuteGrid
from engine.strategies.base import Signal
from engine_core import BatchResult, Ensemble, EnsembleParams, recombine, run_batch

DECISION_KEYS = frozenset({"buy_threshold", "sell_threshold", "entry_cost_margin"})
"""oes_config knobs the strategies read (not the signal)."""


def ensemble_params(oes_config: OesConfig | Mapping[str, Any] | EnsembleParams) -> EnsembleParams:
    """engine_core's parameters from ``oes_config`` (validated; unknown knobs are errors)."""
    if isinstance(oes_config, EnsembleParams):
        return oes_config
    if isinstance(oes_config, OesConfig):
        data = oes_config.model_dump()
    elif isinstance(oes_config, Mapping):
        data = dict(oes_config)
    else:
        raise TypeError(
            f"oes_config must be an OesConfig or a mapping, not {type(oes_config).__name__}"
        )
    names = set(EnsembleParams.field_names())
    unknown = sorted(k for k in data if k not in names and k not in DECISION_KEYS)
    if unknown:
        raise ValueError(f"oes_config knob(s) {unknown} have no engine_core counterpart")
    return EnsembleParams(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True, eq=False)
class BatchSignals:
    """Signals of S symbols × N grid minutes."""

    symbols: tuple[str, ...]
    t_ms: np.ndarray
    """(N,) bar starts."""
    prob: np.ndarray
    confidence: np.ndarray
    rhat: np.ndarray
    """(S, N) float64 each (0.5 / 0 / 0 where the model is not warm or there is no price)."""
    age: np.ndarray
    """(S, N) int64: minutes since the last real bar; -1 where the symbol has no price yet."""
    horizons: tuple[int, ...] = ()
    """The model horizons (bars) of :attr:`preds`, ascending."""
    preds: np.ndarray | None = None
    """(H, S, N) each horizon's predicted return (engine_core's ``preds``; 0 where the
    features are not ready or there is no bar). None when not recorded."""

    def at(self, n: int) -> dict[str, Signal]:
        """Minute ``n``'s signals, the dict :meth:`SignalEngine.update` would have answered."""
        out: dict[str, Signal] = {}
        for i, sym in enumerate(self.symbols):
            age = int(self.age[i, n])
            if age >= 0:
                out[sym] = Signal(
                    float(self.prob[i, n]),
                    float(self.confidence[i, n]),
                    float(self.rhat[i, n]),
                    age,
                )
        return out

    def same_as(self, other: BatchSignals) -> bool:
        """Identical to the last bit (NaN-free arrays: plain equality)."""
        return (
            self.symbols == other.symbols
            and np.array_equal(self.t_ms, other.t_ms)
            and all(
                np.array_equal(getattr(self, k), getattr(other, k))
                for k in ("prob", "confidence", "rhat", "age")
            )
            and self.horizons == other.horizons
            and (
                self.preds is other.preds
                or (
                    self.preds is not None
                    and other.preds is not None
                    and np.array_equal(self.preds, other.preds)
                )
            )
        )


def _ages(real: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(age[S, N], index of the last real bar[S]) of real-bar masks; -1 where none yet."""
    S, N = real.shape
    steps = np.arange(N, dtype=np.int64)
    last = np.maximum.accumulate(np.where(real, steps[None, :], -1), axis=1)
    age = np.where(last >= 0, steps[None, :] - last, -1)
    return age, (last[:, -1] if N else np.full(S, -1, dtype=np.int64))


class SignalEngine:
    """engine_core's ensemble over ``symbols`` (fixed order), fed one grid minute at a time."""

    def __init__(
        self, symbols: Sequence[str], oes_config: OesConfig | Mapping[str, Any] | EnsembleParams
    ) -> None:
        if isinstance(symbols, str) or not symbols:
            raise ValueError(f"symbols={symbols!r} must be a non-empty sequence of symbols")
        self.symbols = tuple(symbols)
        if len(set(self.symbols)) != len(self.symbols):
            raise ValueError(f"symbols {list(self.symbols)} contain duplicates")
        self.params = ensemble_params(oes_config)
        self.ensemble = Ensemble(len(self.symbols), self.params, symbols=self.symbols)
        self._minutes = 0
        self._last_real = np.full(len(self.symbols), -1, dtype=np.int64)
        self._buf = np.empty((5, len(self.symbols)))

    @property
    def count(self) -> int:
        """Grid minutes consumed."""
        return self._minutes

    @property
    def last_t(self) -> int | None:
        """Bar start of the last minute consumed."""
        return self.ensemble.last_t

    def ages(self) -> dict[str, int]:
        """Minutes since each priced symbol's last real bar, as of the last minute consumed."""
        n = self._minutes - 1
        return {s: int(n - k) for s, k in zip(self.symbols, self._last_real, strict=True) if k >= 0}

    def update(self, minute: Minute) -> dict[str, Signal]:
        """Consume one grid minute (every priced symbol's bar, filled ones marked); its signals."""
        t = minute.t
        bars = minute.bars
        buf, n = self._buf, self._minutes
        buf.fill(np.nan)
        present = [bars.get(sym) for sym in self.symbols]
        for i, b in enumerate(present):
            if b is not None:
                buf[:, i] = (b.open, b.high, b.low, b.close, b.volume)
        prob, rhat, conf = self.ensemble.update(t, buf[0], buf[1], buf[2], buf[3], buf[4])
        out: dict[str, Signal] = {}
        last_real = self._last_real
        for i, b in enumerate(present):
            if b is not None and not b.filled:
                last_real[i] = n
            k = last_real[i]
            if k >= 0:
                out[self.symbols[i]] = Signal(float(prob[i]), float(conf[i]), float(rhat[i]), int(n - k))
        self._minutes = n + 1
        return out

    def warm_up(self, grid: MinuteGrid) -> BatchSignals:
        """Consume a whole grid through the batch entry (a fresh engine only); its signals.

        Afterwards ``update`` carries on exactly as if every minute had gone through it.
        """
        if self._minutes:
            raise ValueError(
                f"warm_up needs a fresh SignalEngine ({self._minutes} minutes already consumed)"
            )
        if grid.symbols != self.symbols:
            raise ValueError(f"grid symbols {list(grid.symbols)} differ from {list(self.symbols)}")
        res = self.ensemble.run(*grid.arrays(), grid.t_ms, info=grid.info)
        age, last = _ages(grid.real)
        self._last_real = last
        self._minutes = grid.n_minutes
        return _batch(grid, res, self.params, age)


def _batch(grid: MinuteGrid, res: BatchResult, params: EnsembleParams,
           age: np.ndarray | None = None) -> BatchSignals:  # fmt: skip
    """BatchSignals of an engine_core run over ``grid``."""
    if age is None:
        age = _ages(grid.real)[0]
    return BatchSignals(grid.symbols, grid.t_ms, res.prob, res.conf, res.rhat, age,
                        tuple(params.horizons), res.preds)  # fmt: skip


def ensemble_run(
    grid: MinuteGrid, oes_config: OesConfig | Mapping[str, Any] | EnsembleParams
) -> BatchResult:
    """engine_core's whole run over ``grid`` (per-horizon forecasts included): what
    :func:`recombined_signals` reuses for every ``oes_config`` with the same
    :meth:`~engine_core.EnsembleParams.prediction_key`."""
    return run_batch(ensemble_params(oes_config), *grid.arrays(), grid.t_ms, info=grid.info)


def recombined_signals(
    grid: MinuteGrid,
    oes_config: OesConfig | Mapping[str, Any] | EnsembleParams,
    run: BatchResult,
) -> BatchSignals:
    """The signals ``oes_config`` gives on ``grid``, from a stored :func:`ensemble_run` whose
    parameters share its prediction key (lambda, regularization, horizons...): only the cheap
    step after the EWRLS (calibration, weights, probability) is redone
    (:func:`engine_core.recombine`), with the very numbers :func:`batch_signals` gives."""
    params = ensemble_params(oes_config)
    res = recombine(params, run, grid.open, grid.close, grid.volume, grid.t_ms, info=grid.info)
    return _batch(grid, res, params)


def batch_signals(
    grid: MinuteGrid, oes_config: OesConfig | Mapping[str, Any] | EnsembleParams
) -> BatchSignals:
    """Signals of every minute of ``grid`` through engine_core's batch entry (one call)."""
    return SignalEngine(grid.symbols, oes_config).warm_up(grid)


def per_bar_signals(
    grid: MinuteGrid, oes_config: OesConfig | Mapping[str, Any] | EnsembleParams
) -> BatchSignals:
    """The same arrays as :func:`batch_signals`, through the live path (``update`` per minute)."""
    eng = SignalEngine(grid.symbols, oes_config)
    S, N = grid.n_symbols, grid.n_minutes
    prob, conf, rhat = np.full((S, N), 0.5), np.zeros((S, N)), np.zeros((S, N))
    age = np.full((S, N), -1, dtype=np.int64)
    preds = np.zeros((len(eng.params.horizons), S, N))
    index = {s: i for i, s in enumerate(grid.symbols)}
    for n, minute in enumerate(grid):
        got = eng.update(minute)
        preds[:, :, n] = eng.ensemble.horizon_predictions
        for sym, sig in got.items():
            i = index[sym]
            prob[i, n], conf[i, n], rhat[i, n], age[i, n] = (
                sig.prob,
                sig.confidence,
                sig.rhat,
                sig.age_bars,
            )
    return BatchSignals(
        grid.symbols, grid.t_ms, prob, conf, rhat, age, tuple(eng.params.horizons), preds
    )


__all__ = [
    "DECISION_KEYS",
    "BatchSignals",
    "SignalEngine",
    "batch_signals",
    "ensemble_params",
    "ensemble_run",
    "per_bar_signals",
    "recombined_signals",
]

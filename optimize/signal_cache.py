"""Signals computed once per parameter set that shapes them, reused by every other trial.

A trial changes two kinds of knobs: decision knobs (thresholds, the strategies' own
sections), which leave the signals as they are, and signal knobs (``oes_config``'s
engine_core parameters), which do not. :class:`SignalCache` keys the signals of one grid
by :func:`signal_key` (engine_core's :class:`~engine_core.EnsembleParams` of the config:
every knob of the signal path, none of the decision ones), so all trials that share it
share one computation.

Two levels, for the expensive part and the cheap part of the signal path:

- the EWRLS (features, per-horizon forecasts and confidences) depends only on
  :func:`prediction_key`-like knobs (λ, regularization, initial variance, horizons ...);
- the step after it (combination of the horizons, probability, Bollinger amplification)
  is cheap. A :class:`Recombiner` recomputes it from a stored run for any other value of
  those knobs (by default :data:`ENGINE_CORE_RECOMBINER`, engine_core's ``recombine``).
  With ``recombiner=None`` every distinct :func:`signal_key` is a full batch run.

engine_core's ``recombine`` plugs in as a :class:`Recombiner`: its ``key`` is
``EnsembleParams.prediction_key()``, ``run`` the whole engine_core run (forecasts,
confidences, readiness) and ``__call__`` the signals of ``params`` from it — the result
a full run would give, bit for bit.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

from common.config import OesConfig
from engine.market_grid import MinuteGrid
from engine.signals import (
    BatchSignals,
    batch_signals,
    ensemble_params,
    ensemble_run,
    recombined_signals,
)
from engine_core import BatchResult, EnsembleParams

log = logging.getLogger(__name__)

DEFAULT_CAPACITY = 16
"""Signal sets kept (12 symbols x 50 sessions: about 15 MB each)."""


def signal_key(oes: OesConfig | EnsembleParams) -> EnsembleParams:
    """What the signals of a config depend on (a hashable, frozen EnsembleParams)."""
    return ensemble_params(oes)


class Recombiner(Protocol):
    """The expensive EWRLS run once per :meth:`key`, the cheap step after it per parameter set."""

    def key(self, params: EnsembleParams) -> Hashable:
        """Two parameter sets with the same key have the same EWRLS forecasts."""
        ...

    def run(self, grid: MinuteGrid, params: EnsembleParams) -> Any:
        """The stored run (per-horizon forecasts and what the cheap step needs) of ``params``."""
        ...

    def __call__(self, base: Any, grid: MinuteGrid, params: EnsembleParams) -> BatchSignals:
        """The signals of ``params`` from ``base`` (a :meth:`run` with the same :meth:`key`),
        the very numbers a full batch run with ``params`` gives."""
        ...


class EngineCoreRecombiner:
    """engine_core's ``recombine`` as the :class:`Recombiner`: the EWRLS once per
    ``EnsembleParams.prediction_key()`` (:func:`engine.signals.ensemble_run`), then the step
    after it (calibration, weights, probability, Bollinger) per signal set
    (:func:`engine.signals.recombined_signals`), bit for bit a full batch run's numbers."""

    def key(self, params: EnsembleParams) -> Hashable:
        return params.prediction_key()

    def run(self, grid: MinuteGrid, params: EnsembleParams) -> BatchResult:
        return ensemble_run(grid, params)

    def __call__(self, base: BatchResult, grid: MinuteGrid, params: EnsembleParams) -> BatchSignals:
        return recombined_signals(grid, params, base)


ENGINE_CORE_RECOMBINER = EngineCoreRecombiner()


@dataclass
class CacheStats:
    requests: int = 0
    hits: int = 0
    computed: int = 0
    """Full engine_core runs (the EWRLS)."""
    recombined: int = 0
    """Signal sets made by the cheap step from a stored run."""


class SignalCache:
    """Signals of one grid, by :func:`signal_key`, least recently used dropped first."""

    def __init__(
        self,
        grid: MinuteGrid,
        *,
        capacity: int = DEFAULT_CAPACITY,
        compute: Callable[[MinuteGrid, EnsembleParams], BatchSignals] = batch_signals,
        recombiner: Recombiner | None = ENGINE_CORE_RECOMBINER,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity={capacity!r} must be >= 1")
        self.grid = grid
        self.capacity = capacity
        self.compute = compute
        self.recombiner = recombiner
        self.stats = CacheStats()
        self._signals: OrderedDict[EnsembleParams, BatchSignals] = OrderedDict()
        self._bases: OrderedDict[Hashable, Any] = OrderedDict()

    def __len__(self) -> int:
        return len(self._signals)

    @staticmethod
    def _put(store: OrderedDict, key: Hashable, value: Any, capacity: int) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > capacity:
            store.popitem(last=False)

    def get(self, oes: OesConfig | EnsembleParams) -> BatchSignals:
        """The signals of ``oes`` on the grid (computed once per :func:`signal_key`)."""
        key = signal_key(oes)
        self.stats.requests += 1
        got = self._signals.get(key)
        if got is not None:
            self.stats.hits += 1
            self._signals.move_to_end(key)
            return got
        if self.recombiner is None:
            got = self.compute(self.grid, key)
            self.stats.computed += 1
        else:
            bkey = self.recombiner.key(key)
            base = self._bases.get(bkey)
            if base is None:
                base = self.recombiner.run(self.grid, key)
                self.stats.computed += 1
                self._put(self._bases, bkey, base, self.capacity)
            else:
                self._bases.move_to_end(bkey)
            got = self.recombiner(base, self.grid, key)
            self.stats.recombined += 1
        self._put(self._signals, key, got, self.capacity)
        return got


__all__ = ["ENGINE_CORE_RECOMBINER", "CacheStats", "EngineCoreRecombiner", "Recombiner", "SignalCache", "signal_key"]

"""The parameter spaces of the two phases, per strategy, as data.

Each phase is a table of rows: the Optuna name, the config key it sets (``section.knob``,
the dotted keys of ``best_params.json``), its range and step (:class:`Dim`) or its few
values (:class:`Levels`), and optionally a condition on the config the phase starts from
(a Bollinger knob is only searched when the amplification is on: otherwise it would
change nothing). A :class:`Simplex` row samples all weights of ``oes_config.horizon_weights``
but the last, which is what is left to 1 and must fall within its own range. :class:`Gap`
rows are constraints between two sampled values (buy above sell by at least 0.01).

The phases are grouped by what they cost (:mod:`optimize.signal_cache`):

- **phase 1** searches the knobs that shape the EWRLS forecasts (λ, regularization), each
  at a handful of levels so that TPE revisits them and the cache serves a revisited pair
  without a new run, and the decision thresholds and Bollinger amplification, which cost
  no EWRLS run;
- **phase 2** searches only knobs that leave the forecasts as they are (``Phase(...,
  same_forecasts=True)`` refuses any of ``EnsembleParams.prediction_key()``'s fields): every
  one of its trials is the cache's cheap recombination of the one EWRLS run of phase 1's
  best.

Every range contains the shipped defaults (issue 10, ``common.config.OesConfig``) on its
grid, so a phase can keep them; :meth:`Phase.start_values` is the phase's start as a trial,
which the study runs first (:mod:`optimize.study`), so TPE knows from its first trial what
it has to beat. Where the tables depart from strategy-reference.md ("Optimization"):

- ``ewrls_lambda`` at 4 levels 0.999-1 instead of 0.985-0.999: memories of 70-500 bars fit
  noise with 47 features (issue 10: the 5-bar forecast's IC about 0 at 0.98, 0.05-0.10 at
  0.9999; 0.9995 already scores less).
- ``regularization`` moved to phase 1 and to 1-30 instead of 0-0.10: it changes the EWRLS
  forecasts (in phase 2 each trial was a new run), and the ridge is per sample on
  unit-variance features, so 0.1 is almost none (issue 10 chose 10; 1-30 score alike).
- horizon weights h1 0-0.4, h5 0.4-1, h10 0-0.4 instead of 0.1-0.6 / 0.2-0.7 / 0.05-0.6: the
  default (0, 1, 0) holds for the 5 bars the strategies hold and the cost gate prices;
  the 1-bar return never pays a round trip and the 10-bar model forecasts worse (issue 10).
- new in phase 2: ``probability_scale`` (1,000-4,000, log: with calibrated forecasts of a
  few bp it sets which forecast crosses the thresholds and PSM's ladder), ``calibration_z``
  (0-1: how much demonstrated skill a horizon needs), ``calibration_lambda`` (the
  calibration's memory, 3 levels) and ``entry_cost_margin`` (0.5-2: how far an entry's
  expected return must beat its round trip). Ranges from ``python -m bench.edge compare``
  on seeds 400-405 (PSM, signal 0.2, paired against the defaults): z 0 +0.25 %/day (t 2.0),
  calibration_lambda 0.999 +0.10 (t 1.4), margin 0.7 +0.07, scale 1,000 +0.03 and 4,000
  0.00 (t < 1); without the signal PSM trades none of them; rotation (seeds 400-403) was
  within noise of its defaults with the signal (|t| < 1) and lost 0.05-0.07 %/day without
  it at z 0, calibration_lambda 0.999 or margin 0.7.
- ``buy_threshold`` up to 0.80 instead of 0.65: at ``probability_scale`` 2,000 the cost gate
  already asks p of about 0.75 of a rotation entry, so a threshold below it decided nothing.
- ``bb_amplification`` at 4 levels from 0 (the default, off) instead of 0-0.20: a point at
  0 lets TPE keep it off, and the Bollinger rows of phase 2 are then not searched.
- the strategies' own knobs (rotation's strengths and holds, PSM's ladder) are not searched:
  issue 10 found each within noise of its default on 20 seeds (``RotationManagerConfig``,
  ``PsmSection``).

A trial's parameters become a strategy config through :func:`common.config.config_with_params`,
the same overlay the engine applies to ``best_params.json``.

To add a knob: add a row to the phase's table (a test checks that every row changes what
the strategy does, that the defaults lie in it, and that phase 2 keeps the forecasts).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from common.config import StrategyConfig
from engine_core.params import PREDICTION_FIELDS

ON_GRID_TOL = 1e-9


class Trial(Protocol):
    """What a space needs of an Optuna trial."""

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float: ...  # fmt: skip

    def suggest_int(self, name: str, low: int, high: int) -> int: ...

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any: ...


class Infeasible(ValueError):
    """A sampled combination breaks a constraint of the space (the trial is pruned)."""


def _get(cfg: StrategyConfig, key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _on_grid(v: float, low: float, high: float, step: float | None) -> bool:
    if not low - ON_GRID_TOL <= v <= high + ON_GRID_TOL:
        return False
    if step is None:
        return True
    k = (v - low) / step
    return abs(k - round(k)) < 1e-6


@dataclass(frozen=True)
class When:
    """A condition on the config a phase starts from: ``key op value``."""

    key: str
    op: str  # ">" or "!="
    value: float

    def holds(self, cfg: StrategyConfig) -> bool:
        v = float(_get(cfg, self.key))
        if self.op == ">":
            return v > self.value
        if self.op == "!=":
            return v != self.value
        raise ValueError(f"unknown operator {self.op!r} in a space condition")

    def __str__(self) -> str:
        return f"{self.key} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Dim:
    """One sampled knob over a range (``step``: a grid; ``log``: sampled on a log scale)."""

    name: str
    key: str
    low: float
    high: float
    step: float | None = None
    integer: bool = False
    log: bool = False
    when: When | None = None

    def __post_init__(self) -> None:
        if self.log and self.step is not None:
            raise ValueError(f"{self.key}: a log-scale range has no step")

    def sample(self, trial: Trial) -> float | int:
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high))
        if self.log:
            return trial.suggest_float(self.name, self.low, self.high, log=True)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step)

    def config_keys(self) -> tuple[str, ...]:
        return (self.key,)

    def contains(self, value: Any) -> bool:
        """``value`` is one this row can sample (within the range, on its grid; None never is)."""
        if not _is_number(value):
            return False
        return _on_grid(float(value), self.low, self.high, 1 if self.integer else self.step)

    def values_of(self, cfg: StrategyConfig) -> dict[str, Any]:
        """The trial parameters that give ``cfg``'s value of this row."""
        return {self.name: _get(cfg, self.key)}


@dataclass(frozen=True)
class Levels:
    """One knob sampled among a few values (TPE revisits them; the signal cache hits)."""

    name: str
    key: str
    values: tuple[float, ...]
    when: When | None = None

    def __post_init__(self) -> None:
        if len(self.values) < 2 or list(self.values) != sorted(set(self.values)):
            raise ValueError(f"{self.key}: levels {list(self.values)} must be 2 or more, increasing")

    def sample(self, trial: Trial) -> float:
        return trial.suggest_categorical(self.name, self.values)

    def config_keys(self) -> tuple[str, ...]:
        return (self.key,)

    def contains(self, value: Any) -> bool:
        if not _is_number(value):
            return False
        return any(abs(float(value) - v) <= ON_GRID_TOL * max(1.0, abs(v)) for v in self.values)

    def values_of(self, cfg: StrategyConfig) -> dict[str, Any]:
        v = float(_get(cfg, self.key))
        return {self.name: min(self.values, key=lambda x: abs(x - v))}


@dataclass(frozen=True)
class Simplex:
    """Weights summing to 1: all but the last sampled, the last is the rest."""

    names: tuple[str, ...]
    key: str
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    """One range per weight, the last one's included (it is checked, not sampled)."""
    step: float | None = None
    when: When | None = None

    def __post_init__(self) -> None:
        if not (len(self.names) + 1 == len(self.lows) == len(self.highs)):
            raise ValueError(f"{self.key}: {len(self.names)} sampled weights need "
                             f"{len(self.names) + 1} ranges")  # fmt: skip

    def sample(self, trial: Trial) -> list[float]:
        ws = [
            trial.suggest_float(n, lo, hi, step=self.step)
            for n, lo, hi in zip(self.names, self.lows, self.highs, strict=False)
        ]
        last = round(1.0 - sum(ws), 10)
        if not self.lows[-1] - 1e-12 <= last <= self.highs[-1] + 1e-12:
            raise Infeasible(
                f"{self.key}: the last weight 1 - {' - '.join(f'{w:g}' for w in ws)} = {last:g} "
                f"is outside {self.lows[-1]:g}..{self.highs[-1]:g}"
            )
        return [*ws, last]

    def config_keys(self) -> tuple[str, ...]:
        return (self.key,)

    def contains(self, value: Any) -> bool:
        ws = [float(w) for w in value]
        if len(ws) != len(self.lows) or abs(sum(ws) - 1.0) > 1e-9:
            return False
        sampled = all(_on_grid(w, lo, hi, self.step)
                      for w, lo, hi in zip(ws, self.lows, self.highs, strict=False))  # fmt: skip
        return sampled and self.lows[-1] - 1e-12 <= ws[-1] <= self.highs[-1] + 1e-12

    def values_of(self, cfg: StrategyConfig) -> dict[str, Any]:
        ws = _get(cfg, self.key)
        return dict(zip(self.names, (float(w) for w in ws), strict=False))


@dataclass(frozen=True)
class Gap:
    """``high_key`` must exceed ``low_key`` by at least ``min_gap``."""

    high_key: str
    low_key: str
    min_gap: float

    def check(self, params: Mapping[str, Any], cfg: StrategyConfig) -> None:
        hi = params.get(self.high_key, _get(cfg, self.high_key))
        lo = params.get(self.low_key, _get(cfg, self.low_key))
        if hi - lo < self.min_gap - 1e-12:
            raise Infeasible(f"{self.high_key}={hi:g} is not above {self.low_key}={lo:g} by "
                             f"{self.min_gap:g}")  # fmt: skip


Row = Dim | Levels | Simplex

FORECAST_KEYS = frozenset(f"oes_config.{f}" for f in PREDICTION_FIELDS)
"""The config keys the EWRLS forecasts depend on (``EnsembleParams.prediction_key()``)."""


@dataclass(frozen=True)
class Phase:
    """One phase's table: rows sampled in order, then the constraints checked.

    ``same_forecasts``: no row may set a key of :data:`FORECAST_KEYS`, so every trial of
    the phase reuses the EWRLS run of the config it starts from.
    """

    name: str
    rows: tuple[Row, ...]
    gaps: tuple[Gap, ...] = ()
    same_forecasts: bool = False

    def __post_init__(self) -> None:
        if self.same_forecasts:
            bad = sorted(k for r in self.rows for k in r.config_keys() if k in FORECAST_KEYS)
            if bad:
                raise ValueError(f"{self.name}: {', '.join(bad)} change the EWRLS forecasts; "
                                 "this phase must leave them as they are")  # fmt: skip

    def active(self, start: StrategyConfig) -> tuple[Row, ...]:
        """The rows searched from ``start`` (the config the phase starts from)."""
        return tuple(r for r in self.rows if r.when is None or r.when.holds(start))

    def skipped(self, start: StrategyConfig) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.when is not None and not r.when.holds(start))

    def sample(self, trial: Trial, start: StrategyConfig) -> dict[str, Any]:
        """The dotted-key parameters of one trial (:class:`Infeasible` if a constraint fails)."""
        params: dict[str, Any] = {}
        for r in self.active(start):
            value = r.sample(trial)
            params[r.key] = value
        for g in self.gaps:
            g.check(params, start)
        return rounded(params)

    def start_values(self, start: StrategyConfig) -> dict[str, Any]:
        """``start`` as this phase's trial parameters (for ``study.enqueue_trial``): the active
        rows whose value ``start`` holds within their range (a row outside is left to the
        sampler)."""
        out: dict[str, Any] = {}
        for r in self.active(start):
            if r.contains(_get(start, r.key)):
                out.update(r.values_of(start))
        return out

    def config_keys(self) -> tuple[str, ...]:
        return tuple(k for r in self.rows for k in r.config_keys())


BB_ON = When("oes_config.bb_amplification", ">", 0.0)

SIGNAL_PHASE1 = Phase(
    "phase 1: EWRLS lambda and regularization, thresholds, Bollinger amplification",
    (
        Levels("ewrls_lambda", "oes_config.ewrls_lambda", (0.999, 0.9995, 0.9999, 1.0)),
        Levels("regularization", "oes_config.regularization", (1.0, 3.0, 10.0, 30.0)),
        Dim("buy_threshold", "oes_config.buy_threshold", 0.50, 0.80, step=0.01),
        Dim("sell_threshold", "oes_config.sell_threshold", 0.35, 0.50, step=0.01),
        Levels("bb_amplification", "oes_config.bb_amplification", (0.0, 0.05, 0.10, 0.20)),
    ),
    (Gap("oes_config.buy_threshold", "oes_config.sell_threshold", 0.01),),
)

SIGNAL_PHASE2 = Phase(
    "phase 2: horizon weights, probability, calibration, cost margin, Bollinger band",
    (
        Simplex(("w_h1", "w_h5"), "oes_config.horizon_weights", (0.0, 0.40, 0.0),
                (0.40, 1.0, 0.40), step=0.05),  # fmt: skip
        Dim("probability_scale", "oes_config.probability_scale", 1000.0, 4000.0, log=True),
        Dim("calibration_z", "oes_config.calibration_z", 0.0, 1.0, step=0.1),
        Levels("calibration_lambda", "oes_config.calibration_lambda", (0.999, 0.9995, 0.9998)),
        Dim("entry_cost_margin", "oes_config.entry_cost_margin", 0.5, 2.0, step=0.1),
        Dim("bb_period", "oes_config.bb_period", 5, 40, integer=True, when=BB_ON),
        Dim("bb_std", "oes_config.bb_std", 1.0, 3.0, step=0.05, when=BB_ON),
        Dim("bb_proximity", "oes_config.bb_proximity", 0.10, 0.50, step=0.01, when=BB_ON),
    ),
    same_forecasts=True,
)

SPACES: dict[str, tuple[Phase, Phase]] = {
    "rotation": (SIGNAL_PHASE1, SIGNAL_PHASE2),
    "psm": (SIGNAL_PHASE1, SIGNAL_PHASE2),
}
"""Per strategy, its two phases (module docstring)."""


def phases(strategy: str) -> tuple[Phase, Phase]:
    try:
        return SPACES[strategy]
    except KeyError:
        raise ValueError(f"no parameter space for strategy {strategy!r}") from None


def check_horizons(cfg: StrategyConfig, phase: Phase) -> None:
    """A Simplex row needs as many horizons as it has weights."""
    n = len(cfg.oes_config.horizons)
    for r in phase.rows:
        if isinstance(r, Simplex) and len(r.names) + 1 != n:
            raise ValueError(
                f"{r.key}: the space has {len(r.names) + 1} weights but "
                f"oes_config.horizons has {n} ({list(cfg.oes_config.horizons)})"
            )


def rounded(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters with floats rounded to 10 digits (sums of steps drift in the last bits)."""

    def r(v: Any) -> Any:
        if isinstance(v, float) and math.isfinite(v):
            return round(v, 10)
        if isinstance(v, list):
            return [r(x) for x in v]
        return v

    return {k: r(v) for k, v in params.items()}


__all__ = [
    "BB_ON",
    "FORECAST_KEYS",
    "SPACES",
    "Dim",
    "Gap",
    "Infeasible",
    "Levels",
    "Phase",
    "Simplex",
    "When",
    "check_horizons",
    "phases",
    "rounded",
]

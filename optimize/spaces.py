"""The parameter spaces of the two phases, per strategy, as data (strategy-reference.md).

Each phase is a table of :class:`Dim` rows: the Optuna name, the config key it sets
(``section.knob``, the dotted keys of ``best_params.json``), its range and step, and
optionally a condition on the config the phase starts from (a Bollinger knob is only
searched when the amplification is on: otherwise it would change nothing). A
:class:`Simplex` row samples all weights of ``oes_config.horizon_weights`` but the last,
which is what is left to 1 and must fall within its own range. :class:`Gap` rows are
constraints between two sampled values (buy above sell by at least 0.01).

A trial's parameters become a strategy config through :func:`common.config.config_with_params`,
the same overlay the engine applies to ``best_params.json``.

To add a knob: add a row to the phase's table (a test checks that every row changes what
the strategy does).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from common.config import StrategyConfig


class Trial(Protocol):
    """What a space needs of an Optuna trial."""

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None) -> float: ...

    def suggest_int(self, name: str, low: int, high: int) -> int: ...


class Infeasible(ValueError):
    """A sampled combination breaks a constraint of the space (the trial is pruned)."""


def _get(cfg: StrategyConfig, key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        node = getattr(node, part)
    return node


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
    """One sampled knob."""

    name: str
    key: str
    low: float
    high: float
    step: float | None = None
    integer: bool = False
    when: When | None = None

    def sample(self, trial: Trial) -> float | int:
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high))
        return trial.suggest_float(self.name, self.low, self.high, step=self.step)

    def config_keys(self) -> tuple[str, ...]:
        return (self.key,)


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


Row = Dim | Simplex


@dataclass(frozen=True)
class Phase:
    """One phase's table: rows sampled in order, then the constraints checked."""

    name: str
    rows: tuple[Row, ...]
    gaps: tuple[Gap, ...] = ()

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

    def config_keys(self) -> tuple[str, ...]:
        return tuple(k for r in self.rows for k in r.config_keys())


BB_ON = When("oes_config.bb_amplification", ">", 0.0)

SIGNAL_PHASE1 = Phase(
    "phase 1: thresholds, lambda, Bollinger amplification",
    (
        Dim("buy_threshold", "oes_config.buy_threshold", 0.50, 0.65, step=0.001),
        Dim("sell_threshold", "oes_config.sell_threshold", 0.35, 0.50, step=0.001),
        Dim("ewrls_lambda", "oes_config.ewrls_lambda", 0.985, 0.999, step=0.0005),
        Dim("bb_amplification", "oes_config.bb_amplification", 0.0, 0.20, step=0.005),
    ),
    (Gap("oes_config.buy_threshold", "oes_config.sell_threshold", 0.01),),
)

SIGNAL_PHASE2 = Phase(
    "phase 2: horizon weights, Bollinger band, regularization",
    (
        Simplex(("w_h1", "w_h5"), "oes_config.horizon_weights", (0.10, 0.20, 0.05),
                (0.60, 0.70, 0.60), step=0.01),  # fmt: skip
        Dim("bb_period", "oes_config.bb_period", 5, 40, integer=True, when=BB_ON),
        Dim("bb_std", "oes_config.bb_std", 1.0, 3.0, step=0.05, when=BB_ON),
        Dim("bb_proximity", "oes_config.bb_proximity", 0.10, 0.50, step=0.01, when=BB_ON),
        Dim("regularization", "oes_config.regularization", 0.0, 0.10, step=0.005),
    ),
)

SPACES: dict[str, tuple[Phase, Phase]] = {
    "rotation": (SIGNAL_PHASE1, SIGNAL_PHASE2),
    "psm": (SIGNAL_PHASE1, SIGNAL_PHASE2),
}
"""Per strategy, its two phases (strategy-reference.md, "Optimization")."""


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
    "SPACES",
    "Dim",
    "Gap",
    "Infeasible",
    "Phase",
    "Simplex",
    "When",
    "check_horizons",
    "phases",
    "rounded",
]

"""The interface every strategy implements: one decision per minute, JSON-serializable state,
and taking over what the broker holds.

A strategy is fed one :class:`MinuteInput` per session minute (built from the calendar
by :func:`engine.strategies.session_minute.minute_input`, so end of day and the no-entry
window never depend on process memory) and answers a :class:`Decision`: the target
quantity of every symbol it trades (whole shares, >= 0) with a reason per symbol.
Its state (book, hold clocks, cooldowns, smoothing) is a plain JSON dict, so the journal
and ``state.json`` can store it and a relaunched engine can restore it.

Start-up (``engine.reconcile``, ``engine.startup``) uses only this interface, never a
concrete strategy: :meth:`Strategy.recognize` says whether the broker's long holdings are
one of the strategy's states, :meth:`Strategy.take_over` makes them its state (restoring
the journal's state where it agrees with the broker), :meth:`Strategy.merge_observed`
keeps what the warm-up observed today. A new strategy implements these and needs no
change outside ``engine/strategies/`` but its line in ``make_strategy``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, Literal, Self

from common.calendar import MINUTE_MS

STATE_VERSION = 1


class StateError(ValueError):
    """A saved strategy state that cannot be restored; the message names the bad field."""


@dataclass(frozen=True, slots=True)
class Signal:
    """One symbol's signal for one minute (engine_core's ensemble output).

    ``prob`` is the probability of an up move in [0.05, 0.95], ``confidence`` in (0, 1],
    ``rhat`` the combined predicted return, ``age_bars`` the minutes since the symbol's
    last real (not session-grid filled) bar: 0 when this minute had a trade.
    """

    prob: float
    confidence: float
    rhat: float = 0.0
    age_bars: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.prob) and 0.0 <= self.prob <= 1.0):
            raise ValueError(f"Signal prob={self.prob!r} is not within 0..1")
        if not (math.isfinite(self.confidence) and 0.0 <= self.confidence <= 1.0):
            raise ValueError(f"Signal confidence={self.confidence!r} is not within 0..1")
        if not math.isfinite(self.rhat):
            raise ValueError(f"Signal rhat={self.rhat!r} is not finite")
        if self.age_bars < 0:
            raise ValueError(f"Signal age_bars={self.age_bars!r} is negative")


@dataclass(frozen=True, slots=True)
class Holding:
    """A position as the broker reports it: signed whole-share quantity and average entry price."""

    qty: int
    entry_price: float


@dataclass(frozen=True, slots=True)
class MinuteInput:
    """Everything a strategy may look at for one session minute.

    ``t_ms`` is the minute's bar start; ``minute_index`` 0 is the open minute;
    ``minutes_to_close`` counts from this bar's start to the close (1 for the last bar).
    ``prices`` are the minute's closes (only real prices: a symbol without one is absent),
    ``positions`` the broker's holdings, ``equity`` the account equity.
    ``round_trip_costs`` is each symbol's estimated cost of a round trip (buy then sell, as
    a fraction of the price: ``ledger.costs.CostModel.round_trip_cost``), what an entry's
    expected return must beat (``oes_config.entry_cost_margin``); the engine and the
    backtest always give it (a symbol missing from it is not entered). None means costs
    are not modelled (unit tests of a strategy's mechanics): no cost gate.
    """

    t_ms: int
    session_date: date
    minute_index: int
    minutes_to_close: int
    prices: Mapping[str, float]
    signals: Mapping[str, Signal]
    positions: Mapping[str, Holding]
    equity: float
    entries_allowed: bool
    is_eod: bool
    round_trip_costs: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        if self.t_ms % MINUTE_MS:
            raise ValueError(f"MinuteInput t_ms={self.t_ms} is not a minute start")
        for sym, c in (self.round_trip_costs or {}).items():
            if not (isinstance(c, int | float) and math.isfinite(c) and c >= 0):
                raise ValueError(f"MinuteInput round trip cost of {sym}={c!r} is not a number >= 0")
        if not math.isfinite(self.equity):
            raise ValueError(f"MinuteInput equity={self.equity!r} is not finite")
        for sym, p in self.prices.items():
            if not (isinstance(p, int | float) and math.isfinite(p) and p > 0):
                raise ValueError(
                    f"MinuteInput price of {sym}={p!r} is not a positive finite number"
                )

    def price(self, symbol: str) -> float | None:
        return self.prices.get(symbol)


@dataclass(frozen=True)
class Decision:
    """A strategy's answer for one minute: target shares per symbol and why."""

    t_ms: int
    targets: Mapping[str, int]
    reasons: Mapping[str, str]
    summary: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for sym, q in self.targets.items():
            if not isinstance(q, int) or q < 0:
                raise ValueError(
                    f"Decision target of {sym}={q!r} is not a whole non-negative number"
                )

    def to_json(self) -> dict[str, Any]:
        return {
            "t_ms": self.t_ms,
            "targets": dict(self.targets),
            "reasons": dict(self.reasons),
            "summary": self.summary,
            "details": dict(self.details),
        }


@dataclass(frozen=True, slots=True)
class BrokerHoldings:
    """What the broker holds, as reconciliation hands it to :meth:`Strategy.take_over`.

    ``longs`` are long holdings in the strategy's symbols (positions plus the unfilled part
    of adopted open orders, whole shares > 0); ``kept`` the holdings in its symbols that its
    book cannot hold (shorts, fractional quantities; signed), which it keeps aside as they
    are (:class:`engine.strategies.takeover.Kept`); ``entry_prices`` the broker's average
    entry price per symbol; ``prices`` the last closes; ``t_ms`` the minute the hold clocks
    of holdings the journal does not explain start from.
    """

    longs: Mapping[str, float]
    entry_prices: Mapping[str, float]
    prices: Mapping[str, float]
    equity: float
    t_ms: int
    session_date: date
    kept: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Recognition:
    """Whether long holdings are one of a strategy's states: ``state`` names it (None when
    they are none), ``why`` says how they were read, or why they fit no state."""

    state: str | None
    why: str

    @property
    def fits(self) -> bool:
        return self.state is not None


@dataclass(frozen=True, slots=True)
class Takeover:
    """What :meth:`Strategy.take_over` made of the broker's holdings.

    ``journal`` is ``"restored"`` (the journal's state agrees with the broker and was
    kept), ``"partly restored"``, ``"reset"`` (it disagrees: hold clocks start now) or
    ``"none"`` (no journal state for this session); ``details`` are log lines.
    """

    state_name: str
    journal: Literal["restored", "partly restored", "reset", "none"]
    details: tuple[str, ...] = ()


class Strategy(ABC):
    """Base of the PSM and rotation strategies.

    Every strategy is built from its validated config alone (``type(s)(s.config)`` is a
    new one: :meth:`fresh`) and keeps, in its state, the session it trades
    (``session_date``) and the last minute it decided (``last_t_ms``).
    """

    name: ClassVar[str]
    flat_state_name: ClassVar[str]
    """The name of the state with nothing held (what a fresh strategy is in)."""
    symbols: tuple[str, ...]
    config: Any  # the strategy's validated config (common.config)
    session_date: date | None
    last_t_ms: int | None

    @abstractmethod
    def __init__(self, config: Any) -> None: ...

    # ------------------------------------------------------------------ deciding

    @abstractmethod
    def decide(self, m: MinuteInput) -> Decision:
        """Advance one minute and return the targets; raises ValueError for a minute already decided."""

    def observe(self, t_ms: int, signals: Mapping[str, Signal]) -> None:  # noqa: B027
        """Take a minute's signals without deciding (warm-up replay of today's bars)."""

    @property
    def last_decided_t(self) -> int | None:
        """The bar start of the last minute decided (None before the first); a minute at or
        before it is only observed, never decided again."""
        return self.last_t_ms

    @abstractmethod
    def targets(self) -> dict[str, int]:
        """The current target quantities: every symbol, 0 when not held, except holdings
        kept aside at takeover (left out: no order touches them until an exit)."""

    @property
    @abstractmethod
    def state_name(self) -> str:
        """The current state in a few words (the decision summary; ``flat_state_name`` when flat)."""

    # ------------------------------------------------------------------ state

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """The whole state as a JSON-ready dict."""

    @abstractmethod
    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore from :meth:`state_dict` output; StateError names what is wrong."""

    @abstractmethod
    def reset(self, session_date: date | None = None) -> None:
        """Forget everything: flat book, no hold clocks, for ``session_date``."""

    def fresh(self) -> Self:
        """A new strategy with the same config, in the flat state."""
        return type(self)(self.config)

    def restored(self, state: Mapping[str, Any]) -> Self:
        """A new strategy with the same config holding ``state`` (StateError if it cannot)."""
        other = self.fresh()
        other.load_state(state)
        return other

    def merge_observed(
        self, state: Mapping[str, Any], observed: Mapping[str, Any]
    ) -> dict[str, Any]:
        """``state`` (reconciled) with what the warm-up observed today (``observed``, this
        strategy's state after replaying today's minutes) where that is more complete. A
        strategy that keeps nothing from observed minutes returns ``state`` unchanged."""
        return dict(state)

    # ------------------------------------------------------------------ broker holdings

    @abstractmethod
    def recognize(self, longs: Mapping[str, float]) -> Recognition:
        """Whether long holdings (symbol → shares, all in :attr:`symbols`) are one of this
        strategy's states; no holdings at all are :attr:`flat_state_name`."""

    @abstractmethod
    def take_over(self, held: BrokerHoldings, journal: Self | None) -> Takeover:
        """Make ``held`` this strategy's state for ``held.session_date``, whatever it held.

        Holdings the strategy recognizes become that state; others (reconciliation policy
        ``adopt``) are kept as they are, and ``held.kept`` aside. Every holding keeps its
        quantity (the one takeover policy, :mod:`engine.strategies.takeover`: never
        resized, no order). ``journal`` is the journal's state of this session (None if
        there is none): where it agrees with the broker its hold clocks are kept, elsewhere
        they start at ``held.t_ms``.
        """


# ------------------------------------------------------------------ state helpers


def state_header(name: str, session_date: date | None, last_t_ms: int | None) -> dict[str, Any]:
    return {
        "strategy": name,
        "version": STATE_VERSION,
        "session_date": None if session_date is None else session_date.isoformat(),
        "last_t_ms": last_t_ms,
    }


def check_header(name: str, state: Mapping[str, Any]) -> tuple[date | None, int | None]:
    """Validate the common fields of a saved state; returns (session_date, last_t_ms)."""
    if not isinstance(state, Mapping):
        raise StateError(f"{name} state: expected an object, got {type(state).__name__}")
    if state.get("strategy") != name:
        raise StateError(f"{name} state: strategy={state.get('strategy')!r}, expected {name!r}")
    if state.get("version") != STATE_VERSION:
        raise StateError(
            f"{name} state: version={state.get('version')!r}, expected {STATE_VERSION}"
        )
    sd = state.get("session_date")
    try:
        session_date = None if sd is None else date.fromisoformat(sd)
    except (TypeError, ValueError):
        raise StateError(f"{name} state: session_date={sd!r} is not YYYY-MM-DD") from None
    last = state.get("last_t_ms")
    if last is not None and (
        not isinstance(last, int) or isinstance(last, bool) or last % MINUTE_MS
    ):
        raise StateError(f"{name} state: last_t_ms={last!r} is not a minute start in ms")
    return session_date, last


def state_int(name: str, where: str, value: Any, *, minimum: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise StateError(f"{name} state: {where}={value!r} is not an integer >= {minimum}")
    return value


def state_price(name: str, where: str, value: Any) -> float:
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise StateError(f"{name} state: {where}={value!r} is not a positive price")
    return float(value)


def state_float(name: str, where: str, value: Any) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise StateError(f"{name} state: {where}={value!r} is not a finite number")
    return float(value)

"""Taking over the broker's holdings: the one policy, and the small pieces strategies share.

The policy (design.md §6), in one place for every strategy's
:meth:`~engine.strategies.base.Strategy.take_over`:

- a holding the strategy can manage is kept exactly as it is: :func:`kept_quantity` is the
  broker's quantity (positions plus what adopted open orders still bring), never an
  allocation it is resized to. Takeover sends no order;
- the journal's state of the session is restored for a holding only where it agrees with
  the broker to the share (:func:`journal_agrees`); elsewhere the hold clock starts at the
  takeover minute (conservative: a minimum hold starts again) and the entry price is the
  broker's;
- a holding in the strategy's universe that its book cannot hold — a short in a long-only
  strategy, a fraction of a share — is *kept aside* (:class:`Kept`, reconciliation policy
  ``adopt``): never added to, left out of the strategy's targets (so no order touches it)
  until an exit closes it: the end of day, its stop loss or profit target on its own
  return (:meth:`Kept.exit_reason`), or — PSM — the next state transition. A short is then
  covered, a fraction sold.

Holdings outside the universe never reach a strategy: reconciliation leaves them alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from common.quantities import QTY_EPS


def whole(q: float) -> int:
    """Whole shares of a (possibly fractional) positive holding, rounded down."""
    return int(math.floor(q + 1e-6))


def usable(price: float | None) -> bool:
    """Whether ``price`` can value or size a position (a positive finite number)."""
    return price is not None and math.isfinite(price) and price > 0


def is_whole(q: float) -> bool:
    """Whether ``q`` shares are a whole number of shares."""
    return abs(q - round(q)) <= QTY_EPS


def kept_quantity(held: float) -> int:
    """The takeover policy: the quantity a manageable long holding of ``held`` shares keeps
    (itself; never resized to the strategy's allocation)."""
    return whole(held)


def journal_agrees(held: float, journal_qty: int) -> bool:
    """Whether the journal's quantity for a holding is what the broker holds (to the share)."""
    return abs(held - journal_qty) <= QTY_EPS


@dataclass(frozen=True, slots=True)
class Kept:
    """A holding in the universe taken over as it is but outside the strategy's book (a
    short, or a fractional quantity): signed shares and the broker's average entry price."""

    qty: float
    entry_price: float | None
    """None when the broker gave none and there was no price: no stop loss or profit target."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.qty) and abs(self.qty) > QTY_EPS):
            raise ValueError(f"kept qty={self.qty!r} is not a non-zero number of shares")
        if self.entry_price is not None and not usable(self.entry_price):
            raise ValueError(f"kept entry_price={self.entry_price!r} is not a positive price")

    @property
    def side(self) -> str:
        return "short" if self.qty < 0 else "long"

    def position_return(self, price: float) -> float | None:
        """The holding's return at ``price`` on its entry price (a short gains when it
        falls); None without an entry price."""
        if self.entry_price is None:
            return None
        move = price / self.entry_price - 1.0
        return move if self.qty > 0 else -move

    def exit_reason(self, price: float | None, profit_target: float, stop_loss: float) -> str | None:
        """Why the holding is closed at ``price`` (stop loss, profit target), or None."""
        if price is None or not usable(price):
            return None
        ret = self.position_return(price)
        if ret is None:
            return None
        if ret <= -stop_loss:
            return f"exit: stop loss {ret:+.4f} on the {self.side} kept at takeover"
        if ret >= profit_target:
            return f"exit: profit target {ret:+.4f} on the {self.side} kept at takeover"
        return None

    def to_json(self) -> dict[str, float | None]:
        return {"qty": self.qty, "entry_price": self.entry_price}


def kept_to_json(kept: Mapping[str, Kept]) -> dict[str, dict[str, float | None]]:
    return {s: k.to_json() for s, k in sorted(kept.items())}


def kept_from_json(
    name: str, raw: Any, symbols: tuple[str, ...], error: type[ValueError]
) -> dict[str, Kept]:
    """Holdings kept aside from a saved state's ``kept`` object; ``error`` (the strategies'
    StateError) names the bad field."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise error(f"{name} state: kept={raw!r} is not an object")
    out: dict[str, Kept] = {}
    for sym, k in raw.items():
        if sym not in symbols:
            raise error(f"{name} state: kept.{sym} is not one of the strategy's symbols")
        if not isinstance(k, Mapping):
            raise error(f"{name} state: kept.{sym}={k!r} is not an object")
        qty, entry = k.get("qty"), k.get("entry_price")
        numbers = (qty,) if entry is None else (qty, entry)
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in numbers):
            raise error(f"{name} state: kept.{sym}={dict(k)!r} needs a number qty and entry_price")
        try:
            out[sym] = Kept(float(qty), None if entry is None else float(entry))  # type: ignore[arg-type]
        except ValueError as e:
            raise error(f"{name} state: kept.{sym}: {e}") from None
    return out


def kept_from_broker(
    kept: Mapping[str, float], entry_prices: Mapping[str, float], prices: Mapping[str, float]
) -> tuple[dict[str, Kept], list[str]]:
    """The holdings reconciliation keeps aside, with the broker's entry price (else the last
    price; with neither, only the end of day closes it), and a log line each."""
    out: dict[str, Kept] = {}
    notes: list[str] = []
    for sym, q in sorted(kept.items()):
        px = next((x for x in (entry_prices.get(sym), prices.get(sym)) if usable(x)), None)
        out[sym] = Kept(q, px)
        closes = "at end of day" if px is None else "by its stop loss, profit target or at end of day"
        notes.append(
            f"{sym}: {q:g} kept as it is (a {'short' if q < 0 else 'fractional holding'}): "
            f"never added to, closed {closes}"
        )
    return out, notes


__all__ = [
    "Kept",
    "is_whole",
    "journal_agrees",
    "kept_from_broker",
    "kept_from_json",
    "kept_quantity",
    "kept_to_json",
    "usable",
    "whole",
]

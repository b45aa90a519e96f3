"""The half-spread a market order pays on one fill, from its symbol's liquidity and price.

With ``L`` the symbol's liquidity on the session (dollar volume per minute over the
sessions before, :mod:`ledger.liquidity`) and ``P`` the fill's reference price::

    h_bps       = at_reference_bps × sqrt(reference_dollar_volume / L), at most max_bps
                  (max_bps when L is unknown: no history is treated as the thinnest case)
    half-spread = max(HALF_TICK, P × h_bps / 10 000), rounded up to $0.0001

- Never below half a cent: US stocks above $1 quote in whole cents, so the narrowest
  spread is one cent and a taker pays at least half of it over the mid.
- The inverse square root of dollar volume is the usual cross-sectional shape of quoted
  spreads (thinner names quote wider, less than proportionally); ``max_bps`` bounds it for
  a symbol that barely trades.
- Calibration (defaults in ``common.config.CostsConfig``: 1 bp at $100,000 a minute, at most
  25 bp), on IEX-fed minute bars, which carry a few percent of the consolidated volume:
  SPY ($4-5M a minute) ≈ 0.15 bp; TQQQ/SQQQ/SPXL ($0.3-0.7M) 0.4-0.6 bp before the
  half-cent floor (0.8-1.7 bp at their prices); SSO/TNA/FAS ($30-55k) 1.4-1.8 bp; thin
  leveraged names, ERY/FAZ/TZA/SH/SVXY ($3-10k), 3-6 bp. Real spreads of the liquid names
  are at the one-cent floor; the thin ones quote 2-5 cents wide. With consolidated (SIP)
  volumes, raise ``reference_dollar_volume`` about 30-fold to keep the same spreads.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from ledger.money import BPS, PRICE_STEP

HALF_TICK = Decimal("0.005")
"""Half of the one-cent minimum quote increment: the least half-spread a taker pays."""


@dataclass(frozen=True, slots=True)
class SpreadModel:
    """Half-spread as a function of liquidity (see the module docstring for the formula)."""

    at_reference_bps: Decimal
    """Half-spread, in bp of the price, of a symbol trading ``reference_dollar_volume`` a minute."""
    reference_dollar_volume: Decimal
    """Dollar volume per minute at which the half-spread is ``at_reference_bps``."""
    max_bps: Decimal
    """Cap on the half-spread in bp (and its value when the liquidity is unknown)."""

    def __post_init__(self) -> None:
        for name in ("at_reference_bps", "reference_dollar_volume", "max_bps"):
            v = getattr(self, name)
            if not isinstance(v, Decimal) or not v.is_finite() or v < 0:
                raise ValueError(f"{name}={v!r} must be a finite Decimal >= 0")
        if self.reference_dollar_volume <= 0:
            raise ValueError(f"reference_dollar_volume={self.reference_dollar_volume} must be > 0")

    def half_spread_bps(self, minute_dollar_volume: Decimal | None) -> Decimal:
        """``h_bps`` for a symbol of this liquidity (the cap when it is unknown or zero)."""
        if minute_dollar_volume is None or minute_dollar_volume <= 0:
            return self.max_bps
        bps = self.at_reference_bps * (self.reference_dollar_volume / minute_dollar_volume).sqrt()
        return min(bps, self.max_bps)

    def half_spread(self, price: Decimal, minute_dollar_volume: Decimal | None) -> Decimal:
        """The half-spread in dollars per share at ``price``: never below :data:`HALF_TICK`."""
        if price <= 0:
            raise ValueError(f"price={price} must be > 0")
        h = price * self.half_spread_bps(minute_dollar_volume) / BPS
        return max(HALF_TICK, h).quantize(PRICE_STEP, rounding=ROUND_CEILING)


__all__ = ["HALF_TICK", "SpreadModel"]

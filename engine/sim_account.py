"""The backtest's paper account: the shared ledger (also mockmarket's), seen the way the engine sees a broker.

Cash and positions move through :class:`ledger.portfolio.Portfolio` (exact decimals:
trade values and fees in cents, weighted average entry prices), and the engine reads them
back in the form ``GET /v2/account`` and ``GET /v2/positions`` give it from mockmarket —
cash rounded to the cent, ``avg_entry_price`` to 6 decimals, equity as cash plus each
position at its mark rounded to the cent. So the numbers the strategy decides on in a
backtest are the numbers it gets in a mock replay.

Differences from the paper broker, by design: every order fills whole (no partial fills,
no rejections, no buying-power check — the strategies size within equity and the risk
caps); an order whose symbol has no price at all cannot fill and is reported unfilled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from engine.order_plan import PlannedOrder
from engine.sim_fills import GridPrices, fill_minute, fill_price
from engine.strategies import Holding
from ledger.money import cents, parse_decimal, price_of
from ledger.portfolio import Portfolio

ENTRY_STEP = Decimal("0.000001")  # mockmarket's avg_entry_price precision


@dataclass(frozen=True, slots=True)
class SimFill:
    """One execution of the backtest."""

    client_order_id: str
    symbol: str
    side: str
    qty: float
    price: float
    fee: float
    t_ms: int
    """The minute it filled in (the bar after the one it was decided on)."""
    decided_t_ms: int
    cash_delta: float
    position_after: float


class SimAccount:
    """Cash and positions of one backtest, with the shared fill rule and ledger (the same as mockmarket's)."""

    def __init__(
        self, cash: float, *, slippage_bps: float = 0.0, fee_per_share: float = 0.0
    ) -> None:
        self.portfolio = Portfolio(cents(parse_decimal(cash, "starting_cash")))
        self.slippage_bps = parse_decimal(slippage_bps, "slippage_bps")
        self.fee_per_share = parse_decimal(fee_per_share, "fee_per_share")
        if self.portfolio.cash <= 0 or self.slippage_bps < 0 or self.fee_per_share < 0:
            raise ValueError(
                f"cash={cash!r} must be > 0, slippage_bps={slippage_bps!r} and "
                f"fee_per_share={fee_per_share!r} >= 0"
            )

    # ------------------------------------------------------------------ the broker's view

    @property
    def cash(self) -> float:
        """Cash as ``GET /v2/account`` reports it (to the cent)."""
        return float(cents(self.portfolio.cash))

    def positions(self) -> dict[str, float]:
        """Signed share quantities by symbol (flat symbols absent)."""
        return {s: float(p.qty) for s, p in sorted(self.portfolio.positions.items())}

    def holdings(self) -> dict[str, Holding]:
        """Positions as the engine builds them from ``GET /v2/positions``."""
        return {
            s: Holding(int(round(float(p.qty))), float(p.avg_entry_price.quantize(ENTRY_STEP)))
            for s, p in sorted(self.portfolio.positions.items())
        }

    def equity(self, marks: Mapping[str, float]) -> float:
        """Cash plus each position at its mark (else its entry value), to the cent."""
        total = self.portfolio.cash
        for s, p in self.portfolio.positions.items():
            mark = marks.get(s)
            total += p.cost if mark is None else p.qty * price_of(mark)
        return float(cents(total))

    # ------------------------------------------------------------------ fills

    def execute(
        self, orders: Sequence[PlannedOrder], decided_t_ms: int, prices: GridPrices
    ) -> tuple[list[SimFill], list[PlannedOrder]]:
        """Fill ``orders`` decided on bar ``decided_t_ms`` at the next bar; (fills, unfilled)."""
        fills: list[SimFill] = []
        unfilled: list[PlannedOrder] = []
        at = fill_minute(decided_t_ms)
        for o in orders:
            price = fill_price(prices, o.symbol, o.side, decided_t_ms, self.slippage_bps)
            if price is None:
                unfilled.append(o)
                continue
            qty = parse_decimal(o.qty, f"qty of {o.client_order_id}")
            ex = self.portfolio.apply_fill(o.symbol, o.side, qty, price, self.fee_per_share, at)
            fills.append(
                SimFill(
                    o.client_order_id,
                    o.symbol,
                    o.side,
                    float(qty),
                    float(price),
                    float(ex.fee),
                    at,
                    int(decided_t_ms),
                    float(ex.cash_delta),
                    float(ex.position_qty),
                )
            )
        return fills, unfilled


__all__ = ["SimAccount", "SimFill"]

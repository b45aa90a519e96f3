"""The backtest's paper account: the shared ledger and cost model (also mockmarket's), seen the way the engine sees a broker.

Cash and positions move through :class:`ledger.portfolio.Portfolio` by
:func:`ledger.costs.book_fill` (exact decimals: trade values in cents, the half-spread and
slippage in the execution price, regulatory fees accrued per New York day and charged
rounded up to the cent, an optional commission), and the engine reads them back in the
form ``GET /v2/account`` and ``GET /v2/positions`` give it from mockmarket — cash rounded
to the cent, ``avg_entry_price`` to 6 decimals, equity as cash plus each position at its
mark rounded to the cent. So the numbers the strategy decides on in a backtest are the
numbers it gets in a mock replay.

Orders work as the paper broker works them (:mod:`engine.sim_fills`): :meth:`SimAccount.submit`
fills an order at once when its symbol has a bar in the minute it arrives, else the order
rests (:meth:`SimAccount.pending` counts it, as the live engine counts its open orders);
:meth:`SimAccount.start_minute` fills the resting orders whose symbol trades in that minute
(in the order they were sent), :meth:`SimAccount.close_session` fills what is still working
at the session's last price, and :meth:`SimAccount.cancel` cancels working orders.

Differences from the paper broker, by design: every order fills whole (no partial fills,
no rejections, no buying-power check — the strategies size within equity and the risk
caps); an order whose symbol has no price at all cannot fill and is reported unfilled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from common.bars import MINUTE_MS
from engine.order_plan import PlannedOrder
from engine.sim_fills import SessionMarket
from engine.strategies import Holding
from ledger.costs import CostModel, FillCosts, book_fill
from ledger.fees import DailyFeeAccrual
from ledger.money import cents, parse_decimal, price_of
from ledger.no_bar_rule import GridFill
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
    """Cash taken for fees with this execution (whole cents: the commission and the
    regulatory fees that became due)."""
    t_ms: int
    """When it filled: the start of the minute whose open it took, or the session's close."""
    decided_t_ms: int
    cash_delta: float
    position_after: float
    costs: FillCosts | None = None
    """The execution's breakdown: reference price, half-spread, slippage, fees."""

    @property
    def traded_value(self) -> float:
        """``qty × price``: what changed hands."""
        return self.qty * self.price


@dataclass(slots=True, eq=False)
class WorkingOrder:
    """An order sent to the simulated broker and not filled yet."""

    order: PlannedOrder
    qty: Decimal
    decided_t_ms: int
    fill: GridFill
    """Where it will fill unless canceled first."""


class SimAccount:
    """Cash, positions and working orders of one backtest (the same ledger and costs as mockmarket's)."""

    def __init__(self, cash: float, costs: CostModel | None = None) -> None:
        self.portfolio = Portfolio(cents(parse_decimal(cash, "starting_cash")))
        if self.portfolio.cash <= 0:
            raise ValueError(f"cash={cash!r} must be > 0")
        self.costs = costs if costs is not None else CostModel.default()
        self.fee_accrual = DailyFeeAccrual()
        self.working: list[WorkingOrder] = []

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

    def pending(self) -> dict[str, float]:
        """Signed quantity working orders still have to fill, by symbol (buys +, sells −)."""
        out: dict[str, float] = {}
        for w in self.working:
            q = float(w.qty) if w.order.side == "buy" else -float(w.qty)
            out[w.order.symbol] = out.get(w.order.symbol, 0.0) + q
        return out

    # ------------------------------------------------------------------ orders

    def submit(
        self, orders: Sequence[PlannedOrder], decided_n: int, market: SessionMarket
    ) -> tuple[list[SimFill], list[PlannedOrder]]:
        """Send ``orders`` decided on grid minute ``decided_n``; they reach the broker in the
        next minute and fill at once if their symbol has a bar there, else rest.
        Returns (fills now, orders that can never fill)."""
        fills: list[SimFill] = []
        unfillable: list[PlannedOrder] = []
        arrival = decided_n + 1
        decided_t = market.minute_ms(arrival) - MINUTE_MS
        for o in orders:
            qty = parse_decimal(o.qty, f"qty of {o.client_order_id}")
            fill = market.fill_of(o.symbol, arrival)
            if fill is None:
                unfillable.append(o)
                continue
            w = WorkingOrder(o, qty, decided_t, fill)
            if fill.index == arrival and not fill.at_close:
                fills.append(self._book(w, market))
            else:
                self.working.append(w)
        return fills, unfillable

    def start_minute(self, n: int, market: SessionMarket) -> list[SimFill]:
        """Grid minute ``n`` begins: resting orders whose symbol trades in it fill at its open."""
        due = [w for w in self.working if w.fill.index == n and not w.fill.at_close]
        return self._fill_all(due, market)

    def close_session(self, market: SessionMarket) -> list[SimFill]:
        """The session closes: every order still working fills at the session's last price."""
        return self._fill_all(list(self.working), market)

    def cancel(self, symbol: str | None = None, side: str | None = None) -> list[str]:
        """Cancel working orders (of ``symbol``/``side`` if given); their client order ids."""
        gone = [
            w
            for w in self.working
            if (symbol is None or w.order.symbol == symbol)
            and (side is None or w.order.side == side)
        ]
        self.working = [w for w in self.working if w not in gone]
        return [w.order.client_order_id for w in gone]

    # ------------------------------------------------------------------ booking

    def _fill_all(self, due: list[WorkingOrder], market: SessionMarket) -> list[SimFill]:
        if not due:
            return []
        self.working = [w for w in self.working if w not in due]
        return [self._book(w, market) for w in due]

    def _book(self, w: WorkingOrder, market: SessionMarket) -> SimFill:
        o = w.order
        at = market.fill_ms(w.fill)
        quote = market.quote(o.symbol, o.side, w.fill.reference)
        ex, costs = book_fill(
            self.portfolio,
            self.fee_accrual,
            self.costs,
            symbol=o.symbol,
            side=o.side,
            qty=w.qty,
            quote=quote,
            price=quote.price,
            day=market.day,
            now_ms=at,
        )
        return SimFill(
            o.client_order_id,
            o.symbol,
            o.side,
            float(w.qty),
            float(quote.price),
            float(ex.fee),
            at,
            w.decided_t_ms,
            float(ex.cash_delta),
            float(ex.position_qty),
            costs,
        )


__all__ = ["SimAccount", "SimFill", "WorkingOrder"]

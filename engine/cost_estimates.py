"""Each symbol's estimated round-trip cost on a session: what the strategies' entry gate
compares an expected return with (:mod:`engine.strategies.cost_gate`).

The estimate is the cost model's (:meth:`ledger.costs.CostModel.round_trip_cost`: both
half-spreads, both slippages, both fills' fees, as a fraction of the price) at the
symbol's liquidity on the session — its median dollar volume per minute over the
``costs.liquidity_sessions`` sessions before (:mod:`ledger.liquidity`), the figure the
broker's fills pay by — and at its last close before the session. It is fixed at the
open, reads nothing of the session itself, and is computed once per symbol and session.
A symbol without a bar in those sessions is priced as the broker prices unknown liquidity:
at the widest spread (:func:`unknown_liquidity_cost`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import numpy as np

from common.config import CostsConfig
from engine.market_grid import MinuteGrid
from ledger.costs import CostModel
from ledger.liquidity import liquidity, session_dollar_volume
from ledger.money import price_of


def round_trip_costs(
    costs: CostsConfig | CostModel,
    prices: Mapping[str, float],
    liquidities: Mapping[str, Decimal | None],
) -> dict[str, float]:
    """The round-trip cost (fraction of the price) of each symbol of ``prices``."""
    model = costs if isinstance(costs, CostModel) else CostModel.from_config(costs)
    return {
        s: float(model.round_trip_cost(price_of(p), liquidities.get(s)))
        for s, p in prices.items()
    }


def unknown_liquidity_cost(costs: CostsConfig | CostModel, price: float) -> float:
    """The round-trip cost of a symbol whose liquidity is unknown (the widest spread)."""
    return round_trip_costs(costs, {"?": price}, {})["?"]


def _check_session(grid: MinuteGrid, k: int) -> None:
    if not 0 <= k <= len(grid.sessions):
        raise IndexError(
            f"session index {k} is neither one of the grid's {len(grid.sessions)} sessions nor "
            "the one after them"
        )


def grid_liquidity(grid: MinuteGrid, k: int, n: int) -> dict[str, Decimal | None]:
    """Each symbol's liquidity on the grid's session ``k`` (``len(grid.sessions)``: the session
    after the grid): over the (at most) ``n`` grid sessions before it
    (:func:`ledger.liquidity.liquidity`; None without any bar there)."""
    _check_session(grid, k)
    figures: dict[str, list[Decimal]] = {s: [] for s in grid.symbols}
    real = grid.real
    for j in range(max(0, k - n), k):
        r = grid.session_range(j)
        minutes = grid.sessions[j].n_minutes
        for i, sym in enumerate(grid.symbols):
            mask = real[i, r.start : r.stop]
            figures[sym].append(
                session_dollar_volume(
                    grid.close[i, r.start : r.stop][mask].tolist(),
                    grid.volume[i, r.start : r.stop][mask].tolist(),
                    minutes,
                )
            )
    return {s: liquidity(f) for s, f in figures.items()}


def session_round_trip_costs(grid: MinuteGrid, k: int, costs: CostsConfig) -> dict[str, float]:
    """Each symbol's round-trip cost on the grid's session ``k`` (``len(grid.sessions)``: the
    session after the grid), at its last close before the session (its first price in the
    session when it has none before)."""
    _check_session(grid, k)
    r = grid.session_range(k) if k < len(grid.sessions) else range(grid.n_minutes, grid.n_minutes)
    prices = grid.last_closes(r.start - 1) if r.start > 0 else {}
    for i, sym in enumerate(grid.symbols):
        if sym not in prices:
            seen = np.flatnonzero(grid.present[i, r.start : r.stop])
            if len(seen):
                prices[sym] = float(grid.close[i, r.start + int(seen[0])])
    return round_trip_costs(costs, prices, grid_liquidity(grid, k, costs.liquidity_sessions))


__all__ = [
    "grid_liquidity",
    "round_trip_costs",
    "session_round_trip_costs",
    "unknown_liquidity_cost",
]

"""Assets of the paper market: stable ids and the asset object of GET /v2/assets/{symbol}."""

from __future__ import annotations

import uuid

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "assets.mockmarket.local")
# Listing venues of the project's ETFs; anything else is shown as ARCA (most ETFs list there).
_EXCHANGES = {"TQQQ": "NASDAQ", "SQQQ": "NASDAQ", "UVXY": "BATS", "SVXY": "BATS"}


def asset_id(symbol: str) -> uuid.UUID:
    """The same UUID for a symbol in every run."""
    return uuid.uuid5(_NAMESPACE, symbol.upper())


def exchange(symbol: str) -> str:
    return _EXCHANGES.get(symbol.upper(), "ARCA")


def asset_json(symbol: str) -> dict:
    """A tradable, marginable, shortable, fractionable US equity."""
    return {
        "id": str(asset_id(symbol)),
        "class": "us_equity",
        "exchange": exchange(symbol),
        "symbol": symbol,
        "name": f"{symbol} (mockmarket)",
        "status": "active",
        "tradable": True,
        "marginable": True,
        "shortable": True,
        "easy_to_borrow": True,
        "fractionable": True,
        "maintenance_margin_requirement": 30,
        "attributes": [],
    }

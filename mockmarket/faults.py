"""Faults on demand (alpaca-protocol.md §7), set through the admin API.

Counters (``*_count``) are consumed one per event with :meth:`Faults.take`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass
class Faults:
    # market-data websocket
    connection_limit_seconds: float = 0.0
    """After a data-stream client disconnects, auths within this many simulated seconds get 406."""
    handshake_429_count: int = 0
    """The next N websocket handshakes are answered HTTP 429."""
    silent_count: int = 0
    """The next N data-stream connections go silent after subscribing: pings answered, no data."""
    silence_open: bool = False
    """Make every data-stream connection open now silent (until it is replaced)."""
    # trade-updates websocket
    drop_trade_streams: bool = False
    """Close every trade-updates connection open now (an action: it reads back false)."""
    trade_stream_refuse_seconds: float = 0.0
    """After ``drop_trade_streams``, trade-updates handshakes within this many simulated
    seconds are answered HTTP 503."""
    # REST
    rest_429_count: int = 0
    """The next N REST requests get 429 with rate-limit headers."""
    rest_5xx_count: int = 0
    """The next N REST requests get ``rest_5xx_status``."""
    rest_5xx_status: int = 503
    # orders
    reject_order_count: int = 0
    """The next N orders are accepted, then rejected (trade update 'rejected')."""
    lose_order_response_count: int = 0
    """The next N accepted orders lose their HTTP response (the connection is dropped)."""
    partial_fill_rate: float = 0.0
    """Probability (seeded) that an eligible fill is partial."""

    def take(self, name: str) -> bool:
        """Consume one count of fault ``name``; True if it fired."""
        n = getattr(self, name)
        if n > 0:
            setattr(self, name, n - 1)
            return True
        return False

    def update(self, values: dict) -> None:
        """Set fields from a JSON object; ValueError names an unknown field or bad value."""
        known = {f.name: f for f in fields(self)}
        for key, value in values.items():
            f = known.get(key)
            if f is None:
                raise ValueError(f"unknown fault {key!r}; known: {', '.join(sorted(known))}")
            typ = {"int": int, "float": float, "bool": bool}[str(f.type)]
            if typ is bool:
                if not isinstance(value, bool):
                    raise ValueError(f"fault {key!r} takes true or false, got {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"fault {key!r} takes a non-negative number, got {value!r}")
            setattr(self, key, typ(value))
        if not 0.0 <= self.partial_fill_rate <= 1.0:
            raise ValueError(f"fault 'partial_fill_rate' must be within [0, 1], got {self.partial_fill_rate}")

    def to_json(self) -> dict:
        return asdict(self)

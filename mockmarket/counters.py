"""Counters the admin API reports, so tests can see what the market saw."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class Counters:
    rest_requests: int = 0
    orders_submitted: int = 0
    orders_accepted: int = 0
    duplicates_rejected: int = 0
    orders_rejected: int = 0
    fills: int = 0
    data_connections_total: int = 0
    data_connections_open: int = 0
    data_auth_406: int = 0
    handshake_429: int = 0
    trade_connections_total: int = 0
    trade_connections_open: int = 0
    trade_connections_dropped: int = 0
    trade_handshakes_refused: int = 0
    bars_sent: int = 0

    def to_json(self) -> dict:
        return asdict(self)

"""The error a trading request ends in: HTTP status, Alpaca's numeric code and message."""

from __future__ import annotations

# Alpaca's codes for the trading errors the paper broker answers (alpaca-protocol.md §2).
INVALID_REQUEST = 40010000
INVALID_PARAMETER = 40010001
FORBIDDEN = 40310000
NOT_FOUND = 40410000
UNPROCESSABLE = 42210000


class TradingError(Exception):
    """A refused trading request; routes turn it into an Alpaca-shaped error response."""

    def __init__(self, status: int, message: str, code: int) -> None:
        super().__init__(f"HTTP {status} code={code} {message}")
        self.status = status
        self.message = message
        self.code = code


def invalid(message: str) -> TradingError:
    """422 for a parameter that fails validation (the message names it)."""
    return TradingError(422, message, INVALID_PARAMETER)


def bad_request(message: str) -> TradingError:
    return TradingError(400, message, INVALID_REQUEST)


def forbidden(message: str) -> TradingError:
    return TradingError(403, message, FORBIDDEN)


def not_found(message: str) -> TradingError:
    return TradingError(404, message, NOT_FOUND)


def unprocessable(message: str) -> TradingError:
    return TradingError(422, message, UNPROCESSABLE)

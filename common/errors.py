"""One exception tree, split by what the caller should do about it.

- :class:`TemporaryError`: retry with backoff (rate limits, 5xx, dropped connections).
- :class:`OperationalError`: stop and tell the operator (bad config, bad keys).
Alpaca's HTTP errors carry its status, numeric code and message.
"""

from __future__ import annotations


class TraderError(Exception):
    """Base of every error this project raises on purpose."""


class TemporaryError(TraderError):
    """Worth retrying after a pause."""


class OperationalError(TraderError):
    """Needs the operator: retrying will not help."""


class ConfigError(OperationalError):
    """A config file, key or environment variable is missing or invalid (the message names it)."""


class NetworkError(TemporaryError):
    """No answer: connection refused or reset, or a timeout."""


class ResponseFormatError(TemporaryError):
    """A success answer the client cannot read (not JSON, or a field missing or malformed)."""


class AlpacaAPIError(TraderError):
    """An error answer from Alpaca: HTTP status, Alpaca's numeric code and message."""

    def __init__(self, status: int, code: int | None, message: str, *, method: str = "", path: str = "") -> None:
        self.status = status
        self.code = code
        self.message = message
        self.method = method
        self.path = path
        where = f"{method} {path}: " if method else ""
        super().__init__(f"{where}HTTP {status} code={code} {message}")


class BadRequestError(AlpacaAPIError):
    """400: the request is malformed."""


class AuthError(AlpacaAPIError, OperationalError):
    """401: the keys were refused."""


class ForbiddenError(AlpacaAPIError):
    """403: e.g. insufficient buying power."""


class NotFoundError(AlpacaAPIError):
    """404: no such order or position."""


class UnprocessableError(AlpacaAPIError):
    """422: validation failed, or the order cannot be changed in its state."""


class DuplicateClientOrderIdError(UnprocessableError):
    """422 'client_order_id must be unique': the order already exists."""


class RateLimitError(AlpacaAPIError, TemporaryError):
    """429 after the client's retries ran out."""


class ServerError(AlpacaAPIError, TemporaryError):
    """5xx after the client's retries ran out."""


def error_for_status(status: int, code: int | None, message: str, *, method: str = "", path: str = "") -> AlpacaAPIError:
    """The typed error for an Alpaca error answer."""
    cls: type[AlpacaAPIError]
    if status == 400:
        cls = BadRequestError
    elif status == 401:
        cls = AuthError
    elif status == 403:
        cls = ForbiddenError
    elif status == 404:
        cls = NotFoundError
    elif status == 422:
        cls = DuplicateClientOrderIdError if "client_order_id must be unique" in message else UnprocessableError
    elif status == 429:
        cls = RateLimitError
    elif status >= 500:
        cls = ServerError
    else:
        cls = AlpacaAPIError
    return cls(status, code, message, method=method, path=path)

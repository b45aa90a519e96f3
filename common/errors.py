"""One exception tree, split by what the caller does about an error.

=====================  =====================================================================
category               what the caller does
=====================  =====================================================================
:class:`TemporaryError`    retry with backoff, or log and carry on to the next minute:
                       429, 5xx, no answer (network), an answer that cannot be read
:class:`OperationalError`  stop and tell the operator; retrying cannot help: bad config,
                       401 (keys refused), an unusable journal, an unsafe path
:class:`RefusedError`      the broker refused this one order or request (400, 403, 404,
                       422): log it (and journal it), carry on with everything else
=====================  =====================================================================

Alpaca's HTTP errors (:class:`AlpacaAPIError`) carry its status, numeric code and message
and always belong to exactly one category (:func:`error_for_status`). A 404 is a refusal,
but callers for which "not found" is an answer (a flat position, an order the broker never
received) catch :class:`NotFoundError` and treat it as that answer.

A catch clause names the category it handles, or one specific class it handles
differently; it never lists a class together with one of its subclasses.
"""

from __future__ import annotations


class TraderError(Exception):
    """Base of every error this project raises on purpose."""


class TemporaryError(TraderError):
    """Worth retrying after a pause."""


class OperationalError(TraderError):
    """Needs the operator: retrying will not help."""


class RefusedError(TraderError):
    """The broker refused one order or request; the rest of the work goes on."""


class ConfigError(OperationalError):
    """A config file, key or environment variable is missing or invalid (the message names it)."""


class NetworkError(TemporaryError):
    """No answer: connection refused or reset, or a timeout."""


class ResponseFormatError(TemporaryError):
    """A success answer the client cannot read (not JSON, or a field missing or malformed)."""


class AlpacaAPIError(TraderError):
    """An error answer from Alpaca: HTTP status, Alpaca's numeric code and message.

    Only its subclasses are raised; each is also one of the three categories above.
    """

    def __init__(
        self, status: int, code: int | None, message: str, *, method: str = "", path: str = ""
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.method = method
        self.path = path
        where = f"{method} {path}: " if method else ""
        super().__init__(f"{where}HTTP {status} code={code} {message}")


class BadRequestError(AlpacaAPIError, RefusedError):
    """400: the request is malformed."""


class AuthError(AlpacaAPIError, OperationalError):
    """401: the keys were refused."""


class ForbiddenError(AlpacaAPIError, RefusedError):
    """403: e.g. insufficient buying power."""


class NotFoundError(AlpacaAPIError, RefusedError):
    """404: no such order or position."""


class UnprocessableError(AlpacaAPIError, RefusedError):
    """422: validation failed, or the order cannot be changed in its state."""


class DuplicateClientOrderIdError(UnprocessableError):
    """422 'client_order_id must be unique': the order already exists."""


class ClientRequestError(AlpacaAPIError, RefusedError):
    """Another 4xx (402, 405, 409, ...): the broker refused the request."""


class RateLimitError(AlpacaAPIError, TemporaryError):
    """429 after the client's retries ran out."""


class ServerError(AlpacaAPIError, TemporaryError):
    """5xx after the client's retries ran out."""


class UnexpectedStatusError(AlpacaAPIError, OperationalError):
    """A status Alpaca does not answer with (a 3xx redirect, which is never followed because
    it would carry the keys elsewhere): the endpoint URL is wrong."""


def error_for_status(
    status: int, code: int | None, message: str, *, method: str = "", path: str = ""
) -> AlpacaAPIError:
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
        duplicate = "client_order_id must be unique" in message
        cls = DuplicateClientOrderIdError if duplicate else UnprocessableError
    elif status == 429:
        cls = RateLimitError
    elif 400 <= status < 500:
        cls = ClientRequestError
    elif status >= 500:
        cls = ServerError
    else:
        cls = UnexpectedStatusError
    return cls(status, code, message, method=method, path=path)

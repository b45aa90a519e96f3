"""The positions-versus-book check: the engine's two books against the broker's word.

Run by the engine off the critical path — after a minute's orders are sent, never before a
decision — after any fill, every few minutes, every minute while the trade-updates stream
is down, and after the stream comes back. Two books are checked against
``GET /v2/positions``:

- the journal's :class:`~engine.position_book.PositionBook` (the broker's positions at
  start-up plus every journaled fill of the engine's own orders): a difference means a
  fill the engine did not see, saw twice, or a trade it did not make;
- the :class:`~engine.broker_view.BrokerView` the decisions read (every order of the
  account, from the trade-updates stream and REST answers).

The account is read first, then the positions (two requests). The view does not move
while the check runs (the engine reads no event meanwhile), so when the positions read
second equal the view's, every fill up to that read is in the view and the cash read
before it belongs to exactly those fills: the view takes the broker's cash (fees
included) and average entry prices. When a book differs, a fill may be in flight:
``settle`` (poll the engine's open orders, apply the stream's waiting events) runs, both
are read again, and what still differs is repaired — the broker wins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from common.rest_models import Account, Position
from engine.execution import Executor
from engine.position_book import Mismatch, signed_positions


class BrokerReads(Protocol):
    """The two reads of :class:`common.rest.AlpacaRestClient` the check makes."""

    def get_account(self) -> Account: ...

    def get_positions(self) -> list[Position]: ...


@dataclass(frozen=True)
class CheckResult:
    """What one check found and repaired."""

    book_repaired: Sequence[Mismatch] = field(default_factory=tuple)
    """Where the journal's book differed from the broker (now the broker's)."""
    view_repaired: Sequence[Mismatch] = field(default_factory=tuple)
    """Where the broker view differed from the broker (now the broker's)."""


def check_with_broker(
    api: BrokerReads, executor: Executor, *, settle: Callable[[], None]
) -> CheckResult:
    """Compare both books with the broker; settle and compare again on a difference;
    repair what still differs (the broker wins). The view takes the broker's cash and
    entry prices whenever its positions agree."""
    view = executor.view
    account = api.get_account()
    positions = api.get_positions()
    broker = signed_positions(positions)
    book_diff = executor.book.diff(broker)
    view_diff = [] if view is None else view.diff(broker)
    if book_diff or view_diff:
        settle()
        account = api.get_account()
        positions = api.get_positions()
        broker = signed_positions(positions)
        book_diff = executor.book.diff(broker)
        view_diff = [] if view is None else view.diff(broker)
    if book_diff:
        executor.book.reset(broker)
    if view is not None:
        view.take_positions(positions)
        view.take_cash(account.cash)
    return CheckResult(tuple(book_diff), tuple(view_diff))


__all__ = ["BrokerReads", "CheckResult", "check_with_broker"]

from __future__ import annotations

import pytest

from bridge.seeds import seed_closes
from common.bars import Bar
from common.errors import AuthError, NetworkError, OperationalError


def latest(*syms: str) -> dict[str, Bar]:
    return {s: Bar(s, 1760621400000, 1, 1, 1, 1.5 + i, 10) for i, s in enumerate(syms)}


def test_closes_come_from_the_latest_bars_and_missing_symbols_are_logged(caplog):
    out = seed_closes(lambda symbols: latest("AAA", "ZZZ"), ["AAA", "BBB"], sleep=lambda s: None)
    assert out == {"AAA": 1.5}
    assert "no latest bar from REST for BBB" in caplog.text


def test_temporary_failures_are_retried_then_given_up_without_crashing():
    calls, sleeps = [], []

    def flaky(symbols):
        calls.append(1)
        if len(calls) < 3:
            raise NetworkError("connection refused")
        return latest("AAA")

    assert seed_closes(flaky, ["AAA"], sleep=sleeps.append) == {"AAA": 1.5}
    assert sleeps == [1.0, 2.0]

    def down(symbols):
        raise NetworkError("connection refused")

    assert seed_closes(down, ["AAA"], attempts=2, sleep=lambda s: None) == {}


def test_refused_keys_are_fatal_and_name_the_variables():
    def refused(symbols):
        raise AuthError(401, 40110000, "request is not authorized")

    with pytest.raises(OperationalError, match="ALPACA_PAPER_API_KEY and ALPACA_PAPER_SECRET_KEY"):
        seed_closes(refused, ["AAA"], sleep=lambda s: None)

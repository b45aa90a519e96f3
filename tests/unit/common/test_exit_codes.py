from __future__ import annotations

import pytest

from common.exit_codes import (
    EXIT_CRASH,
    EXIT_HALTED,
    EXIT_OK,
    EXIT_OPERATOR,
    describe,
    should_restart,
)


def test_the_codes():
    assert (EXIT_OK, EXIT_CRASH, EXIT_OPERATOR, EXIT_HALTED) == (0, 1, 2, 3)


@pytest.mark.parametrize(("code", "restart"), [
    (0, False), (1, True), (2, False), (3, False), (4, False), (-9, True), (-15, True),
])
def test_only_a_crash_or_a_signal_is_worth_a_restart(code, restart):
    assert should_restart(code) is restart


@pytest.mark.parametrize(("code", "words"), [
    (0, "exit 0 (ok)"), (1, "exit 1 (crash)"), (2, "exit 2 (operator)"), (3, "exit 3 (halted)"),
    (42, "exit 42"), (-9, "killed by signal 9"),
])
def test_describe(code, words):
    assert describe(code) == words

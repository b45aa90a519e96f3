"""Process exit codes, one meaning each, shared by every process and the launcher.

The launcher restarts a child only when it crashed (:data:`EXIT_CRASH`, or killed by a
signal); an operator problem or a halt is never retried, because retrying cannot help.

=====  =====================  ==========================================================
code   name                   meaning
=====  =====================  ==========================================================
0      ``EXIT_OK``            done: the session is over and flat, a closed day, or a
                              clean stop on SIGTERM/SIGINT
1      ``EXIT_CRASH``         an unexpected error: worth a restart with backoff
2      ``EXIT_OPERATOR``      the operator must act: config, keys, paths, a journal that
                              cannot be used
3      ``EXIT_HALTED``        trading halted on purpose: reconciliation policy ``halt``,
                              the daily loss limit, positions in the strategy's universe
                              left after the close
=====  =====================  ==========================================================
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CRASH = 1
    OPERATOR = 2
    HALTED = 3


EXIT_OK = ExitCode.OK
EXIT_CRASH = ExitCode.CRASH
EXIT_OPERATOR = ExitCode.OPERATOR
EXIT_HALTED = ExitCode.HALTED


def should_restart(returncode: int) -> bool:
    """Whether a child that ended with ``returncode`` is worth restarting.

    A crash (1) is; so is death by a signal (``Popen.returncode`` < 0, e.g. SIGKILL from
    the OOM killer). Done (0), operator (2), halted (3) and any other code are not.
    """
    return returncode == ExitCode.CRASH or returncode < 0


def describe(returncode: int) -> str:
    """``returncode`` in words, for log lines."""
    if returncode < 0:
        return f"killed by signal {-returncode}"
    try:
        return f"exit {returncode} ({ExitCode(returncode).name.lower()})"
    except ValueError:
        return f"exit {returncode}"


__all__ = [
    "EXIT_CRASH",
    "EXIT_HALTED",
    "EXIT_OK",
    "EXIT_OPERATOR",
    "ExitCode",
    "describe",
    "should_restart",
]

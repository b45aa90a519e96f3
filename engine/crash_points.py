"""Named crash points: the engine SIGKILLs itself at a chosen moment (chaos tests only).

``ENGINE_CRASH_AT=<point>:<n>`` makes the n-th time (1-based, counted per process) the
engine passes ``<point>`` the moment it kills itself with SIGKILL: no cleanup, no flush,
exactly as ``kill -9`` from outside, but at an instant a test chooses. Unset (the normal
case) every :func:`crash_point` call returns at once: the variable is read once, at import.

The points, each one of the moments a kill is most likely to cost something:

- ``warmup`` — history loaded, today's bars not yet read from REST;
- ``reconciliation`` — the journal's open orders settled, the broker's positions not yet
  taken over;
- ``before_send`` — an order's intent journaled, the order not yet sent;
- ``after_send`` — the order accepted by the broker, its answer not yet journaled;
- ``eod`` — the end-of-day flatten begun, nothing canceled or sent yet.
"""

from __future__ import annotations

import logging
import os
import signal

ENV_VAR = "ENGINE_CRASH_AT"
POINTS = ("warmup", "reconciliation", "before_send", "after_send", "eod")

log = logging.getLogger(__name__)


def parse(text: str | None) -> tuple[str, int] | None:
    """``"<point>:<n>"`` → (point, n); None for an unset or empty value; ValueError names
    what is wrong with any other."""
    if not text:
        return None
    point, sep, count = text.partition(":")
    if point not in POINTS:
        raise ValueError(f"{ENV_VAR}={text!r}: unknown point {point!r}; known: {', '.join(POINTS)}")
    try:
        n = int(count) if sep else 1
    except ValueError:
        raise ValueError(f"{ENV_VAR}={text!r}: the count after ':' must be an integer") from None
    if n < 1:
        raise ValueError(f"{ENV_VAR}={text!r}: the count must be >= 1")
    return point, n


_TARGET = parse(os.environ.get(ENV_VAR))
_hits = 0


def crash_point(name: str) -> None:
    """Die here (SIGKILL) if this is the moment ``ENGINE_CRASH_AT`` names; else nothing."""
    global _hits
    if _TARGET is None or name != _TARGET[0]:
        return
    _hits += 1
    if _hits == _TARGET[1]:
        log.warning("crash point %s reached (hit %d): SIGKILL", name, _hits)
        for h in logging.getLogger().handlers:  # the line above is the last one in the log
            h.flush()
        os.kill(os.getpid(), signal.SIGKILL)


__all__ = ["ENV_VAR", "POINTS", "crash_point", "parse"]

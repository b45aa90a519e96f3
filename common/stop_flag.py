"""A stop request from SIGTERM/SIGINT: the handler only records it, the main loop acts."""

from __future__ import annotations

import signal
from collections.abc import Iterable


class StopFlag:
    """Set by a signal handler (or by :meth:`request`); loops poll :attr:`requested`."""

    def __init__(self) -> None:
        self.signal: str | None = None

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def request(self, why: str = "request") -> None:
        """Ask for a stop without a signal (tests, an in-process supervisor)."""
        if self.signal is None:
            self.signal = why

    def install(self, signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT)) -> None:
        """Record the listed signals here instead of the default action (main thread only)."""
        for sig in signals:
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        self.signal = signal.Signals(signum).name


__all__ = ["StopFlag"]

"""Files that hold account data are private to the user who runs the trader: mode 0600.

Which files: the engine's journal (orders, fills, positions, cash) with its WAL, its
``state.json``, every process's log (positions, fills and P&L are logged), the bridge's
and the launcher's state and pid files, and the launcher's summary. Not the bar CSVs under
``data/`` nor ``best_params.json``: market data and parameters, no account data.

How: every process of the trader (engine, bridge, launcher) calls
:func:`make_new_files_private` first, before it opens its log, so each file it creates is
0600 and each directory 0700 whatever the shell's umask; a journal an earlier run left
with wider permissions is narrowed when it is opened (:func:`narrow`).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_UMASK = 0o077
PRIVATE_MODE = 0o600


def make_new_files_private() -> int:
    """Set this process's umask to 077 (inherited by its children); the previous umask."""
    return os.umask(PRIVATE_UMASK)


def narrow(path: str | Path) -> bool:
    """Make an existing file 0600 if group or others could read it; whether it changed.
    A missing file is left missing."""
    p = Path(path)
    try:
        mode = stat.S_IMODE(os.stat(p).st_mode)
    except FileNotFoundError:
        return False
    if not mode & 0o077:
        return False
    try:
        os.chmod(p, PRIVATE_MODE)
    except OSError as e:  # another user's file: say so, the caller goes on
        log.warning("%s has mode %o and cannot be narrowed to 0600: %s", p, mode, e.strerror)
        return False
    log.warning("%s had mode %o: narrowed to 0600 (it holds account data)", p, mode)
    return True


__all__ = ["PRIVATE_MODE", "PRIVATE_UMASK", "make_new_files_private", "narrow"]

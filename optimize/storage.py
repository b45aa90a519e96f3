"""Where studies live: a journal file by default, a database URL to share one study widely.

The default is Optuna's journal storage (``JournalStorage`` over ``JournalFileBackend``):
a single append-only file, ``<data_dir>/optuna/journal.log`` (live: ``data/optuna/``,
mock: ``data/mock/optuna/``), that needs no server, that several worker processes on one
machine append to safely (the backend takes a file lock around every write), that
survives a kill at any moment (a record is whole or absent), and that optuna-dashboard
opens as it is (``optuna-dashboard data/optuna/journal.log``). SQLite would also open in
the dashboard, but Optuna advises against it for concurrent writers.

``--storage postgresql://user:password@host/db`` (any SQLAlchemy URL Optuna's
``RDBStorage`` takes) lets worker processes on several machines share one study. Its
password is never logged: :func:`describe` shows the URL with the password masked.
"""

from __future__ import annotations

from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend

from common.errors import OperationalError

JOURNAL_NAME = "journal.log"
URL_SCHEMES = ("postgresql", "postgres", "mysql", "sqlite", "oracle", "mssql")


def default_storage(data_dir: str | Path) -> str:
    """The default journal file of a mode's data directory."""
    return str(Path(data_dir) / "optuna" / JOURNAL_NAME)


def is_url(storage: str) -> bool:
    scheme = storage.split("://", 1)[0].split("+", 1)[0].lower() if "://" in storage else ""
    return scheme in URL_SCHEMES


def describe(storage: str) -> str:
    """The storage for logs and errors: a URL with its password masked, or the file path."""
    if not is_url(storage):
        return storage
    from sqlalchemy.engine import make_url

    try:
        return make_url(storage).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show only its scheme
        return storage.split("://", 1)[0] + "://***"


class StorageError(OperationalError):
    """The study storage cannot be used (the operator must look: URL, server, driver)."""
    pass


def open_storage(storage: str) -> BaseStorage:
    """Optuna storage for a URL or a journal file path (its directory is created)."""
    if is_url(storage):
        try:
            return RDBStorage(storage, heartbeat_interval=None)
        except Exception as e:  # bad URL, server down, missing driver: name the storage only
            raise StorageError(f"cannot open the study storage {describe(storage)}: "
                               f"{type(e).__name__}") from None  # fmt: skip
    path = Path(storage)
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def quiet_optuna() -> None:
    """Optuna's own per-trial log lines off: the optimizer prints its own progress."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)


__all__ = ["JOURNAL_NAME", "StorageError", "default_storage", "describe", "is_url", "open_storage",
           "quiet_optuna"]  # fmt: skip

"""What every process does first: read its endpoints and keys, then open its log file.

Keys are read before logging starts so the log's redaction filter knows the secrets; a
missing key is not raised until logging is up, so the operator finds it in the log too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import click

from common.env import AlpacaEndpoints, load_endpoints
from common.errors import ConfigError
from common.logs import setup_process_logging
from common.private_files import make_new_files_private


@dataclass(frozen=True)
class ProcessStart:
    log_file: Path
    endpoints: AlpacaEndpoints | None
    env_error: ConfigError | None

    def require_endpoints(self) -> AlpacaEndpoints:
        """The endpoints, or the ConfigError that named what was missing."""
        if self.env_error is not None:
            raise self.env_error
        assert self.endpoints is not None
        return self.endpoints


def start_process(
    process: str, log_dir: Path, config_env: Path | None, log_file: Path | None = None
) -> ProcessStart:
    """Make new files private (umask 077), load endpoints (remembering a ConfigError) and log
    to ``log_dir/<process>_<ts>.log`` (or exactly ``log_file``, the launcher's choice);
    OSError if the log cannot be opened."""
    make_new_files_private()  # logs, journal, state files: account data (common.private_files)
    endpoints: AlpacaEndpoints | None = None
    env_error: ConfigError | None = None
    try:
        endpoints = load_endpoints(config_env)
    except ConfigError as e:
        env_error = e
    path = setup_process_logging(
        process, log_dir, secrets=endpoints.secrets() if endpoints else (), filename=log_file
    )
    return ProcessStart(path, endpoints, env_error)


def date_option(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    """click callback for a YYYY-MM-DD option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date YYYY-MM-DD") from None

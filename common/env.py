"""Endpoints and keys from the environment or ``config.env`` (design.md §2).

The environment wins over the file, so a supervisor can point its children at
another market (mock mode) without touching the operator's file. Secrets are
never part of a repr or an error message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from dotenv import dotenv_values

from common.errors import ConfigError

KEY_VAR = "ALPACA_PAPER_API_KEY"
SECRET_VAR = "ALPACA_PAPER_SECRET_KEY"
TRADING_URL_VAR = "ALPACA_TRADING_URL"
DATA_URL_VAR = "ALPACA_DATA_URL"
STREAM_URL_VAR = "ALPACA_STREAM_URL"
DEFAULTS = {
    TRADING_URL_VAR: "https://paper-api.alpaca.markets",
    DATA_URL_VAR: "https://data.alpaca.markets",
    STREAM_URL_VAR: "wss://stream.data.alpaca.markets/v2/iex",
}


@dataclass(frozen=True)
class AlpacaEndpoints:
    """Where the broker lives and the keys to speak to it."""

    key_id: str = field(repr=False)
    secret: str = field(repr=False)
    trading_url: str = DEFAULTS[TRADING_URL_VAR]
    data_url: str = DEFAULTS[DATA_URL_VAR]
    stream_url: str = DEFAULTS[STREAM_URL_VAR]

    def __repr__(self) -> str:
        return (
            f"AlpacaEndpoints(trading_url={self.trading_url!r}, data_url={self.data_url!r}, "
            f"stream_url={self.stream_url!r}, keys from {KEY_VAR}/{SECRET_VAR})"
        )

    def secrets(self) -> tuple[str, str]:
        """Values a log redaction filter must hide."""
        return (self.key_id, self.secret)

    def environ(self) -> dict[str, str]:
        """The variables that point a child process at these endpoints (what
        :func:`load_endpoints` reads back); the keys travel in the environment, never argv."""
        return {
            KEY_VAR: self.key_id,
            SECRET_VAR: self.secret,
            TRADING_URL_VAR: self.trading_url,
            DATA_URL_VAR: self.data_url,
            STREAM_URL_VAR: self.stream_url,
        }


def read_settings(env_file: str | Path | None = "config.env", environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``config.env`` (if it exists) overlaid by the environment."""
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


def load_endpoints(env_file: str | Path | None = "config.env", environ: Mapping[str, str] | None = None) -> AlpacaEndpoints:
    """Endpoints and keys; ConfigError names any missing variable (never a value)."""
    s = read_settings(env_file, environ)
    missing = [v for v in (KEY_VAR, SECRET_VAR) if not s.get(v, "").strip()]
    if missing:
        where = f" or {env_file}" if env_file else ""
        raise ConfigError(f"missing {' and '.join(missing)}: set them in the environment{where}")
    urls = {k: s.get(k, "").strip() or d for k, d in DEFAULTS.items()}
    for k, u in urls.items():
        scheme = ("ws://", "wss://") if k == STREAM_URL_VAR else ("http://", "https://")
        if not u.startswith(scheme):
            raise ConfigError(f"{k}={u!r} must start with {' or '.join(scheme)}")
        if not urlsplit(u).hostname:
            raise ConfigError(f"{k}={u!r} has no host")
        if k != STREAM_URL_VAR and u.rstrip("/").endswith("/v2"):
            raise ConfigError(f"{k}={u!r} must not end with /v2 (the client adds it)")
    return AlpacaEndpoints(
        key_id=s[KEY_VAR].strip(),
        secret=s[SECRET_VAR].strip(),
        trading_url=urls[TRADING_URL_VAR].rstrip("/"),
        data_url=urls[DATA_URL_VAR].rstrip("/"),
        stream_url=urls[STREAM_URL_VAR],
    )

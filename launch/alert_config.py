"""Alert settings: ``ALERT_*`` variables in ``config.env`` or the environment (the environment wins).

Every channel is optional: email when ``ALERT_SMTP_HOST`` is set, a webhook when
``ALERT_WEBHOOK_URL`` is. Values are validated when the launcher starts; an error names the
variable (a password is never shown). Credentials are only ever sent over TLS: a user with
``ALERT_SMTP_STARTTLS=false`` is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from common.env import read_settings
from common.errors import ConfigError

PREFIX = "ALERT_"
EMAIL_RE = re.compile(r"^[^@\s,<>]+@[^@\s,<>]+$")


class AlertKind(StrEnum):
    """What an alert is about (``ALERT_EVENTS`` lists the ones to send)."""

    POSITIONS_AT_START = "positions_at_start"
    """The broker holds positions when the launcher starts (the reconciliation preview)."""
    RECONCILIATION = "reconciliation"
    """The engine took over positions, flattened them or halted on them."""
    FILL = "fill"
    """Orders filled (several fills found together are sent as one alert)."""
    KILL_SWITCH = "kill_switch"
    """The engine halted: daily loss limit, or a reconciliation it must not take over."""
    CHILD_FATAL = "child_fatal"
    """The bridge or the engine kept failing and is not restarted any more."""
    FEED_LOST = "feed_lost"
    """No bars from the bridge, or its market-data socket down, for ALERT_FEED_SILENCE_S."""
    ERROR = "error"
    """An order rejected or lost, a position book that differed from the broker's."""
    POSITIONS_AFTER_CLOSE = "positions_after_close"
    """Positions are still open after the close."""
    SESSION_SUMMARY = "session_summary"
    """The end-of-session summary, with the report's path."""


ALL_KINDS = tuple(AlertKind)


class AlertConfig(BaseModel):
    """The ``ALERT_*`` variables (name: ``ALERT_`` + the field in capitals)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    smtp_host: str | None = Field(None, description="SMTP server for email alerts; unset: no email.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port (587: submission with STARTTLS).")
    smtp_starttls: bool = Field(True, description="Upgrade the SMTP connection with STARTTLS before anything "
                                "is sent; the server's certificate and name are verified.")  # fmt: skip
    smtp_cafile: Path | None = Field(None, description="CA bundle (PEM) to verify the SMTP server with, for a "
                                     "private CA [default: the system's].")  # fmt: skip
    smtp_user: str | None = Field(None, description="SMTP login (needs STARTTLS); unset: no login.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password (never logged).")
    email_from: str | None = Field(None, description="Sender address [default: ALERT_SMTP_USER, else "
                                   "intraday-trader@localhost].")  # fmt: skip
    email_to: tuple[str, ...] = Field((), description="Recipients, comma-separated (needed with "
                                      "ALERT_SMTP_HOST).")  # fmt: skip
    webhook_url: str | None = Field(None, description="URL each alert is POSTed to as JSON; unset: no webhook.")
    timeout_s: float = Field(10.0, gt=0.0, le=120.0, description="Seconds one delivery may take before it "
                             "counts as failed.")  # fmt: skip
    events: tuple[AlertKind, ...] = Field(ALL_KINDS, min_length=1, description="Kinds of alert to send, "
                                          "comma-separated, or all.")  # fmt: skip
    feed_silence_s: float = Field(30.0, ge=1.0, le=3600.0, description="Wall seconds without bars or "
                                  "heartbeats from the bridge (market open) before the engine raises "
                                  "the feed-loss alert.")  # fmt: skip

    @field_validator("email_to")
    @classmethod
    def _emails(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [x for x in v if not EMAIL_RE.match(x)]
        if bad:
            raise ValueError(f"{bad} are not email addresses")
        return v

    @field_validator("email_from")
    @classmethod
    def _sender(cls, v: str | None) -> str | None:
        if v is not None and not EMAIL_RE.match(v):
            raise ValueError(f"{v!r} is not an email address")
        return v

    @field_validator("webhook_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None:
            u = urlsplit(v)
            if u.scheme not in ("http", "https") or not u.hostname:
                raise ValueError(f"{v!r} is not an http(s) URL")
        return v

    @model_validator(mode="after")
    def _together(self) -> AlertConfig:
        if self.smtp_host and not self.email_to:
            raise ValueError("ALERT_SMTP_HOST is set but ALERT_EMAIL_TO is not: who should get the email?")
        if self.email_to and not self.smtp_host:
            raise ValueError("ALERT_EMAIL_TO is set but ALERT_SMTP_HOST is not")
        if self.smtp_user and self.smtp_password is None:
            raise ValueError("ALERT_SMTP_USER is set but ALERT_SMTP_PASSWORD is not")
        if self.smtp_password is not None and not self.smtp_user:
            raise ValueError("ALERT_SMTP_PASSWORD is set but ALERT_SMTP_USER is not")
        if self.smtp_user and not self.smtp_starttls:
            raise ValueError("ALERT_SMTP_USER needs ALERT_SMTP_STARTTLS=true: credentials are never sent in clear")
        return self

    @property
    def email(self) -> bool:
        return bool(self.smtp_host)

    @property
    def webhook(self) -> bool:
        return bool(self.webhook_url)

    @property
    def sender(self) -> str:
        if self.email_from:
            return self.email_from
        if self.smtp_user and EMAIL_RE.match(self.smtp_user):
            return self.smtp_user
        return "intraday-trader@localhost"

    def secrets(self) -> tuple[str, ...]:
        """Values the log's redaction filter must hide: the password, and the webhook's URL
        and path (a webhook URL often carries a token)."""
        out = [] if self.smtp_password is None else [self.smtp_password.get_secret_value()]
        if self.webhook_url:
            u = urlsplit(self.webhook_url)
            out += [self.webhook_url, u.path + (f"?{u.query}" if u.query else "")]
        return tuple(x for x in out if len(x) > 1)

    def describe(self) -> str:
        """The channels, for the log (no secret)."""
        parts = []
        if self.email:
            tls = "STARTTLS" if self.smtp_starttls else "no TLS"
            parts.append(f"email to {', '.join(self.email_to)} via {self.smtp_host}:{self.smtp_port} ({tls})")
        if self.webhook_url:
            u = urlsplit(self.webhook_url)
            parts.append(f"webhook {u.scheme}://{u.hostname}{f':{u.port}' if u.port else ''}/...")
        return "; ".join(parts) if parts else "none configured"


def variable(field: str) -> str:
    """The environment variable of a field: ``smtp_host`` -> ``ALERT_SMTP_HOST``."""
    return PREFIX + field.upper()


def _raw(name: str, text: str) -> Any:
    text = text.strip()
    if name in ("email_to", "events"):
        items = [x.strip() for x in text.split(",") if x.strip()]
        if name == "events" and [x.lower() for x in items] == ["all"]:
            return list(ALL_KINDS)
        return items
    return text or None


def alert_config_from(settings: Mapping[str, str]) -> AlertConfig:
    """The config of ``settings`` (``config.env`` overlaid by the environment); ConfigError
    names the variable and the value (never a password's)."""
    fields = AlertConfig.model_fields
    known = {variable(f) for f in fields}
    unknown = sorted(k for k in settings if k.startswith(PREFIX) and k not in known)
    if unknown:
        raise ConfigError(f"unknown alert setting(s) {', '.join(unknown)}: expected "
                          f"{', '.join(sorted(known))}")  # fmt: skip
    data = {f: _raw(f, settings[variable(f)]) for f in fields if variable(f) in settings}
    data = {k: v for k, v in data.items() if v is not None}
    try:
        return AlertConfig.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors(include_url=False):
            loc = err["loc"]
            msg = err["msg"].removeprefix("Value error, ")
            if not loc:
                lines.append(msg)
                continue
            name = str(loc[0])
            shown = "" if name == "smtp_password" else f"={settings.get(variable(name), '')!r}"
            lines.append(f"{variable(name)}{shown}: {msg}")
        raise ConfigError("alert settings: " + "; ".join(lines)) from None


def load_alert_config(env_file: str | Path | None = "config.env",
                      environ: Mapping[str, str] | None = None) -> AlertConfig:  # fmt: skip
    return alert_config_from(read_settings(env_file, environ))


__all__ = [
    "ALL_KINDS",
    "AlertConfig",
    "AlertKind",
    "alert_config_from",
    "load_alert_config",
    "variable",
]

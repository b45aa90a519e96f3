"""The two ways an alert reaches a person: email over SMTP and a JSON webhook.

- :class:`SmtpChannel`: one message per delivery (several alerts waiting together make one
  digest), STARTTLS with the server's certificate and name verified (``ALERT_SMTP_CAFILE``
  for a private CA), then the login if a user is configured; every socket operation times
  out after ``ALERT_TIMEOUT_S``.
- :class:`WebhookChannel`: one ``POST`` per alert, the body :meth:`Alert.to_json`; an HTTP
  status of 400 or more is a failure. A webhook URL often carries a token: errors name
  only its scheme and host.

Errors are :class:`AlertDeliveryError` with a message that holds no secret.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from urllib.parse import urlsplit

import requests

from launch.alert_config import AlertConfig
from launch.alerts import Alert


class AlertDeliveryError(RuntimeError):
    pass


def email_message(alerts: Sequence[Alert], sender: str, to: Sequence[str]) -> EmailMessage:
    first = alerts[0]
    where = " ".join(x for x in (first.mode, first.strategy, first.session_date) if x)
    subject = first.subject if len(alerts) == 1 else f"{len(alerts)} alerts: {first.subject}, ..."
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    msg["Subject"] = f"[trader{' ' + where if where else ''}] {subject}"
    parts = []
    for a in alerts:
        parts.append(f"{a.subject}\n{'=' * min(len(a.subject), 72)}\n{a.at}  ({a.kind})\n\n{a.text}\n")
    msg.set_content("\n".join(parts))
    return msg


class SmtpChannel:
    name = "email"

    def __init__(self, cfg: AlertConfig) -> None:
        if not cfg.smtp_host:
            raise ValueError("SmtpChannel needs ALERT_SMTP_HOST")
        self.cfg = cfg

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=None if self.cfg.smtp_cafile is None else str(self.cfg.smtp_cafile))

    def deliver(self, alerts: Sequence[Alert]) -> None:
        cfg = self.cfg
        msg = email_message(alerts, cfg.sender, cfg.email_to)
        where = f"{cfg.smtp_host}:{cfg.smtp_port}"
        try:
            with smtplib.SMTP(str(cfg.smtp_host), cfg.smtp_port, timeout=cfg.timeout_s) as smtp:
                smtp.ehlo()
                if cfg.smtp_starttls:
                    smtp.starttls(context=self._tls())
                    smtp.ehlo()
                if cfg.smtp_user and cfg.smtp_password is not None:
                    smtp.login(cfg.smtp_user, cfg.smtp_password.get_secret_value())
                smtp.send_message(msg)
        except smtplib.SMTPAuthenticationError as e:
            raise AlertDeliveryError(f"SMTP {where} refused the login of {cfg.smtp_user!r} ({e.smtp_code})") from None
        except smtplib.SMTPNotSupportedError:
            raise AlertDeliveryError(f"SMTP {where} does not offer STARTTLS (ALERT_SMTP_STARTTLS=true)") from None
        except ssl.SSLError as e:
            raise AlertDeliveryError(f"SMTP {where}: TLS failed: {e.reason or e}") from None
        except (smtplib.SMTPException, OSError) as e:
            raise AlertDeliveryError(f"SMTP {where}: {type(e).__name__}: {e}") from None


class WebhookChannel:
    name = "webhook"

    def __init__(self, cfg: AlertConfig, session: requests.Session | None = None) -> None:
        if not cfg.webhook_url:
            raise ValueError("WebhookChannel needs ALERT_WEBHOOK_URL")
        self.url = cfg.webhook_url
        self.timeout = cfg.timeout_s
        u = urlsplit(cfg.webhook_url)
        self.where = f"{u.scheme}://{u.hostname}{f':{u.port}' if u.port else ''}"
        self.http = session or requests.Session()

    def deliver(self, alerts: Sequence[Alert]) -> None:
        for a in alerts:
            try:
                r = self.http.post(self.url, json=a.to_json(), timeout=(self.timeout, self.timeout))
            except requests.RequestException as e:  # its message may hold the URL: not shown
                raise AlertDeliveryError(f"webhook {self.where}: {type(e).__name__}") from None
            if r.status_code >= 400:
                raise AlertDeliveryError(f"webhook {self.where} answered HTTP {r.status_code}")


__all__ = ["AlertDeliveryError", "SmtpChannel", "WebhookChannel", "email_message"]

"""Local servers the alert tests deliver to: SMTP with STARTTLS and a login (aiosmtpd, a
throwaway CA from trustme), a webhook receiver (http.server), and a black hole (accepts
connections, never answers). All on 127.0.0.1, on ports the system picks."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "bot@example.com", "s3cret-smtp-password"
KIND_LINE = re.compile(r"^=+\n.*\(([a-z_]+)\)$", re.M)
"""An alert's line under its subject's underline in a mail: ``2025-10-16T10:01:00-04:00  (fill)``."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mail:
    sender: str
    to: list[str]
    message: EmailMessage
    tls: bool
    login: str | None

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        return self.message.get_content()


@dataclass
class SmtpServer:
    host: str
    port: int
    cafile: Path
    mails: list[Mail] = field(default_factory=list)
    got: threading.Condition = field(default_factory=threading.Condition)

    def env(self) -> dict[str, str]:
        return {"ALERT_SMTP_HOST": self.host, "ALERT_SMTP_PORT": str(self.port), "ALERT_SMTP_STARTTLS": "true",
                "ALERT_SMTP_CAFILE": str(self.cafile), "ALERT_SMTP_USER": USER, "ALERT_SMTP_PASSWORD": PASSWORD,
                "ALERT_EMAIL_TO": "trader@example.com"}  # fmt: skip

    def wait_for(self, pred, timeout: float = 60.0) -> list[Mail]:
        with self.got:
            assert self.got.wait_for(lambda: pred(self.mails), timeout), [m.subject for m in self.mails]
            return list(self.mails)

    def kinds(self) -> set[str]:
        """The alert kinds the mails so far carry (each alert in a mail says it under its subject)."""
        with self.got:
            return {k for m in self.mails for k in KIND_LINE.findall(m.body.replace("\r\n", "\n"))}


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server, session, envelope) -> str:
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        login = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode()
        with self.server.got:
            self.server.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), msg,  # type: ignore[arg-type]
                                          session.ssl is not None, login))  # fmt: skip
            self.server.got.notify_all()
        return "250 Message accepted"


def _authenticate(_server, _session, _envelope, _mechanism, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == USER.encode() and data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


@contextlib.contextmanager
def smtp_server(tmp: Path) -> Iterator[SmtpServer]:
    """SMTP on 127.0.0.1 that requires STARTTLS before anything and a login (``USER``/``PASSWORD``)."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(tls)
    cafile = tmp / "alerts-ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    server = SmtpServer("127.0.0.1", free_port(), cafile)
    controller = Controller(_Handler(server), hostname=server.host, port=server.port, tls_context=tls,
                            require_starttls=True, auth_require_tls=True, authenticator=_authenticate)  # fmt: skip
    controller.start()
    try:
        yield server
    finally:
        controller.stop()


@dataclass
class Webhook:
    url: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    got: threading.Condition = field(default_factory=threading.Condition)
    status: int = 200

    def wait_for(self, pred, timeout: float = 60.0) -> list[dict[str, Any]]:
        with self.got:
            assert self.got.wait_for(lambda: pred(self.posts), timeout), [p.get("kind") for p in self.posts]
            return list(self.posts)

    def kinds(self) -> list[str]:
        with self.got:
            return [p["kind"] for p in self.posts]


@contextlib.contextmanager
def webhook_server(path: str = "/hooks/T0KEN-abc123") -> Iterator[Webhook]:
    hook = Webhook("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            with hook.got:
                if self.path == path and hook.status < 400:
                    hook.posts.append(body)
                    hook.got.notify_all()
            self.send_response(hook.status if self.path == path else 404)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{httpd.server_address[1]}{path}"
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    try:
        yield hook
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextlib.contextmanager
def black_hole() -> Iterator[int]:
    """A port that accepts connections and never says a word (a hung mail server)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    try:
        yield s.getsockname()[1]
    finally:
        s.close()


__all__ = ["PASSWORD", "USER", "Mail", "SmtpServer", "Webhook", "black_hole", "free_port", "smtp_server", "webhook_server"]

"""Alerts delivered to real local servers: SMTP with STARTTLS and a login (aiosmtpd), a webhook
(http.server); a mail server that is down or hung holds up nothing else."""

from __future__ import annotations

import logging

from launch.alert_config import AlertKind, alert_config_from
from launch.alerts import Alert, make_dispatcher
from tests.support.alert_servers import (
    PASSWORD,
    USER,
    black_hole,
    free_port,
    smtp_server,
    webhook_server,
)


def alerts() -> list[Alert]:
    return [
        Alert(AlertKind.FILL, "10:01:05 BUY 10 TQQQ @ $50.0000", "10:01:05 BUY 10 TQQQ @ $50.0000", {"fills": [{"q": 10}]}),
        Alert(AlertKind.FILL, "10:02:05 SELL 10 TQQQ @ $51.0000", "10:02:05 SELL 10 TQQQ @ $51.0000", {"fills": [{"q": -10}]}),
        Alert(AlertKind.KILL_SWITCH, "HALT: the kill switch fired", "HALT (kill switch): daily loss limit"),
    ]  # fmt: skip


def test_alerts_reach_an_smtp_server_over_starttls_with_a_login_and_a_webhook(tmp_path):
    with smtp_server(tmp_path) as smtp, webhook_server() as hook:
        cfg = alert_config_from({**smtp.env(), "ALERT_WEBHOOK_URL": hook.url, "ALERT_TIMEOUT_S": "10"})
        d = make_dispatcher(cfg, {"mode": "mock", "strategy": "rotation", "session_date": "2025-10-16"})
        for a in alerts():
            d.send(a)
        d.close(60)
        mails = smtp.wait_for(lambda m: sum(len(x.body.split("\n\n")) for x in m) >= 1)
        posts = hook.wait_for(lambda p: len(p) >= 2)
    # email: over TLS, logged in, the three alerts in one message or more, fills together
    assert all(m.tls and m.login == USER for m in mails)
    assert all(m.to == ["trader@example.com"] and m.sender == USER for m in mails)
    text = "\n".join(m.body for m in mails)
    assert "BUY 10 TQQQ" in text and "SELL 10 TQQQ" in text and "HALT (kill switch): daily loss limit" in text
    assert all(m.subject.startswith("[trader mock rotation 2025-10-16] ") for m in mails)
    # webhook: one JSON object per alert (fills waiting together merged into one)
    kinds = [p["kind"] for p in posts]
    assert kinds[-1] == "kill_switch" and set(kinds[:-1]) == {"fill"}
    assert sum(len(p["detail"]["fills"]) for p in posts if p["kind"] == "fill") == 2
    assert posts[-1]["mode"] == "mock" and posts[-1]["strategy"] == "rotation" and posts[-1]["session_date"] == "2025-10-16"


def test_with_the_mail_server_down_or_hung_the_webhook_still_gets_everything(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    with webhook_server() as hook, black_hole() as hung:
        for port in (free_port(), hung):  # nothing listening; a server that never answers
            cfg = alert_config_from({"ALERT_SMTP_HOST": "127.0.0.1", "ALERT_SMTP_PORT": str(port),
                                     "ALERT_EMAIL_TO": "t@example.com", "ALERT_WEBHOOK_URL": hook.url,
                                     "ALERT_TIMEOUT_S": "1"})  # fmt: skip
            d = make_dispatcher(cfg)
            hook.posts.clear()
            for a in alerts():
                d.send(a)
            hook.wait_for(lambda p: p and p[-1]["kind"] == "kill_switch")
            d.close(30)
            assert d.stats()["email"]["sent"] == 0 and d.stats()["email"]["failed"] >= 1
            assert d.stats()["webhook"]["failed"] == 0
    assert "alerts: email delivery failed (SMTP 127.0.0.1:" in caplog.text


def test_a_refused_login_and_a_failing_webhook_are_named_without_their_secrets(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    with smtp_server(tmp_path) as smtp, webhook_server() as hook:
        hook.status = 500
        env = {**smtp.env(), "ALERT_SMTP_PASSWORD": "wrong-password-123", "ALERT_WEBHOOK_URL": hook.url}
        d = make_dispatcher(alert_config_from(env))
        d.send(alerts()[2])
        d.close(30)
    assert f"SMTP 127.0.0.1:{smtp.port} refused the login of '{USER}' (535)" in caplog.text
    assert f"webhook http://127.0.0.1:{hook.url.split(':')[2].split('/')[0]} answered HTTP 500" in caplog.text
    assert "wrong-password-123" not in caplog.text and PASSWORD not in caplog.text and "T0KEN" not in caplog.text
    assert smtp.mails == [] and hook.posts == []

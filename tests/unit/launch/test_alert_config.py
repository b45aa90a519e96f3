"""launch.alert_config: ALERT_* variables validated with errors that name them (never a password)."""

from __future__ import annotations

import pytest

from common.errors import ConfigError
from launch.alert_config import ALL_KINDS, AlertKind, alert_config_from, load_alert_config

FULL = {"ALERT_SMTP_HOST": "smtp.example.com", "ALERT_SMTP_PORT": "2525", "ALERT_SMTP_STARTTLS": "true",
        "ALERT_SMTP_USER": "bot@example.com", "ALERT_SMTP_PASSWORD": "hunter2-secret",
        "ALERT_EMAIL_TO": "a@example.com, b@example.com", "ALERT_WEBHOOK_URL": "https://hooks.example.com/T0/xyz",
        "ALERT_TIMEOUT_S": "3", "ALERT_EVENTS": "fill,kill_switch", "ALERT_FEED_SILENCE_S": "5"}  # fmt: skip


def test_nothing_set_means_no_channel():
    cfg = alert_config_from({"PATH": "/bin", "ALPACA_PAPER_API_KEY": "x"})
    assert not cfg.email and not cfg.webhook and cfg.events == ALL_KINDS and cfg.feed_silence_s == 30.0
    assert cfg.describe() == "none configured"


def test_every_variable_is_read_and_secrets_are_listed_for_redaction():
    cfg = alert_config_from(FULL)
    assert (cfg.smtp_host, cfg.smtp_port, cfg.smtp_starttls, cfg.timeout_s) == ("smtp.example.com", 2525, True, 3.0)
    assert cfg.email_to == ("a@example.com", "b@example.com") and cfg.sender == "bot@example.com"
    assert cfg.events == (AlertKind.FILL, AlertKind.KILL_SWITCH) and cfg.feed_silence_s == 5.0
    assert "hunter2-secret" in cfg.secrets() and "/T0/xyz" in cfg.secrets()
    described = cfg.describe()
    assert "hunter2" not in described and "xyz" not in described and "smtp.example.com:2525" in described
    assert "hunter2" not in repr(cfg)


def test_the_environment_wins_over_config_env(tmp_path):
    env_file = tmp_path / "config.env"
    env_file.write_text("ALERT_WEBHOOK_URL=http://127.0.0.1:1/a\nALERT_TIMEOUT_S=4\n")
    cfg = load_alert_config(env_file, {"ALERT_TIMEOUT_S": "7"})
    assert cfg.webhook_url == "http://127.0.0.1:1/a" and cfg.timeout_s == 7.0


@pytest.mark.parametrize(("change", "message"), [
    ({"ALERT_SMTP_PORT": "smtp"}, "ALERT_SMTP_PORT='smtp'"),
    ({"ALERT_SMTP_PORT": "70000"}, "ALERT_SMTP_PORT='70000'"),
    ({"ALERT_SMTP_STARTTLS": "maybe"}, "ALERT_SMTP_STARTTLS='maybe'"),
    ({"ALERT_EMAIL_TO": "nobody"}, "ALERT_EMAIL_TO='nobody': Value error, ['nobody'] are not email addresses"),
    ({"ALERT_WEBHOOK_URL": "ftp://x/y"}, "is not an http(s) URL"),
    ({"ALERT_EVENTS": "fill,fills"}, "ALERT_EVENTS='fill,fills'"),
    ({"ALERT_EMAIL_TO": None}, "ALERT_SMTP_HOST is set but ALERT_EMAIL_TO is not"),
    ({"ALERT_SMTP_PASSWORD": None}, "ALERT_SMTP_USER is set but ALERT_SMTP_PASSWORD is not"),
    ({"ALERT_SMTP_STARTTLS": "false"}, "credentials are never sent in clear"),
    ({"ALERT_TIME_OUT": "3"}, "unknown alert setting(s) ALERT_TIME_OUT"),
])  # fmt: skip
def test_a_bad_setting_is_named_and_a_password_never_shown(change, message):
    settings = {k: v for k, v in {**FULL, **change}.items() if v is not None}
    with pytest.raises(ConfigError) as e:
        alert_config_from(settings)
    assert message.replace("Value error, ", "") in str(e.value)
    assert "hunter2" not in str(e.value)


def test_a_bad_password_value_is_never_echoed():
    with pytest.raises(ConfigError) as e:
        alert_config_from({"ALERT_SMTP_PASSWORD": "hunter2-secret"})
    assert "ALERT_SMTP_PASSWORD" in str(e.value) and "hunter2" not in str(e.value)

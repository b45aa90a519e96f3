"""common.env: endpoints and keys from config.env overlaid by the environment."""

from __future__ import annotations

import pytest

from common.env import DEFAULTS, AlpacaEndpoints, load_endpoints, read_settings
from common.errors import ConfigError, OperationalError

KEY = "PKFILEKEY0001"
SECRET = "file-secret-value-0001"


@pytest.fixture
def env_file(tmp_path):
    path = tmp_path / "config.env"
    path.write_text(
        f"ALPACA_PAPER_API_KEY={KEY}\n"
        f"ALPACA_PAPER_SECRET_KEY='{SECRET}'\n"
        "ALPACA_TRADING_URL=http://file-host:1/\n"
        "# a comment\n"
    )
    return path


def test_the_file_alone_gives_endpoints_with_defaults(env_file):
    ep = load_endpoints(env_file, environ={})
    assert (ep.key_id, ep.secret) == (KEY, SECRET)
    assert ep.trading_url == "http://file-host:1"  # trailing slash dropped
    assert ep.data_url == DEFAULTS["ALPACA_DATA_URL"]
    assert ep.stream_url == DEFAULTS["ALPACA_STREAM_URL"]


def test_the_environment_overrides_the_file(env_file):
    environ = {
        "ALPACA_PAPER_API_KEY": " envkey1 ",
        "ALPACA_TRADING_URL": "http://127.0.0.1:8123",
        "ALPACA_DATA_URL": "http://127.0.0.1:8123/",
        "ALPACA_STREAM_URL": "ws://127.0.0.1:8123/v2/iex",
    }
    ep = load_endpoints(env_file, environ=environ)
    assert ep.key_id == "envkey1" and ep.secret == SECRET
    assert ep.trading_url == ep.data_url == "http://127.0.0.1:8123"
    assert ep.stream_url == "ws://127.0.0.1:8123/v2/iex"


def test_environ_points_a_child_at_the_same_endpoints():
    ep = AlpacaEndpoints("k-123456", "s-123456", "http://127.0.0.1:8123", "http://127.0.0.1:8124",
                         "ws://127.0.0.1:8123/v2/iex")
    env = ep.environ()
    assert set(env) == {"ALPACA_PAPER_API_KEY", "ALPACA_PAPER_SECRET_KEY", "ALPACA_TRADING_URL",
                        "ALPACA_DATA_URL", "ALPACA_STREAM_URL"}
    assert load_endpoints(None, environ=env) == ep


def test_read_settings_without_a_file(tmp_path):
    assert read_settings(tmp_path / "absent.env", environ={"A": "1"}) == {"A": "1"}
    assert read_settings(None, environ={"A": "1"}) == {"A": "1"}


def test_missing_keys_are_named_without_values(tmp_path):
    with pytest.raises(ConfigError) as ei:
        load_endpoints(
            tmp_path / "absent.env", environ={"ALPACA_PAPER_SECRET_KEY": "topsecret-xyz"}
        )
    msg = str(ei.value)
    assert "ALPACA_PAPER_API_KEY" in msg and "ALPACA_PAPER_SECRET_KEY" not in msg
    assert "topsecret-xyz" not in msg
    assert isinstance(ei.value, OperationalError)
    with pytest.raises(ConfigError, match="ALPACA_PAPER_API_KEY and ALPACA_PAPER_SECRET_KEY"):
        load_endpoints(None, environ={"ALPACA_PAPER_API_KEY": "  "})


@pytest.mark.parametrize(
    ("var", "value", "match"),
    [
        ("ALPACA_TRADING_URL", "ftp://x", "must start with http:// or https://"),
        ("ALPACA_DATA_URL", "paper-api.alpaca.markets", "must start with http://"),
        ("ALPACA_STREAM_URL", "https://stream.example/v2/iex", "must start with ws:// or wss://"),
        ("ALPACA_TRADING_URL", "http://", "has no host"),
        ("ALPACA_TRADING_URL", "https://paper-api.alpaca.markets/v2", "must not end with /v2"),
    ],
)
def test_bad_urls_are_named(var, value, match):
    environ = {"ALPACA_PAPER_API_KEY": KEY, "ALPACA_PAPER_SECRET_KEY": SECRET, var: value}
    with pytest.raises(ConfigError, match=match) as ei:
        load_endpoints(None, environ=environ)
    assert var in str(ei.value)
    assert SECRET not in str(ei.value)


def test_repr_never_shows_the_keys(env_file):
    ep = load_endpoints(env_file, environ={})
    text = repr(ep) + str(ep)
    assert KEY not in text and SECRET not in text
    assert ep.secrets() == (KEY, SECRET)

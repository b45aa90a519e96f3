from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest

import bridge.cli as cli
from bridge.app import BridgeSettings
from bridge.stream import StreamSettings
from common.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]


def test_parse_symbols_normalizes_and_refuses_bad_input():
    assert cli.parse_symbols(" tqqq, SQQQ ,brk.b,") == ("TQQQ", "SQQQ", "BRK.B")
    with pytest.raises(ConfigError, match="'TQ QQ' is not a ticker"):
        cli.parse_symbols("TQ QQ")
    with pytest.raises(ConfigError, match="SPY is listed twice"):
        cli.parse_symbols("SPY,spy")
    with pytest.raises(ConfigError, match="empty"):
        cli.parse_symbols(" , ")


def test_symbols_default_to_the_strategys():
    rot = cli.resolve_symbols(None, "rotation", ROOT / "config")
    assert len(rot) == 12 and "TQQQ" in rot
    assert set(cli.resolve_symbols(None, "psm", ROOT / "config")) == {"SPY", "SPXL", "SH", "SDS"}
    assert cli.resolve_symbols("SPY", "psm", ROOT / "config") == ("SPY",)


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
        if h not in handlers:
            h.close()
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def test_stream_auth_failure_exits_2_naming_the_variables(kit, tmp_path, monkeypatch, restore_logging):
    ready = threading.Event()
    box: dict = {}

    def serve() -> None:
        async def main():
            async with kit.FakeStream(["402"]) as fake:
                box["url"] = fake.url
                ready.set()
                while "done" not in box:
                    await asyncio.sleep(0.01)

        asyncio.run(main())

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(10)
    monkeypatch.setenv("ALPACA_PAPER_API_KEY", kit.KEY)
    monkeypatch.setenv("ALPACA_PAPER_SECRET_KEY", kit.SECRET)
    monkeypatch.setenv("ALPACA_STREAM_URL", box["url"])
    monkeypatch.setattr(cli, "rest_latest_bars", lambda endpoints: lambda symbols: {})
    try:
        code = cli.run_bridge(
            symbols="TQQQ", strategy="rotation", fifo=tmp_path / "bars.fifo", log_dir=tmp_path / "logs",
            config_env=tmp_path / "absent.env", config_dir=ROOT / "config",
            settings=BridgeSettings(stream=StreamSettings(backoff_initial=0.01)),
        )
    finally:
        box["done"] = True
        t.join(10)
    assert code == 2
    (log_file,) = (tmp_path / "logs").glob("bridge_*.log")
    text = log_file.read_text()
    assert "authentication failed (402" in text
    assert "ALPACA_PAPER_API_KEY" in text and "ALPACA_PAPER_SECRET_KEY" in text
    assert kit.KEY not in text and kit.SECRET not in text

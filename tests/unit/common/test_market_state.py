"""The market's state file: what mockmarket writes and the launcher and harness read."""

from __future__ import annotations

import json

import pytest

from common.atomic_write import write_json_atomic
from common.market_state import read_state, remove_state, server_state, url_host


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "127.0.0.1"), ("0.0.0.0", "127.0.0.1"), ("", "127.0.0.1"),
    ("::", "[::1]"), ("::1", "[::1]"), ("localhost", "localhost"),
])
def test_url_host(host, url):
    assert url_host(host) == url


def test_server_state_has_every_url_and_the_extras():
    s = server_state(pid=12, host="0.0.0.0", port=8123, replay_date="2025-10-16", speed=60.0, symbols=["SPY"])
    assert s == {
        "pid": 12, "host": "0.0.0.0", "port": 8123,
        "base_url": "http://127.0.0.1:8123", "trading_url": "http://127.0.0.1:8123",
        "data_url": "http://127.0.0.1:8123", "stream_url": "ws://127.0.0.1:8123/v2/iex",
        "trade_stream_url": "ws://127.0.0.1:8123/stream", "date": "2025-10-16", "speed": 60.0,
        "symbols": ["SPY"],
    }


def test_read_state_is_none_until_the_file_is_whole(tmp_path):
    path = tmp_path / "state.json"
    assert read_state(path) is None
    path.write_text('{"pid": 1')  # a torn write (the writer is atomic; a foreign file may not be)
    assert read_state(path) is None
    path.write_text("[1, 2]")
    assert read_state(path) is None
    write_json_atomic(path, {"pid": 5})
    assert read_state(path) == {"pid": 5}


def test_remove_state_only_removes_its_own_file(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"pid": 7}))
    remove_state(path, pid=8)  # another server took the file over
    assert path.exists()
    remove_state(path, pid=7)
    assert not path.exists()
    remove_state(path, pid=7)  # already gone: fine

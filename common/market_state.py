"""mockmarket's state file: where a running market listens (atomic JSON, no secrets).

mockmarket writes it when it is listening and removes it on a clean exit; the harness and
the launcher's mock mode read it to find the market (and its pid). One definition of the
format for both sides.
"""

from __future__ import annotations

import json
from pathlib import Path

DEFAULT_STATE_FILE = Path("data/mockmarket/state.json")


def url_host(host: str) -> str:
    """The host part of a URL for a listening address (wildcards become loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def server_state(
    *, pid: int, host: str, port: int, replay_date: str, speed: float, **extra: object
) -> dict:
    """The state file's content for a server listening on ``host:port``."""
    h = url_host(host)
    base = f"http://{h}:{port}"
    return {
        "pid": pid,
        "host": host,
        "port": port,
        "base_url": base,
        "trading_url": base,
        "data_url": base,
        "stream_url": f"ws://{h}:{port}/v2/iex",
        "trade_stream_url": f"ws://{h}:{port}/stream",
        "date": replay_date,
        "speed": speed,
        **extra,
    }


def read_state(path: str | Path = DEFAULT_STATE_FILE) -> dict | None:
    """The state file's content, or None if it is missing or not (yet) valid JSON."""
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def remove_state(path: str | Path, pid: int) -> None:
    """Remove the state file if it still describes process ``pid``."""
    state = read_state(path)
    if state is not None and state.get("pid") == pid:
        Path(path).unlink(missing_ok=True)


__all__ = ["DEFAULT_STATE_FILE", "read_state", "remove_state", "server_state", "url_host"]

"""The real server process: state file, REST = CSV, websocket minutes, faults, shutdown."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import date

import msgpack
import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from common.calendar import ny_datetime, parse_rfc3339, to_ms
from common.children import stop_process, with_pythonpath
from common.env import load_endpoints
from mockmarket.datasource import ensure_synthetic
from mockmarket.harness import PROJECT_ROOT, TEST_SECRET, run_market
from mockmarket.wire import rest_bar, stream_bar

STATE_KEYS = {
    "pid",
    "host",
    "port",
    "base_url",
    "trading_url",
    "data_url",
    "stream_url",
    "trade_stream_url",
    "date",
    "speed",
}


def get(market, path, **params):
    r = requests.get(market.base_url + path, params=params, headers=market.headers(), timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def page_all(market, symbols, start):
    out: dict[str, list] = {}
    token = None
    while True:
        q = {"symbols": ",".join(symbols), "timeframe": "1Min", "start": start, "limit": 1000}
        if token:
            q["page_token"] = token
        body = get(market, "/v2/stocks/bars", **q)
        for s, bars in body["bars"].items():
            out.setdefault(s, []).extend(bars)
        token = body["next_page_token"]
        if token is None:
            return out


def t_ms(text: str) -> int:
    return to_ms(parse_rfc3339(text))


def test_state_file_listening_line_and_no_secrets(module_market):
    state = json.loads(module_market.state_file.read_text())
    assert set(state) >= STATE_KEYS
    assert (
        state["pid"] == module_market.pid
        and state["date"] == "2025-10-16"
        and state["speed"] == 120.0
    )
    assert state["base_url"] == f"http://127.0.0.1:{state['port']}" and state["port"] > 0
    assert state["stream_url"] == f"ws://127.0.0.1:{state['port']}/v2/iex"
    assert state["trade_stream_url"] == f"ws://127.0.0.1:{state['port']}/stream"
    assert TEST_SECRET not in module_market.state_file.read_text()
    out = (module_market.state_file.parent / "mockmarket.out").read_text()
    assert f"mockmarket listening on http://127.0.0.1:{state['port']}" in out
    requests.get(
        module_market.base_url + "/v2/clock",
        headers={"APCA-API-KEY-ID": "x", "APCA-API-SECRET-KEY": TEST_SECRET},
        timeout=10,
    )
    log = module_market.log_file.read_text()
    assert "mockmarket listening on" in log and TEST_SECRET not in log and TEST_SECRET not in out


def test_rest_bars_up_to_the_simulated_now_equal_the_csv(module_market, csv_bars):
    target = to_ms(ny_datetime(date(2025, 10, 16), "09:45"))
    if module_market.now_ms() < target:  # jump ahead; the clock keeps running while we page
        module_market.admin(
            "POST", "/admin/clock", {"action": "set_time", "time": "2025-10-16T09:45:00-04:00"}
        )
    symbols = module_market.state["symbols"]
    before = module_market.now_ms()
    got = page_all(module_market, symbols, "2025-10-14")
    after = module_market.now_ms()
    assert len(got) == len(symbols)
    for s in symbols:
        served = got[s]
        assert all(t_ms(b["t"]) + 60_000 <= after for b in served), (
            "a minute was served before it closed"
        )
        csv = [
            rest_bar(b) for b in csv_bars(module_market, s) if b.t >= t_ms("2025-10-14T04:00:00Z")
        ]
        assert served == csv[: len(served)], s
        assert len(served) >= sum(1 for b in csv if t_ms(b["t"]) + 60_000 <= before)


def test_websocket_sends_every_minute_of_every_symbol_that_has_a_bar(module_market, csv_bars):
    symbols = module_market.state["symbols"]
    by_minute: dict[int, dict[str, dict]] = {}
    for s in symbols:
        for b in csv_bars(module_market, s):
            by_minute.setdefault(b.t, {})[s] = stream_bar(b)
    with connect(module_market.stream_url, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))[0]["msg"] == "connected"
        ws.send(
            json.dumps({"action": "auth", "key": module_market.key, "secret": module_market.secret})
        )
        assert json.loads(ws.recv(timeout=10))[0]["msg"] == "authenticated"
        ws.send(json.dumps({"action": "subscribe", "bars": symbols}))
        assert json.loads(ws.recv(timeout=10))[0]["T"] == "subscription"
        received: dict[int, list[dict]] = {}
        while len(received) < 5:
            for m in json.loads(ws.recv(timeout=10)):
                received.setdefault(t_ms(m["t"]), []).append(m)
    minutes = sorted(received)
    assert minutes == list(range(minutes[0], minutes[0] + 5 * 60_000, 60_000)), (
        "a minute was skipped"
    )
    for t in minutes:
        assert sorted(received[t], key=lambda m: m["S"]) == [
            by_minute[t][s] for s in sorted(by_minute[t])
        ]


def test_msgpack_stream_from_a_real_process(module_market):
    with connect(
        module_market.stream_url.replace("/v2/iex", "/v2/sip"),
        open_timeout=10,
        additional_headers={"Content-Type": "application/msgpack"},
    ) as ws:
        assert msgpack.unpackb(ws.recv(timeout=10))[0]["msg"] == "connected"
        ws.send(
            msgpack.packb(
                {"action": "auth", "key": module_market.key, "secret": module_market.secret}
            )
        )
        assert msgpack.unpackb(ws.recv(timeout=10))[0]["msg"] == "authenticated"
        ws.send(msgpack.packb({"action": "subscribe", "bars": ["SPY"]}))
        msgpack.unpackb(ws.recv(timeout=10))
        (bar,) = msgpack.unpackb(ws.recv(timeout=10))
        assert bar["S"] == "SPY" and isinstance(bar["t"], msgpack.Timestamp)


def test_sigterm_removes_the_state_file_and_exits_zero(start_market):
    m = start_market(start_time="12:00")
    assert m.state_file.exists()
    assert m.stop() == 0  # SIGTERM (a SIGKILL after the timeout would give -9)
    assert not m.state_file.exists()
    assert "mockmarket stopped" in m.log_file.read_text()


def test_sigint_too(start_market):
    m = start_market(start_time="16:30", extra_args=["--paused"])
    assert m.admin("GET", "/admin/clock")["paused"] is True
    assert stop_process(m.process, sig=signal.SIGINT) == 0 and not m.state_file.exists()


def test_data_stream_faults_over_the_admin_api(start_market):
    m = start_market(start_time="10:00", extra_args=["--paused"])
    m.admin("POST", "/admin/faults", {"handshake_429_count": 1, "connection_limit_seconds": 60})
    with pytest.raises(InvalidStatus) as err:
        connect(m.stream_url, open_timeout=10)
    assert err.value.response.status_code == 429

    def login(ws):
        ws.recv(timeout=10)
        ws.send(json.dumps({"action": "auth", "key": m.key, "secret": m.secret}))
        return json.loads(ws.recv(timeout=10))[0]

    with connect(m.stream_url, open_timeout=10) as ws:
        assert login(ws)["msg"] == "authenticated"
    deadline = time.monotonic() + 10
    while m.admin("GET", "/admin/counters")["data_connections_open"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with connect(m.stream_url, open_timeout=10) as ws:
        assert login(ws) == {"T": "error", "code": 406, "msg": "connection limit exceeded"}
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    m.admin("POST", "/admin/clock", {"action": "step", "seconds": 60})
    with connect(m.stream_url, open_timeout=10) as ws:
        assert login(ws)["msg"] == "authenticated"
    c = m.admin("GET", "/admin/counters")
    assert c["handshake_429"] == 1 and c["data_auth_406"] == 1


def test_replays_the_latest_session_of_a_data_dir_without_synthetic(start_market, tmp_path):
    history = tmp_path / "history"
    ensure_synthetic(history, seed=3, sessions=2, end_date=date(2025, 10, 15))
    m = start_market(synthetic=False, date=None, data_dir=history, start_time="16:30")
    assert m.state["date"] == "2025-10-15" and m.state["synthetic"] is False
    assert m.data_dir == history.resolve()


def test_empty_data_dir_falls_back_to_mockmarkets_own_synthetic_dir(start_market, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    m = start_market(synthetic=False, data_dir=empty, start_time="16:30")
    assert m.state["synthetic"] is True
    assert m.data_dir.parts[-3:] == ("data", "mockmarket", "equities")
    assert not list(empty.iterdir()), "nothing may be written into the given data dir"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--date", "2025-10-18", "--synthetic"], "2025-10-18 is not an NYSE session"),
        (["--date", "18/10/2025"], "is not a date YYYY-MM-DD"),
        (["--start-time", "25:00"], "not a time of day"),
        (["--speed", "0"], "--speed"),
    ],
)
def test_bad_arguments_fail_with_a_clear_message(tmp_path, args, needle):
    env = with_pythonpath(PROJECT_ROOT)
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "mockmarket",
            "serve",
            "--state-file",
            str(tmp_path / "s.json"),
            "--log-file",
            str(tmp_path / "m.log"),
            "--data-dir",
            str(tmp_path / "d"),
            *args,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0
    assert needle in r.stderr, r.stderr
    assert not (tmp_path / "s.json").exists()


def test_harness_reports_a_process_that_dies_at_start(tmp_path):
    from mockmarket.harness import MarketStartError

    with (
        pytest.raises(MarketStartError, match="not an NYSE session"),
        run_market(tmp_path, date="2025-10-18"),
    ):
        pass


def test_harness_env_points_a_client_at_the_market(module_market):
    env = module_market.env()
    assert env == {
        "ALPACA_PAPER_API_KEY": module_market.key,
        "ALPACA_PAPER_SECRET_KEY": module_market.secret,
        "ALPACA_TRADING_URL": module_market.base_url,
        "ALPACA_DATA_URL": module_market.base_url,
        "ALPACA_STREAM_URL": module_market.stream_url,
    }
    endpoints = load_endpoints(env_file=None, environ=env)
    assert (
        endpoints.trading_url == module_market.base_url
        and endpoints.stream_url == module_market.stream_url
    )


def test_harness_wait_until_follows_the_simulated_clock(module_market):
    target = module_market.now_ms() + 30_000
    module_market.wait_until(target, timeout=10)
    assert module_market.now_ms() >= target
    with pytest.raises(TimeoutError):
        module_market.wait_until(module_market.now_ms() + 3_600_000, timeout=0.2)

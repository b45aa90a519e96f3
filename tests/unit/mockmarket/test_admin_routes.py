from __future__ import annotations

import time

import pytest
import requests


def post(server, path, body):
    return requests.post(server.base_url + path, json=body, headers=server.headers, timeout=10)


def test_clock_snapshot(server, facts):
    c = server.admin("GET", "/admin/clock")
    assert c["now"] == "2025-10-16T10:00:00.000-04:00"
    assert c["now_ms"] == facts.ny_ms(facts.replay, "10:00")
    assert c["paused"] is True and c["speed"] == 1.0
    assert c["replay_date"] == "2025-10-16"
    assert abs(c["real_monotonic"] - time.monotonic()) < 5


def test_clock_actions(server, facts):
    t0 = facts.ny_ms(facts.replay, "10:00")
    assert server.step(90)["now_ms"] == t0 + 90_000
    c = server.admin(
        "POST", "/admin/clock", {"action": "set_time", "time": "2025-10-16T11:00:00-04:00"}
    )
    assert c["now"] == "2025-10-16T11:00:00.000-04:00"
    c = server.admin("POST", "/admin/clock", {"action": "set_speed", "speed": 1000})
    assert c["speed"] == 1000.0 and c["paused"] is True
    c = server.admin("POST", "/admin/clock", {"action": "resume"})
    assert c["paused"] is False
    deadline = time.monotonic() + 5
    while server.admin("GET", "/admin/clock")["now_ms"] < facts.ny_ms(facts.replay, "11:00") + 1000:
        assert time.monotonic() < deadline, "the resumed clock does not move"
        time.sleep(0.01)
    c = server.admin("POST", "/admin/clock", {"action": "pause"})
    assert c["paused"] is True
    assert server.admin("GET", "/admin/clock")["now_ms"] == c["now_ms"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"action": "rewind"}, "'action' must be one of"),
        ({}, "'action' must be one of"),
        ({"action": "step"}, "'seconds' must be a finite number"),
        ({"action": "step", "seconds": -1}, "'seconds' must be >= 0"),
        ({"action": "step", "seconds": "5"}, "'seconds' must be a finite number"),
        ({"action": "step", "seconds": 1e12}, "'seconds' must be at most"),
        ({"action": "set_speed", "speed": 0}, "'speed' must be > 0"),
        ({"action": "set_speed", "speed": 1e9}, "'speed' must be at most"),
        ({"action": "set_time", "time": "2025-10-16T09:00:00-04:00"}, "never goes backwards"),
        ({"action": "set_time", "time": "noon"}, "not an ISO-8601 instant"),
        ({"action": "set_time"}, "'time' must be an ISO-8601 string"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_clock_requests_are_400_naming_the_problem(server, body, needle):
    r = post(server, "/admin/clock", body)
    assert r.status_code == 400
    assert needle in r.json()["message"]


def test_clock_body_must_be_json(server):
    r = requests.post(
        server.base_url + "/admin/clock", data=b"{nope", headers=server.headers, timeout=10
    )
    assert r.status_code == 400 and "not valid JSON" in r.json()["message"]


def test_faults_get_and_set(server):
    f = server.admin("GET", "/admin/faults")
    assert f["rest_429_count"] == 0 and f["rest_5xx_status"] == 503
    f = server.admin("POST", "/admin/faults", {"rest_429_count": 2, "partial_fill_rate": 0.5})
    assert f["rest_429_count"] == 2 and f["partial_fill_rate"] == 0.5
    assert server.ctx.faults.rest_429_count == 2


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"no_such_fault": 1}, "unknown fault 'no_such_fault'"),
        ({"rest_429_count": -1}, "rest_429_count"),
        ({"silence_open": 1}, "silence_open"),
        ({"partial_fill_rate": 2}, "partial_fill_rate"),
        ({"rest_5xx_status": 404}, "rest_5xx_status"),
        ({"rest_429_count": 1, "bogus": 2}, "bogus"),
    ],
)
def test_bad_faults_are_400_and_change_nothing(server, body, needle):
    before = server.admin("GET", "/admin/faults")
    r = post(server, "/admin/faults", body)
    assert r.status_code == 400 and needle in r.json()["message"]
    assert server.admin("GET", "/admin/faults") == before


def test_counters(server):
    c = server.admin("GET", "/admin/counters")
    assert c["rest_requests"] == 0
    server.get("/v2/clock")
    server.get("/v2/stocks/bars", symbols="AAA", timeframe="1Min")
    c = server.admin("GET", "/admin/counters")
    assert c["rest_requests"] == 2  # admin calls are not counted


def test_market_view(server, facts):
    m = server.admin("GET", "/admin/market")
    assert m["replay_date"] == "2025-10-16"
    assert m["symbols"] == list(facts.symbols)
    assert m["sessions"] == ["2025-10-15", "2025-10-16"]
    assert m["bars"] == len(server.ctx.store)

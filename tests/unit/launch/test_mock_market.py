"""launch.mock_market: the pieces that need no running market."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from launch.mock_market import (
    Market,
    MarketOptions,
    archive_journal,
    is_market_process,
    mock_keys,
    serve_argv,
)
from launch.paths import Mode, ModePaths

STATE = {"pid": 42, "base_url": "http://127.0.0.1:5000", "trading_url": "http://127.0.0.1:5000",
         "data_url": "http://127.0.0.1:5000", "stream_url": "ws://127.0.0.1:5000/v2/iex",
         "date": "2025-10-16", "speed": 100.0}  # fmt: skip


def test_children_get_the_markets_endpoints_and_the_mock_keys_never_the_operators():
    env = Market(42, STATE, started_by_launcher=True).child_env(
        {"PATH": "/bin", "ALPACA_PAPER_API_KEY": "REAL", "ALPACA_PAPER_SECRET_KEY": "REAL-SECRET",
         "ALPACA_TRADING_URL": "https://paper-api.alpaca.markets"}
    )  # fmt: skip
    key, secret = mock_keys()
    assert env["ALPACA_PAPER_API_KEY"] == key and env["ALPACA_PAPER_SECRET_KEY"] == secret
    assert env["ALPACA_TRADING_URL"] == env["ALPACA_DATA_URL"] == "http://127.0.0.1:5000"
    assert env["ALPACA_STREAM_URL"] == "ws://127.0.0.1:5000/v2/iex" and env["PATH"] == "/bin"
    assert "REAL" not in env.values() and "REAL-SECRET" not in env.values()


def test_a_new_market_is_synthetic_and_its_keys_are_not_on_its_command_line(tmp_path):
    opts = MarketOptions(tmp_path / "state.json", sessions=31, replay_date=date(2025, 10, 16), speed=60.0)
    argv = serve_argv(opts, tmp_path / "m.log")
    assert argv[1:4] == ["-m", "mockmarket", "serve"] and "--synthetic" in argv
    assert argv[argv.index("--sessions") + 1] == "31" and argv[argv.index("--date") + 1] == "2025-10-16"
    assert argv[argv.index("--speed") + 1] == "60.0" and argv[argv.index("--start-time") + 1] == "09:05"
    assert not set(mock_keys()) & set(argv) and "--key" not in argv
    assert is_market_process(argv) and not is_market_process(["python", "-m", "engine"])


def test_options_a_running_market_does_not_match_are_named():
    opts = MarketOptions(Path("s.json"), sessions=31, replay_date=date(2025, 10, 17), speed=100.0, seed=3)
    diff = opts.differences(STATE)
    assert diff == ["--date 2025-10-17 (it replays 2025-10-16)", "--seed 3"]
    assert MarketOptions(Path("s.json"), sessions=31).differences(STATE) == []


def test_a_new_market_archives_the_previous_mock_journal(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    paths = ModePaths.of(Mode.MOCK)
    assert archive_journal(paths, "20251016_090000") is None
    paths.log_dir.mkdir(parents=True)
    for name in ("journal.sqlite", "journal.sqlite-wal", "state.json"):
        (paths.log_dir / name).write_text(name)
    dest = archive_journal(paths, "20251016_090000")
    assert dest == paths.log_dir / "archive" / "20251016_090000"
    assert sorted(p.name for p in dest.iterdir()) == ["journal.sqlite", "journal.sqlite-wal", "state.json"]
    assert not (paths.log_dir / "journal.sqlite").exists()


def test_the_clock_is_held_while_the_launcher_optimizes_unless_someone_else_holds_it(monkeypatch, tmp_path):
    import launch.mock_market as mm

    monkeypatch.chdir(tmp_path)
    paths = ModePaths.of(Mode.MOCK)

    calls: list[str] = []
    paused = {"now": False}

    def clock(market, body=None):
        if body is None:
            calls.append("get")
            return {"paused": paused["now"], "now_ms": 0}
        calls.append(body["action"])
        return {"paused": body["action"] == "pause", "now_ms": 1760621400000}

    monkeypatch.setattr(mm, "_clock", clock)
    market = Market(42, STATE, started_by_launcher=True)
    with mm.clock_held(market, paths, "optimizing"):
        assert calls == ["get", "pause"]
        assert mm.hold_file(paths).exists()  # written down first: a killed launcher's heir resumes it
    assert calls == ["get", "pause", "resume"] and not mm.hold_file(paths).exists()
    calls.clear()
    paused["now"] = True  # paused by its owner (a test, an operator): left alone
    with mm.clock_held(market, paths, "optimizing"):
        pass
    assert calls == ["get"]
    calls.clear()
    with mm.clock_held(None, paths, "optimizing"):  # live mode: no market
        pass
    assert calls == []


def test_a_hold_left_by_a_killed_launcher_is_released_by_the_next(monkeypatch, tmp_path, caplog):
    import launch.mock_market as mm

    monkeypatch.chdir(tmp_path)
    paths = ModePaths.of(Mode.MOCK)
    calls: list[str] = []
    monkeypatch.setattr(mm, "_clock", lambda market, body=None: calls.append(body["action"]) or {"now_ms": 0})
    market = Market(42, STATE, started_by_launcher=True)
    mm.release_stale_hold(market, paths)  # nothing held
    assert calls == []
    mm.hold_file(paths).parent.mkdir(parents=True)
    mm.hold_file(paths).write_text('{"market_pid": 41, "why": "x"}')  # another market's, long gone
    mm.release_stale_hold(market, paths)
    assert calls == [] and not mm.hold_file(paths).exists()
    mm.hold_file(paths).write_text('{"market_pid": 42, "why": "the optimizer runs at midday"}')
    mm.release_stale_hold(market, paths)
    assert calls == ["resume"] and not mm.hold_file(paths).exists()
    assert "held by a launcher that is gone (while the optimizer runs at midday): resuming it" in caplog.text


def test_a_market_that_does_not_answer_does_not_stop_the_optimization(monkeypatch, caplog, tmp_path):
    import launch.mock_market as mm

    monkeypatch.chdir(tmp_path)

    def clock(market, body=None):
        raise OSError("connection refused")

    monkeypatch.setattr(mm, "_clock", clock)
    ran = []
    with mm.clock_held(Market(42, STATE, started_by_launcher=True), ModePaths.of(Mode.MOCK), "optimizing"):
        ran.append(True)
    assert ran and "could not hold the mock market's clock (OSError: connection refused)" in caplog.text

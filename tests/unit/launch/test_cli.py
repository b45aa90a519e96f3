"""launch.cli and the sequence's checks that need no process: help, refused options, real
money, refused keys."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from common.env import AlpacaEndpoints
from common.errors import AuthError, ConfigError, ForbiddenError
from launch.cli import main
from launch.paths import Mode
from launch.sequence import LaunchOptions, RealMoneyRefused, check_real_money, verify_account

SECRET = "sk-super-secret-value"


@pytest.mark.parametrize("cmd", ["live", "mock", "optimize", "download", "status", "stop", "report", "backtest"])
def test_every_command_has_help(cmd):
    r = CliRunner().invoke(main, [cmd, "--help"])
    assert r.exit_code == 0 and "Usage:" in r.output


@pytest.mark.parametrize("cmd", ["live", "mock"])
def test_optimizer_options_reach_the_launch_options(cmd, monkeypatch):
    seen: list[LaunchOptions] = []

    class Capture:
        def __init__(self, opts: LaunchOptions) -> None:
            seen.append(opts)

    monkeypatch.setattr("launch.sequence.Launch", Capture)
    monkeypatch.setattr("launch.cli._run", lambda launch: 0)
    r = CliRunner().invoke(main, [cmd, "--trials", "7", "--workers", "2", "--optimizer-seed", "3",
                                  "--windows", "5,6,7", "--storage", "x.log", "--midday-optimize",
                                  "--midday-time", "12:30"])  # fmt: skip
    assert r.exit_code == 0, r.output
    (opts,) = seen
    o = opts.optimizer
    assert (o.trials, o.workers, o.seed, o.storage) == (7, 2, 3, "x.log")
    assert (o.windows.warmup, o.windows.scored, o.windows.held_out) == (5, 6, 7)
    assert opts.midday == "12:30" and not opts.skip_optimize


def test_midday_defaults_to_12_45_and_its_time_needs_the_flag(monkeypatch):
    seen: list[LaunchOptions] = []
    monkeypatch.setattr("launch.sequence.Launch", lambda opts: seen.append(opts))
    monkeypatch.setattr("launch.cli._run", lambda launch: 0)
    assert CliRunner().invoke(main, ["live", "--midday-optimize"]).exit_code == 0
    assert seen[0].midday == "12:45" and seen[0].optimizer.trials == 50
    r = CliRunner().invoke(main, ["live", "--midday-time", "12:30"])
    assert r.exit_code == 2 and "--midday-time is the time of --midday-optimize" in r.output
    r = CliRunner().invoke(main, ["live", "--windows", "20,20"])
    assert r.exit_code == 2 and "WARMUP,SCORED,HELD_OUT" in r.output


def test_a_bad_time_is_refused():
    r = CliRunner().invoke(main, ["mock", "--start-time", "9h30"])
    assert r.exit_code == 2 and "'9h30' is not a time HH:MM" in r.output


def test_fewer_sessions_than_the_warm_up_is_refused():
    r = CliRunner().invoke(main, ["live", "--download-sessions", "10"])
    assert r.exit_code == 2 and "10 is not in the range 20<=x<=250" in r.output
    with pytest.raises(ValueError, match="fewer than the 20 sessions"):
        LaunchOptions(Mode.LIVE, download_sessions=19)


def test_the_real_money_url_needs_the_operator_to_say_so():
    live = AlpacaEndpoints("k", SECRET, trading_url="https://api.alpaca.markets")
    with pytest.raises(RealMoneyRefused, match="--i-understand-real-money"):
        check_real_money(live, allowed=False)
    check_real_money(live, allowed=True)
    check_real_money(AlpacaEndpoints("k", SECRET), allowed=False)  # paper


class RefusingRest:
    def __init__(self, err: Exception) -> None:
        self.err = err
        self.endpoints = AlpacaEndpoints("PKKEY", SECRET)

    def get_account(self) -> dict:
        raise self.err


@pytest.mark.parametrize("err", [AuthError(401, 40110000, "request is not authorized"),
                                 ForbiddenError(403, None, "forbidden")])  # fmt: skip
def test_refused_keys_name_the_two_variables_and_never_their_values(err):
    with pytest.raises(ConfigError) as exc:
        verify_account(RefusingRest(err))  # type: ignore[arg-type]
    msg = str(exc.value)
    assert "ALPACA_PAPER_API_KEY" in msg and "ALPACA_PAPER_SECRET_KEY" in msg
    assert SECRET not in msg and "PKKEY" not in msg
    assert f"HTTP {err.status}" in msg

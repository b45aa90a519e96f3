"""``python -m launch live|mock|download|status|stop``.

::

    python -m launch live   [--strategy rotation|psm] [--skip-optimize] [--trials N]
                            [--optimize-budget SECONDS]
                            [--midday-optimize [--midday-time HH:MM]] [--fifo PATH] ...
    python -m launch mock   [--date YYYY-MM-DD] [--speed N] [--start-time HH:MM] [--seed N] ...
    python -m launch optimize [--mode live|mock] [--strategy ...] [--trials N] [--storage URL]
                              [--workers N] [--seed N] [--windows W,S,H] [--until DATE]
    python -m launch download [--mode live|mock] [--strategy ...]
    python -m launch status [--mode live|mock] [--json | --watch]
    python -m launch stop   [--mode live|mock] [--market]
    python -m launch report [--date YYYY-MM-DD] [--mode live|mock] [--strategy ...] [--out FILE]
    python -m launch backtest --strategy ... --start DATE --end DATE [--held-out-from DATE] ...

Exit codes: 0 done (a session over and flat, a closed day, a stop on request); 1 a child went
FATAL or the launcher crashed; 2 the operator must act (config, keys, real money, a launcher
already running); 3 the engine halted.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import click

from common.config import STRATEGIES
from common.env import load_endpoints
from common.errors import ConfigError
from common.process_start import date_option
from launch.optimize import DEFAULT_BUDGET_S, DEFAULT_MIDDAY, OptimizerSettings, parse_windows
from launch.paths import MODES, Mode, ModePaths
from launch.sequence import DOWNLOAD_SESSIONS, REAL_MONEY_FLAG, WARMUP_SESSIONS, LaunchOptions
from optimize.run import DEFAULT_SEED, DEFAULT_TRIALS
from optimize.windows import DEFAULT_WINDOWS

log = logging.getLogger("launch")

OPTIMIZER_OPTIONS = [
    click.option("--trials", type=click.IntRange(1), default=None,
                 help=f"Optuna trials per optimizer phase [default: {DEFAULT_TRIALS}]."),
    click.option("--storage", default=None,
                 help="Study storage: a journal file or a database URL (postgresql://...) that "
                      "several workers or machines share [default: <data>/optuna/journal.log]."),
    click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
                 help="Optimizer worker processes sharing the study."),
    click.option("--optimizer-seed", "seed_opt", type=click.IntRange(0), default=DEFAULT_SEED,
                 show_default=True, help="Seed of the optimizer's TPE sampler."),
    click.option("--windows", default=",".join(str(n) for n in (DEFAULT_WINDOWS.warmup,
                 DEFAULT_WINDOWS.scored, DEFAULT_WINDOWS.held_out)), show_default=True,
                 help="Optimizer sessions: WARMUP,SCORED,HELD_OUT (oldest to most recent)."),
    click.option("--optimize-budget", "budget_s", type=click.FloatRange(0), default=DEFAULT_BUDGET_S,
                 show_default=True,
                 help="Once the session is open, the optimization holds up trading: it is skipped "
                      "when today's has already run (a relaunch trades again at once), otherwise "
                      "its trials stop after this many seconds (0: skip it). The same box holds "
                      "the midday re-optimization. Before the open every trial runs."),
]  # fmt: skip


def _hhmm(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    parts = value.split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts) \
            or int(parts[0]) > 23 or int(parts[1]) > 59:  # fmt: skip
        raise click.BadParameter(f"{value!r} is not a time HH:MM (New York)")
    return value


def _market_state_default() -> Path:
    from launch.mock_market import default_state_file

    return default_state_file()


def run_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by ``live`` and ``mock``."""
    opts = [
        click.option("--strategy", type=click.Choice(STRATEGIES), default="rotation", show_default=True,
                     help="Which strategy to trade."),
        click.option("--skip-optimize", is_flag=True,
                     help="Trade with the current parameters, without optimizing first."),
        *OPTIMIZER_OPTIONS,
        click.option("--midday-optimize", is_flag=True,
                     help="At the midday time, stop the engine, download the morning's bars, "
                          "re-optimize with them as the last held-out session (time-boxed by "
                          "--optimize-budget) and restart it (positions kept)."),
        click.option("--midday-time", callback=_hhmm, default=None,
                     help=f"New York time of the midday re-optimization, HH:MM [default: {DEFAULT_MIDDAY}]."),
        click.option("--fifo", type=click.Path(path_type=Path), default=None,
                     help="FIFO between bridge and engine [default: /tmp/alpaca_bars.fifo; "
                          "mock: /tmp/alpaca_bars_mock.fifo]."),
        click.option("--config-dir", type=click.Path(path_type=Path, file_okay=False),
                     default=Path("config"), show_default=True,
                     help="Strategy configs and best_params.json (mock: data/mock/best_params.json)."),
        click.option("--download-sessions", type=click.IntRange(WARMUP_SESSIONS, 250),
                     default=DOWNLOAD_SESSIONS, show_default=True,
                     help=f"Sessions of history to keep up to date ({WARMUP_SESSIONS} warm-up + "
                          "what the optimizer scores)."),
    ]  # fmt: skip
    for o in reversed(opts):
        f = o(f)

    @functools.wraps(f)
    def wrapper(**kw: Any) -> Any:
        if kw.get("midday_time") and not kw.get("midday_optimize"):
            raise click.UsageError("--midday-time is the time of --midday-optimize: give both")
        return f(**kw)

    return wrapper


def _settings(trials: int | None, seed: int, workers: int, storage: str | None, windows: str,
              budget_s: float = DEFAULT_BUDGET_S) -> OptimizerSettings:  # fmt: skip
    try:
        spec = parse_windows(windows)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--windows") from None
    return OptimizerSettings(seed=seed, workers=workers, storage=storage, windows=spec,
                             budget_s=budget_s).with_trials(trials)  # fmt: skip


def _launch_options(mode: Mode, kw: dict[str, Any], **extra: Any) -> LaunchOptions:
    opt = _settings(kw["trials"], kw["seed_opt"], kw["workers"], kw["storage"], kw["windows"],
                    kw["budget_s"])  # fmt: skip
    midday = (kw["midday_time"] or DEFAULT_MIDDAY) if kw["midday_optimize"] else None
    try:
        return LaunchOptions(mode, kw["strategy"], kw["skip_optimize"], kw["fifo"], kw["config_dir"],
                             download_sessions=kw["download_sessions"], optimizer=opt, midday=midday,
                             **extra)  # fmt: skip
    except ValueError as e:
        raise click.UsageError(str(e)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The intraday trader: one command for a whole session (design.md §1).

    `live` trades the account of config.env (paper by default); `mock` runs the very same
    pipeline against a local mock market. Run either at any time of day, as often as you
    like: it takes over from a previous run, waits for the open, or says the market is closed.
    """


@main.command()
@run_options
@click.option("--config-env", type=click.Path(path_type=Path, dir_okay=False), default=Path("config.env"),
              show_default=True, help="Endpoints and keys (the environment wins).")
@click.option(REAL_MONEY_FLAG, "real_money", is_flag=True,
              help="Allow ALPACA_TRADING_URL to be Alpaca's real-money API.")
def live(config_env: Path, real_money: bool, **kw: Any) -> None:
    """Trade today's session on the account of config.env."""
    from launch.sequence import Launch

    opts = _launch_options(Mode.LIVE, kw, config_env=config_env, real_money=real_money)
    sys.exit(_run(Launch(opts)))


@main.command()
@run_options
@click.option("--date", "replay_date", callback=date_option, default=None,
              help="Session the new mock market replays, YYYY-MM-DD [default: the last before today].")
@click.option("--speed", type=click.FloatRange(1, 10_000), default=None,
              help="Simulated seconds per wall second of a new market [default: 100, a session "
                   "in about 4 minutes].")
@click.option("--start-time", callback=_hhmm, default=None,
              help="New York time a new market's clock starts at [default: 09:05].")
@click.option("--seed", type=click.IntRange(0), default=None,
              help="Seed of a new synthetic market [default: 7].")
@click.option("--market-state", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="State file of the mock market to reuse or start [default: data/mockmarket/state.json].")
@click.option("--new-market", is_flag=True,
              help="Replace a running mock market (one a launcher started) with a new one.")
def mock(replay_date: date | None, speed: float | None, start_time: str | None, seed: int | None,
         market_state: Path | None, new_market: bool, **kw: Any) -> None:
    """Run the whole pipeline on a local mock market (synthetic data, simulated clock).

    A running mock market is reused (a relaunch meets the same market and account);
    otherwise one is started and outlives the launcher until its session is over.
    """
    from launch.mock_market import MarketOptions
    from launch.sequence import Launch

    market = MarketOptions(
        state_file=market_state or _market_state_default(), sessions=kw["download_sessions"] + 1,
        replay_date=replay_date, speed=speed, start_time=start_time, seed=seed, new_market=new_market,
    )  # fmt: skip
    opts = _launch_options(Mode.MOCK, kw, market=market)
    sys.exit(_run(Launch(opts)))


def _run(launch: Any) -> int:
    launch.stop.install()
    return launch.run()


MODE = click.option("--mode", type=click.Choice(MODES), default=None,
                    help="live or mock [default: every mode that has run here].")  # fmt: skip


def _modes(mode: str | None) -> list[ModePaths]:
    if mode is not None:
        return [ModePaths.of(mode)]
    found = [ModePaths.of(m) for m in MODES if ModePaths.of(m).run_dir.is_dir()]
    return found or [ModePaths.of(Mode.LIVE)]


@main.command()
@click.option("--mode", type=click.Choice(MODES), default=Mode.LIVE.value, show_default=True,
              help="Download for live (data/) or the running mock market (data/mock/).")
@click.option("--strategy", type=click.Choice(STRATEGIES), default="rotation", show_default=True)
@click.option("--config-dir", type=click.Path(path_type=Path, file_okay=False), default=Path("config"),
              show_default=True)
@click.option("--config-env", type=click.Path(path_type=Path, dir_okay=False), default=Path("config.env"),
              show_default=True)
@click.option("--download-sessions", type=click.IntRange(WARMUP_SESSIONS, 250), default=DOWNLOAD_SESSIONS,
              show_default=True, help="Sessions of history to keep up to date.")
@click.option("--market-state", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Mock market state file [default: data/mockmarket/state.json].")
def download(mode: str, strategy: str, config_dir: Path, config_env: Path, download_sessions: int,
             market_state: Path | None) -> None:  # fmt: skip
    """Bring history (and today's bars so far) up to date, requesting only what is missing."""
    from launch.console import setup_console_logging
    from launch.download import run_download_command

    setup_console_logging()
    opts = LaunchOptions(Mode(mode), strategy, True, None, config_dir, config_env, download_sessions)
    sys.exit(run_download_command(opts, market_state or _market_state_default()))


def _watched(mode: str | None) -> ModePaths:
    """The asked mode, else the one whose launcher runs, else the last that ran."""
    if mode is not None:
        return ModePaths.of(mode)
    from launch.pidfiles import LAUNCHER, live_record

    found = _modes(None)
    running = [p for p in found if live_record(p.run_dir, LAUNCHER) is not None]
    return (running or found)[-1]


def _endpoints_of(paths: ModePaths, config_env: Path, market_state: Path | None) -> tuple[Any, str | None]:
    """(the broker's endpoints of the mode or None, why none)."""
    try:
        if paths.mode is Mode.LIVE:
            return load_endpoints(config_env), None
        from launch.mock_market import running_market

        m = running_market(market_state or _market_state_default())
        return (None, "no mock market is running") if m is None else (m.endpoints(), None)
    except ConfigError as e:
        return None, str(e)


@main.command()
@click.option("--mode", type=click.Choice(MODES), default=Mode.LIVE.value, show_default=True,
              help="Optimize on live history (data/) or mock history (data/mock/).")
@click.option("--strategy", type=click.Choice(STRATEGIES), default="rotation", show_default=True)
@click.option("--config-dir", type=click.Path(path_type=Path, file_okay=False), default=Path("config"),
              show_default=True, help="Strategy configs; best_params.json is written here "
                                      "(mock: data/mock/best_params.json).")
@click.option("--until", "until", callback=date_option, default=None,
              help="Last held-out session, YYYY-MM-DD [default: the last session on disk].")
@click.option("--seed", "seed_opt", type=click.IntRange(0), default=DEFAULT_SEED, show_default=True,
              help="Seed of the TPE sampler.")
@click.option("--trials", type=click.IntRange(1), default=None,
              help=f"Optuna trials per phase [default: {DEFAULT_TRIALS}].")
@click.option("--storage", default=None,
              help="Study storage: a journal file or a database URL (postgresql://...) shared by "
                   "several workers or machines [default: <data>/optuna/journal.log].")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes sharing the study.")
@click.option("--windows", default=",".join(str(n) for n in (DEFAULT_WINDOWS.warmup,
              DEFAULT_WINDOWS.scored, DEFAULT_WINDOWS.held_out)), show_default=True,
              help="Sessions: WARMUP,SCORED,HELD_OUT (oldest to most recent).")
def optimize(mode: str, strategy: str, config_dir: Path, until: date | None, seed_opt: int,
             trials: int | None, storage: str | None, workers: int, windows: str) -> None:  # fmt: skip
    """Optimize the strategy's parameters on the history on disk (two Optuna phases), and
    promote them to best_params.json only if they also win on the held-out sessions."""
    from common.calendar import ny_datetime, nyse, to_ms
    from common.errors import OperationalError
    from common.exit_codes import EXIT_CRASH, EXIT_OK, EXIT_OPERATOR
    from launch.console import setup_console_logging
    from launch.optimize import last_session_on_disk, optimize_once

    setup_console_logging()
    settings = _settings(trials, seed_opt, workers, storage, windows)
    paths = ModePaths.of(mode)
    cal = nyse()
    try:
        from common.config import strategy_symbols

        if until is None:
            until = last_session_on_disk(paths.data_dir, strategy_symbols(strategy, config_dir)[0], cal)
        last = cal.last_session_on_or_before(until)
        now = to_ms(ny_datetime(cal.next_session(last.date).date, "00:00"))
        out = optimize_once(settings, strategy, paths.data_dir, config_dir, now, calendar=cal,
                            params_file=paths.best_params(config_dir))  # fmt: skip
    except OperationalError as e:
        log.error("cannot optimize: %s", e)
        sys.exit(EXIT_OPERATOR)
    except ValueError as e:
        log.error("cannot optimize: %s", e)
        sys.exit(EXIT_OPERATOR)
    except Exception:
        log.exception("the optimizer crashed")
        sys.exit(EXIT_CRASH)
    sys.exit(EXIT_OK if out is not None else EXIT_CRASH)


@main.command()
@MODE
@click.option("--json", "as_json", is_flag=True, help="One JSON object per mode, for scripts.")
@click.option("--watch", is_flag=True, help="A live view, refreshed in place until Ctrl-C: processes, clock, "
              "feed lag, strategy state, positions with P&L, today's trades, warnings.")
@click.option("--interval", type=click.FloatRange(0.2, 60), default=2.0, show_default=True,
              help="--watch: seconds between two refreshes (the broker is asked every 10 s at most).")
@click.option("--config-env", type=click.Path(path_type=Path, dir_okay=False), default=Path("config.env"),
              show_default=True)
@click.option("--market-state", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Mock market state file [default: data/mockmarket/state.json].")
def status(mode: str | None, as_json: bool, watch: bool, interval: float, config_env: Path,
           market_state: Path | None) -> None:  # fmt: skip
    """Processes (pid, uptime, CPU, memory), market clock, last bar and lag, positions, P&L."""
    from launch.status import format_status, gather, status_json

    if watch:
        if as_json:
            raise click.UsageError("--watch and --json do not go together")
        from launch.status_watch import run_watch

        paths = _watched(mode)
        sys.exit(run_watch(paths, lambda: _endpoints_of(paths, config_env, market_state), interval_s=interval))
    for paths in _modes(mode):
        endpoints, why = _endpoints_of(paths, config_env, market_state)
        st = gather(paths, endpoints, why)
        click.echo(status_json(st) if as_json else "\n".join(format_status(st)))


@main.command()
@MODE
@click.option("--market", is_flag=True, help="Mock: also stop the mock market a launcher started.")
@click.option("--market-state", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Mock market state file [default: data/mockmarket/state.json].")
def stop(mode: str | None, market: bool, market_state: Path | None) -> None:
    """Stop a running launcher and its processes (from another shell)."""
    from launch.console import setup_console_logging
    from launch.stop import stop_mode

    setup_console_logging()
    done: list[str] = []
    for paths in _modes(mode):
        done += stop_mode(paths, market=market and paths.mode is Mode.MOCK,
                          market_state=market_state or _market_state_default())  # fmt: skip
    click.echo("\n".join(done) if done else "nothing was running")


def _report_modes(mode: str | None) -> list[ModePaths]:
    """The asked mode, else the one whose journal changed last."""
    if mode is not None:
        return [ModePaths.of(mode)]
    found = [ModePaths.of(m) for m in MODES if ModePaths.of(m).journal.is_file()]
    found.sort(key=lambda p: p.journal.stat().st_mtime)
    return found[-1:] or [ModePaths.of(Mode.LIVE)]


@main.command()
@click.option("--date", "day", callback=date_option, default=None,
              help="Session date, YYYY-MM-DD [default: the journal's latest].")
@MODE
@click.option("--strategy", type=click.Choice(STRATEGIES), default=None,
              help="[default: every strategy traded that day].")
@click.option("--config-dir", type=click.Path(path_type=Path, file_okay=False), default=Path("config"),
              show_default=True, help="Strategy configs and best_params.json.")
@click.option("--journal", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Another journal (an archived mock journal) [default: the mode's].")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write here [default: <log-dir>/reports/report_<date>_<strategy>.html].")
def report(day: date | None, mode: str | None, strategy: str | None, config_dir: Path, journal: Path | None,
           out: Path | None) -> None:  # fmt: skip
    """Write the HTML session report of a traded day (it opens offline, in any browser)."""
    from launch.journal_record import JournalReadError
    from launch.report import latest_sessions, strategies_on, write_day_report
    from launch.sequence import load_config_of

    paths = _report_modes(mode)[0]
    jpath = journal or paths.journal
    try:
        if day is None:
            day, names = latest_sessions(jpath, strategy)
            if day is None:
                raise click.ClickException(f"nothing traded in {jpath}: no session to report")
        else:
            names = [strategy] if strategy else strategies_on(jpath, day)
            if not names:
                raise click.ClickException(f"{jpath} has no decision or fill on {day}")
        if strategy is not None:
            names = [strategy]
        if out is not None and len(names) > 1:
            raise click.UsageError(f"--out names one file but {day} has {len(names)} strategies: give --strategy")
        for name in names:
            cfg = load_config_of(name, config_dir)
            path = write_day_report(paths, name, day, cfg, config_dir=config_dir, journal=jpath, out=out)
            click.echo(f"Session report ({name}, {day}, {paths.mode}): {path}")
    except (JournalReadError, ConfigError, ValueError) as e:
        raise click.ClickException(str(e)) from None


@main.command()
@click.option("--strategy", type=click.Choice(STRATEGIES), default="rotation", show_default=True)
@click.option("--start", callback=date_option, required=True, help="First session, YYYY-MM-DD.")
@click.option("--end", callback=date_option, required=True, help="Last session, YYYY-MM-DD.")
@click.option("--held-out-from", callback=date_option, default=None,
              help="Sessions from this date on are reported as held-out [default: no split].")
@click.option("--warmup-sessions", type=click.IntRange(0, 250), default=WARMUP_SESSIONS, show_default=True,
              help="Sessions before --start the signals warm up on.")
@click.option("--mode", type=click.Choice(MODES), default=Mode.LIVE.value, show_default=True,
              help="Whose history: live (data/) or mock (data/mock/).")
@click.option("--config-dir", type=click.Path(path_type=Path, file_okay=False), default=Path("config"),
              show_default=True, help="Strategy configs and best_params.json.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write here [default: logs/backtests/report_<strategy>_<start>_<end>.html].")
def backtest(strategy: str, start: date, end: date, held_out_from: date | None, warmup_sessions: int,
             mode: str, config_dir: Path, out: Path | None) -> None:  # fmt: skip
    """Backtest the strategy and write the same HTML report as a traded day (and print the text one)."""
    from engine.backtest import format_report, run_backtest
    from launch.backtest_record import backtest_record
    from launch.report import backtest_report_path, generated_line
    from launch.report_html import write_report
    from launch.sequence import load_config_of

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if end < start:
        raise click.BadParameter(f"--end {end} is before --start {start}")
    if held_out_from is not None and not start < held_out_from <= end:
        raise click.BadParameter(f"--held-out-from {held_out_from} must be after --start {start} and not after --end {end}")
    data_dir = ModePaths.of(mode).data_dir
    try:
        cfg = load_config_of(strategy, config_dir)
        result = run_backtest(cfg, start, end, data_dir=data_dir, held_out_from=held_out_from,
                              warmup_sessions=warmup_sessions)  # fmt: skip
        rec = backtest_record(result, data_dir, config_dir=config_dir)
    except (ConfigError, ValueError, OSError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(format_report(result))
    path = write_report(rec, out or backtest_report_path(strategy, result.start, result.end),
                        generated=generated_line(f"history in {data_dir}"))  # fmt: skip
    click.echo(f"Backtest report: {path}")


__all__ = ["main"]

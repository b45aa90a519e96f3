"""The launch sequence of design.md §1, the same in live and mock mode.

1. one launcher per mode directory and per account (locks), config validated (errors name
   file and key), endpoints and keys (mock: the mock market's), real money refused unless
   the operator says so, keys checked with GET /v2/account;
2. whatever a previous run left running (pid files) is stopped before anything starts;
3. the broker's clock decides: a closed day or a session already over ends the run (exit 0);
4. history and today's bars so far are brought up to date (only what is missing);
5. before the open, the launcher waits (countdown) and starts the processes shortly before it;
6. optimization (not part of this version: the current parameters are used, and said so);
7. the reconciliation preview: the account's positions as the engine will find them;
8. the bridge and the engine are started and supervised; when the engine ends the session
   (flat after the close) the bridge is stopped and the session summary printed.

Exit codes (:mod:`common.exit_codes`): 0 done, a closed day, or stopped by SIGTERM/SIGINT;
1 a child went FATAL or the launcher crashed; 2 the operator must act; 3 the engine halted.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click
import psutil

from common.calendar import TradingCalendar, iso_ny, ny_date, nyse
from common.config import StrategyConfig, load_strategy_config
from common.env import KEY_VAR, SECRET_VAR, AlpacaEndpoints, load_endpoints
from common.errors import (
    AuthError,
    ConfigError,
    ForbiddenError,
    OperationalError,
    TemporaryError,
    TraderError,
)
from common.exit_codes import EXIT_CRASH, EXIT_HALTED, EXIT_OK, EXIT_OPERATOR, describe
from common.history_download import (
    TODAYS_BARS,
    DownloadReport,
    plan_download,
    run_download,
    scan,
)
from common.private_files import make_new_files_private
from common.rest import AlpacaRestClient
from common.rest_models import Account, BrokerClock
from common.stop_flag import StopFlag
from engine.strategies import make_strategy
from launch.children import ChildSettings, bridge_command, engine_command, starter
from launch.console import add_secrets, setup_launch_logging
from launch.lock import AccountLock, LockHeld, account_lock_path
from launch.market_wait import wait_until
from launch.paths import Mode, ModePaths, log_stamp
from launch.pidfiles import BRIDGE, ENGINE, LAUNCHER, remove_record, stop_recorded, write_record
from launch.preview import money, preview_lines
from launch.summary import SessionSummary, bridge_reconnects, read_journal
from launch.supervisor import Change, Child, ChildState, Policy, Supervisor

if TYPE_CHECKING:
    from launch.mock_market import Market, MarketOptions

log = logging.getLogger("launch")

WARMUP_SESSIONS = 20
"""Full sessions the engine warms up on (its ``--history-sessions``)."""
SCORED_SESSIONS = 10
"""Sessions the optimizer scores after its own warm-up (kept on disk for it)."""
DOWNLOAD_SESSIONS = WARMUP_SESSIONS + SCORED_SESSIONS
REAL_MONEY_HOST = "api.alpaca.markets"
REAL_MONEY_FLAG = "--i-understand-real-money"
START_LEAD_MS = 60_000
"""Broker time before the open at which the bridge and the engine start (09:29)."""
START_LEAD_WALL_S = 5.0
"""...or this much wall time before it, if earlier (a fast mock clock)."""
TICK_S = 0.2


@dataclass(frozen=True)
class LaunchOptions:
    mode: Mode
    strategy: str = "rotation"
    skip_optimize: bool = False
    fifo: Path | None = None
    config_dir: Path = Path("config")
    config_env: Path = Path("config.env")
    download_sessions: int = DOWNLOAD_SESSIONS
    real_money: bool = False
    market: MarketOptions | None = None
    """Mock mode: how to find or start the market."""
    policy: Policy = field(default_factory=Policy)

    def __post_init__(self) -> None:
        if self.download_sessions < WARMUP_SESSIONS:
            raise ValueError(f"--download-sessions {self.download_sessions} is fewer than the "
                             f"{WARMUP_SESSIONS} sessions the engine warms up on")  # fmt: skip


class RealMoneyRefused(OperationalError):
    pass


def check_real_money(endpoints: AlpacaEndpoints, allowed: bool) -> None:
    if urlsplit(endpoints.trading_url).hostname == REAL_MONEY_HOST and not allowed:
        raise RealMoneyRefused(
            f"ALPACA_TRADING_URL={endpoints.trading_url} is Alpaca's real-money API; "
            f"pass {REAL_MONEY_FLAG} to trade real money (paper: https://paper-api.alpaca.markets)"
        )


def verify_account(rest: AlpacaRestClient) -> Account:
    """GET /v2/account; refused keys become an error naming the two variables (never values)."""
    try:
        account = rest.get_account()
    except (AuthError, ForbiddenError) as e:
        raise ConfigError(
            f"the broker refused the API keys (HTTP {e.status}) at {rest.endpoints.trading_url}: "
            f"check {KEY_VAR} and {SECRET_VAR} (in the environment or config.env)"
        ) from None
    if account.trading_blocked or account.account_blocked:
        raise OperationalError(f"account {account.account_number} is blocked from trading")
    return account


def load_config(opts: LaunchOptions) -> tuple[StrategyConfig, Path | None]:
    """The strategy config with the optimizer's params if present (as the engine loads it)."""
    params = opts.config_dir / "best_params.json"
    params_path = params if params.exists() else None
    return load_strategy_config(opts.strategy, None, params_path, config_dir=opts.config_dir), params_path


def download(
    rest: AlpacaRestClient,
    symbols: tuple[str, ...],
    data_dir: Path,
    *,
    sessions: int,
    now_ms: int,
    calendar: TradingCalendar,
) -> DownloadReport:
    """History and today's bars so far, only what is missing, with a progress bar."""
    on_disk = scan(data_dir, symbols, calendar=calendar, now_ms=now_ms, sessions=sessions)
    plan = plan_download(symbols, on_disk, calendar=calendar, now_ms=now_ms, sessions=sessions)
    span = f"{plan.history[0].date}..{plan.history[-1].date}"
    if plan.up_to_date:
        log.info("history up to date: %d sessions %s, %d symbols, in %s", len(plan.history), span,
                 len(symbols), data_dir)  # fmt: skip
        return DownloadReport(plan)
    missing = {d for r in plan.requests if r.kind == "history" for d in r.sessions}
    today = [r for r in plan.requests if r.kind == "today"]
    log.info("downloading %d of %d sessions (%s)%s for %d symbols into %s", len(missing),
             len(plan.history), span,
             f", and today {today[0].describe()[6:]}" if today else "", len(symbols), data_dir)  # fmt: skip
    with click.progressbar(length=plan.steps, label="Downloading bars", file=sys.stdout,
                           show_pos=True, item_show_func=lambda r: r) as bar:  # fmt: skip
        report = run_download(plan, rest, data_dir, on_disk, calendar=calendar,
                              on_step=lambda what: bar.update(1, what))  # fmt: skip
    for w in report.warnings():
        log.warning("download: %s", w)
    if report.today_rows:
        n = max(report.today_rows.values())
        log.info("today's bars: %d minute(s) up to %s in %s", n,
                 iso_ny(plan.last_closed_ms or 0)[11:16], data_dir / TODAYS_BARS)  # fmt: skip
    return report


def describe_ending(code: int) -> str:
    return {
        EXIT_OK: "session over, flat",
        EXIT_HALTED: "halted",
        EXIT_OPERATOR: "stopped: the operator must act",
    }.get(code, describe(code))


class Launch:
    """One run of the launcher (``python -m launch live|mock``)."""

    def __init__(
        self,
        opts: LaunchOptions,
        *,
        stop: StopFlag | None = None,
        environ: Mapping[str, str] | None = None,
        calendar: TradingCalendar | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        console: bool = True,
    ) -> None:
        self.opts = opts
        self.paths = ModePaths.of(opts.mode)
        self.stop = stop or StopFlag()
        self.environ = dict(os.environ if environ is None else environ)
        self.calendar = calendar or nyse()
        self.mono = monotonic
        self.sleep = sleep
        self.console = console
        self.stamp = log_stamp()
        self.fifo = opts.fifo or self.paths.default_fifo
        self.locks: list[AccountLock] = []
        self.rest: AlpacaRestClient | None = None
        self.market: Market | None = None
        self.starter = starter
        """How a child's process is started (tests drive the supervision with fake processes)."""

    # ------------------------------------------------------------------ run
    def run(self) -> int:
        # logs, pid files, the engine's journal and state: account data, private to the user
        # (common.private_files); the bridge and the engine inherit the umask
        umask = make_new_files_private()
        try:
            return self._logged_run()
        finally:
            os.umask(umask)

    def _logged_run(self) -> int:
        self.paths.run_dir.mkdir(parents=True, exist_ok=True)
        log_file = setup_launch_logging(self.paths, self.stamp, console=self.console)
        log.info("launcher %s mode, strategy %s, pid %d, log %s", self.opts.mode, self.opts.strategy,
                 os.getpid(), log_file)  # fmt: skip
        try:
            return self._run()
        except LockHeld as e:
            log.error("%s", e)
            return EXIT_OPERATOR
        except OperationalError as e:
            log.error("cannot run: %s", e)
            return EXIT_OPERATOR
        except TemporaryError as e:
            log.error("the broker did not answer (%s); try again in a moment", e)
            return EXIT_CRASH
        except Exception:
            log.exception("the launcher crashed")
            return EXIT_CRASH
        finally:
            remove_record(self.paths.run_dir, LAUNCHER, os.getpid())
            if self.rest is not None:
                self.rest.close()
            for lock in reversed(self.locks):
                lock.release()

    def _lock(self, path: Path, what: str) -> AccountLock:
        lock = AccountLock(path, what)
        lock.acquire({
            "pid": os.getpid(), "mode": str(self.opts.mode), "started": iso_ny(int(time.time() * 1000)),
            "log_dir": str(self.paths.log_dir.resolve()), "run_dir": str(self.paths.run_dir.resolve()),
        })  # fmt: skip
        self.locks.append(lock)
        return lock

    def _endpoints(self) -> tuple[AlpacaEndpoints, dict[str, str], Path]:
        """(endpoints, the children's environment, the children's --config-env)."""
        if self.opts.mode is Mode.LIVE:
            endpoints = load_endpoints(self.opts.config_env, self.environ)
            check_real_money(endpoints, self.opts.real_money)
            return endpoints, dict(self.environ), self.opts.config_env
        from launch.mock_market import ensure_market

        if self.opts.market is None:
            raise ValueError("mock mode needs MarketOptions")
        self.market = ensure_market(self.opts.market, self.paths, self.stamp)
        return self.market.endpoints(), self.market.child_env(self.environ), Path(os.devnull)

    def _run(self) -> int:
        self._lock(self.paths.run_dir / "launcher.lock", f"{self.opts.mode} mode in {Path.cwd()}")
        write_record(self.paths.run_dir, LAUNCHER, os.getpid(), psutil.Process().cmdline())
        cfg, params = load_config(self.opts)
        log.info("config %s%s: %d symbols", self.opts.config_dir / f"{self.opts.strategy}_strategy.json",
                 f" with params {params}" if params else "", len(cfg.symbols))  # fmt: skip
        endpoints, child_env, child_config_env = self._endpoints()
        add_secrets(endpoints.secrets())
        log.info("broker: %s", endpoints.trading_url)
        self.rest = rest = AlpacaRestClient(endpoints, timeout=10.0, max_retries=3)
        account = verify_account(rest)
        log.info("account %s (%s): equity %s, cash %s", account.account_number, account.status,
                 money(account.equity), money(account.cash))  # fmt: skip
        number = account.account_number or account.id or "unknown"
        lock = self._lock(account_lock_path(endpoints.trading_url, number),
                          f"account {number} at {endpoints.trading_url}")
        self._stop_leftovers(lock.previous)
        if self.market is not None and self.market.fresh:
            from launch.mock_market import archive_journal

            archive_journal(self.paths, self.stamp)

        clock = rest.get_clock()
        now = clock.timestamp_ms
        day = ny_date(now)
        if not self.calendar.is_session(day):
            log.info("the market is closed today (%s %s, broker time %s); next open %s: nothing to do",
                     day.strftime("%A"), day, iso_ny(now)[11:16], iso_ny(int(clock.next_open.timestamp() * 1000)))  # fmt: skip
            return EXIT_OK
        session = self.calendar.session(day)
        if now >= session.close_ms:
            log.info("the %s session closed at %s ET (broker time %s): nothing to trade until the "
                     "next open, %s", day, iso_ny(session.close_ms)[11:16], iso_ny(now)[11:16],
                     iso_ny(int(clock.next_open.timestamp() * 1000)))  # fmt: skip
            held = preview_lines(rest.get_positions())
            if held[0].startswith("Found"):
                log.warning("positions are still open after the close:")
                for line in held[1:]:
                    log.warning("%s", line)
            self._after_session()
            return EXIT_OK

        data_dir = self.paths.data_dir
        download(rest, cfg.symbols, data_dir, sessions=self.opts.download_sessions, now_ms=now,
                 calendar=self.calendar)  # fmt: skip
        if self.stop.requested:
            log.info("%s received: stopping before the session", self.stop.signal)
            return EXIT_OK
        early = rest.get_clock().timestamp_ms < session.open_ms - START_LEAD_MS
        if early and self._wait_for_open(session.open_ms) is None:
            log.info("%s received while waiting for the open: stopping", self.stop.signal)
            return EXIT_OK
        self._optimize()
        for line in preview_lines(rest.get_positions(), make_strategy(cfg)):
            log.info("%s", line)

        settings = ChildSettings(self.opts.strategy, self.fifo, self.opts.config_dir,
                                 child_config_env, WARMUP_SESSIONS)  # fmt: skip
        code, ending, sup = self._supervise(settings, child_env)
        self._summary(cfg.strategy, session.date, ending, sup)
        if code == EXIT_OK and ending == describe_ending(EXIT_OK) and self._past(session.close_ms):
            self._after_session()
        log.info("launcher exiting with code %d (%s)", code, describe(code))
        return code

    # ------------------------------------------------------------------ steps
    def _stop_leftovers(self, previous: dict | None) -> None:
        dirs = [self.paths.run_dir]
        prev_dir = (previous or {}).get("run_dir")
        if isinstance(prev_dir, str) and Path(prev_dir).resolve() != self.paths.run_dir.resolve():
            dirs.append(Path(prev_dir))
        stopped = []
        for d in dirs:
            stopped += stop_recorded(d)
        if stopped:
            log.warning("stopped %d process(es) a previous launcher left running: %s", len(stopped),
                        ", ".join(f"{r.name} pid {r.pid}" for r in stopped))  # fmt: skip

    def _wait_for_open(self, open_ms: int) -> BrokerClock | None:
        assert self.rest is not None
        rest = self.rest
        # the clock's pace is measured while waiting: a fast mock clock starts the processes
        # START_LEAD_WALL_S wall seconds ahead, so they are up before the first bar
        return wait_until(open_ms - START_LEAD_MS, rest.get_clock, self.stop,
                          lambda s: log.info("%s", s),
                          what=f"the market opens at {iso_ny(open_ms)[11:16]} ET; starting the bridge and the engine",
                          lead_wall_s=START_LEAD_WALL_S, sleep=self.sleep,
                          monotonic=self.mono)  # fmt: skip

    def _optimize(self) -> None:
        if self.opts.skip_optimize:
            log.info("optimization skipped (--skip-optimize): trading with the current parameters")
        else:
            log.info("optimization: no optimizer in this version yet; trading with the current "
                     "parameters (pass --skip-optimize to say so)")  # fmt: skip

    def _on_change(self, c: Change) -> None:
        level = logging.ERROR if c.new is ChildState.FATAL else (
            logging.WARNING if c.new is ChildState.BACKOFF else logging.INFO)  # fmt: skip
        log.log(level, "%s: %s -> %s (%s)", c.child, c.old, c.new, c.why)

    def _supervise(self, settings: ChildSettings, env: dict[str, str]) -> tuple[int, str, Supervisor]:
        bridge_cmd = bridge_command(self.paths, settings, env, self.stamp)
        engine_cmd = engine_command(self.paths, settings, env, self.stamp)
        pol = self.opts.policy
        bridge = Child(BRIDGE, self.starter(bridge_cmd, self.paths), pol, self._on_change)
        engine = Child(ENGINE, self.starter(engine_cmd, self.paths), pol, self._on_change)
        sup = Supervisor([engine, bridge])
        log.info("starting the engine (log %s) and the bridge (log %s)", engine_cmd.log_file,
                 bridge_cmd.log_file)  # fmt: skip
        now = self.mono()
        engine.start(now)  # first: its warm-up is the way to the first decision
        bridge.start(now)
        code: int | None = None
        ending = ""
        bridge_trouble: tuple[int, str] | None = None
        bridge_noted = False
        while True:
            now = self.mono()
            sup.transition(now)
            if code is None:
                if self.stop.requested:
                    code, ending = EXIT_OK, f"stopped by {self.stop.signal}"
                    log.info("%s received: stopping the engine and the bridge", self.stop.signal)
                    sup.stop_all(now)
                elif engine.state is ChildState.FATAL:
                    code, ending = EXIT_CRASH, "engine FATAL"
                    log.error("FATAL: the engine keeps failing (%s); stopping the bridge. Its log: %s",
                              engine.fatal_reason, engine_cmd.log_file)  # fmt: skip
                    sup.stop_all(now)
                elif engine.state is ChildState.EXITED:
                    rc = engine.returncode if engine.returncode is not None else EXIT_CRASH
                    code = rc if rc in (EXIT_OK, EXIT_HALTED, EXIT_OPERATOR) else EXIT_CRASH
                    ending = describe_ending(code)
                    log.info("the engine ended (%s): stopping the bridge", describe(rc))
                    sup.stop_all(now)
                elif not bridge_noted and bridge.state in (ChildState.EXITED, ChildState.FATAL):
                    bridge_noted = True
                    bridge_trouble = self._bridge_gone(bridge, bridge_cmd.log_file)
            if code is not None and sup.settled:
                for c in sup.children:
                    if c.pid is not None:
                        remove_record(self.paths.run_dir, c.name, c.pid)
                if bridge_trouble is not None and code == EXIT_OK:
                    code = bridge_trouble[0]
                    ending = f"{ending}; {bridge_trouble[1]}"
                return code, ending, sup
            self.sleep(TICK_S)

    @staticmethod
    def _bridge_gone(bridge: Child, log_file: Path) -> tuple[int, str] | None:
        """The bridge ended for good while the engine trades: the engine carries on (it takes
        closed minutes from REST when no batch comes, and flattens at the close), so positions
        are never left unmanaged; the launcher's exit code tells the operator afterwards."""
        rc = bridge.returncode if bridge.returncode is not None else EXIT_CRASH
        if bridge.state is ChildState.FATAL:
            log.error("FATAL: the bridge keeps failing (%s); its log: %s. The engine carries on with "
                      "REST polling and flattens at the close", bridge.fatal_reason, log_file)  # fmt: skip
            return EXIT_CRASH, "bridge FATAL"
        if rc == EXIT_OPERATOR:
            log.error("the bridge cannot run: the operator must act (see %s). The engine carries on "
                      "with REST polling and flattens at the close", log_file)  # fmt: skip
            return EXIT_OPERATOR, "the bridge needs the operator"
        log.warning("the bridge ended (%s) and is not restarted: the engine carries on with REST "
                    "polling", describe(rc))  # fmt: skip
        return None

    def _summary(self, strategy: str, day: date, ending: str, sup: Supervisor) -> None:
        equity_change = None
        try:
            assert self.rest is not None
            acct = self.rest.get_account()
            if acct.last_equity is not None:
                equity_change = acct.equity - acct.last_equity
        except TraderError as e:  # the summary must not hide the run's ending
            log.warning("the summary's equity change is unknown: %s", e)
        s = SessionSummary(
            strategy=strategy,
            day=day,
            ending=ending,
            tally=read_journal(self.paths.journal, strategy, day),
            equity_change=equity_change,
            reconnects=bridge_reconnects(self.paths.log_file("bridge", self.stamp)),
            restarts={c.name: c.restarts for c in sup.children},
        )
        for line in s.lines():
            log.info("%s", line)

    def _past(self, t_ms: int) -> bool:
        assert self.rest is not None
        try:
            return self.rest.get_clock().timestamp_ms >= t_ms
        except TraderError as e:
            log.warning("cannot read the broker's clock: %s", e)
            return False

    def _after_session(self) -> None:
        """Mock: a market a launcher started is stopped once its session is over."""
        if self.market is None:
            return
        from launch.mock_market import stop_market

        if self.market.started_by_launcher:
            stop_market(self.market, self.paths)
        else:
            log.info("the mock market (pid %d) was not started by a launcher: it keeps running; "
                     "`python -m launch mock --new-market` would replace it", self.market.pid)  # fmt: skip


__all__ = [
    "DOWNLOAD_SESSIONS",
    "REAL_MONEY_FLAG",
    "WARMUP_SESSIONS",
    "Launch",
    "LaunchOptions",
    "check_real_money",
    "download",
    "load_config",
    "verify_account",
]

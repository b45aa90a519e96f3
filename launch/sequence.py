"""The launch sequence of design.md §1, the same in live and mock mode.

1. one launcher per mode directory and per account (locks), config validated (errors name
   file and key), endpoints and keys (mock: the mock market's), real money refused unless
   the operator says so, keys checked with GET /v2/account;
2. whatever a previous run left running (pid files) is stopped before anything starts;
3. the broker's clock decides: a closed day or a session already over ends the run (exit 0);
4. history and today's bars so far are brought up to date (only what is missing);
5. before the open, the launcher waits (countdown) and starts the processes shortly before it;
6. optimization (two Optuna phases and the held-out gate, :mod:`launch.optimize`), unless
   ``--skip-optimize``; it runs before the wait for the open, so an early launch optimizes
   while it waits; once the session is open it is skipped if today's has already run (a
   relaunch trades again at once), else time-boxed (``--optimize-budget``); a failure never
   stops the session (the current parameters are used);
7. the reconciliation preview: the account's positions as the engine will find them;
8. the bridge and the engine are started and supervised; when the engine ends the session
   (flat after the close) the bridge is stopped and the session summary printed. With
   ``--midday-optimize`` the engine is stopped at the midday time, the morning's bars are
   downloaded, the optimizer runs again (time-boxed, today's morning the last held-out
   session) and the engine restarts (:class:`_Midday`);
9. today's bars are brought up to date and the HTML session report written
   (:mod:`launch.report`); its path is printed.

Alerts (:mod:`launch.alerts`, configured by ``ALERT_*`` in config.env) go out from here, on
their own threads: the positions found at the start, a FATAL child, the engine's fills,
halts, feed losses and order trouble (read from its journal, :mod:`launch.alert_watch`),
positions left after the close, and the session summary. The run is recorded in
``<log-dir>/runs/`` (:mod:`launch.run_record`).

Exit codes (:mod:`common.exit_codes`): 0 done, a closed day, or stopped by SIGTERM/SIGINT;
1 a child went FATAL or the launcher crashed; 2 the operator must act; 3 the engine halted.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click
import psutil

from common.calendar import Session, TradingCalendar, iso_ny, ny_date, ny_datetime, nyse, to_ms
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
from launch.alert_config import PREFIX as ALERT_PREFIX
from launch.alert_config import AlertConfig, AlertKind, load_alert_config
from launch.alert_watch import CURSOR, JournalWatcher
from launch.alerts import CLOSE_TIMEOUT_S, Alert, AlertDispatcher, make_dispatcher
from launch.children import ChildSettings, bridge_command, engine_command, starter
from launch.console import add_secrets, setup_launch_logging
from launch.lock import AccountLock, LockHeld, account_lock_path
from launch.market_wait import wait_until
from launch.optimize import OptimizerSettings, optimize_before_trading, plan_before_trading
from launch.paths import Mode, ModePaths, log_stamp
from launch.pidfiles import BRIDGE, ENGINE, LAUNCHER, remove_record, stop_recorded, write_record
from launch.preview import money, preview_lines
from launch.run_record import RunRecorder, broker_facts
from launch.summary import SessionSummary, bridge_reconnects, read_journal
from launch.supervisor import Change, Child, ChildState, Policy, Supervisor
from optimize.last_run import read_last_run
from optimize.windows import DEFAULT_WINDOWS

if TYPE_CHECKING:
    from launch.mock_market import Market, MarketOptions

log = logging.getLogger("launch")

WARMUP_SESSIONS = 20
"""Full sessions the engine warms up on (its ``--history-sessions``)."""
DOWNLOAD_SESSIONS = max(WARMUP_SESSIONS, DEFAULT_WINDOWS.total)
"""Sessions kept on disk: the engine's warm-up, and the optimizer's windows
(:data:`optimize.windows.DEFAULT_WINDOWS`: warm-up + scored + held-out)."""
MIDDAY_POLL_S = 2.0
"""Wall seconds between two looks at the broker's clock while waiting for the midday time."""
REAL_MONEY_HOST = "api.alpaca.markets"
REAL_MONEY_FLAG = "--i-understand-real-money"
START_LEAD_MS = 60_000
"""Broker time before the open at which the bridge and the engine start (09:29)."""
START_LEAD_WALL_S = 5.0
"""...or this much wall time before it, if earlier (a fast mock clock)."""
TICK_S = 0.2
WATCH_EVERY_S = 1.0
"""Wall seconds between two looks at the journal for alerts."""
STOPPING_ALERTS_S = 5.0
"""How long alerts still queued may take when the launcher was asked to stop."""


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
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    midday: str | None = None
    """New York time HH:MM of the midday re-optimization (None: none)."""

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
    params = ModePaths.of(opts.mode).best_params(opts.config_dir)
    params_path = params if params.exists() else None
    return load_strategy_config(opts.strategy, None, params_path, config_dir=opts.config_dir), params_path


def load_config_of(strategy: str, config_dir: Path) -> StrategyConfig:
    """``strategy``'s config in ``config_dir``, with its best params if present."""
    return load_config(LaunchOptions(Mode.LIVE, strategy, config_dir=config_dir))[0]


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


class _Midday:
    """The midday re-optimization inside the supervision loop.

    At ``at_ms`` (broker time) the engine is stopped cleanly (SIGTERM: it exits 0 and keeps
    its positions); once it is gone, the morning's bars are downloaded and the optimizer
    runs, in a thread, while the loop keeps supervising the bridge; then the engine is
    started again: it warms up on history and today's bars, takes over its positions and
    its journal's state, and sends no order for the restart.
    """

    def __init__(self, at_ms: int | None, launch: Launch) -> None:
        self.at_ms = at_ms
        self.launch = launch
        self.next_look = 0.0
        self.stage = "waiting" if at_ms is not None else "done"
        self.thread: threading.Thread | None = None

    def _due(self, now: float) -> bool:
        if now < self.next_look:
            return False
        self.next_look = now + MIDDAY_POLL_S
        assert self.launch.rest is not None and self.at_ms is not None
        return self.launch.rest_now_or(0) >= self.at_ms

    def step(self, now: float, engine: Child) -> bool:
        """Advance; True while the midday restart owns the engine (the loop must not end the run)."""
        if self.stage == "done" or self.launch.stop.requested:
            return False
        if self.stage == "waiting":
            if engine.state is not ChildState.RUNNING or not self._due(now):
                return False
            log.info("midday (%s ET): stopping the engine for the re-optimization; its positions "
                     "stay open", self.launch.opts.midday)  # fmt: skip
            engine.stop(now)
            self.stage = "stopping"
            return True
        if self.stage == "stopping":
            if engine.state is ChildState.STOPPED:
                if engine.returncode not in (EXIT_OK, None):
                    log.warning("the engine ended with %s when stopped for midday", describe(engine.returncode))
                self.thread = threading.Thread(target=self.launch._midday_refresh, args=(self.launch.symbols,),
                                               name="midday-optimize", daemon=True)  # fmt: skip
                self.thread.start()
                self.stage = "optimizing"
            return True
        if self.stage == "optimizing":
            assert self.thread is not None
            if self.thread.is_alive():
                return True
            log.info("midday: restarting the engine with the parameters in force")
            engine.start(now)
            self.stage = "done"
            return True
        return False


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
        self.symbols: tuple[str, ...] = ()
        """The strategy's symbols (the midday download fetches them)."""
        self.endpoints: AlpacaEndpoints | None = None
        """The broker's (the midday refresh opens its own client on them)."""
        self.params_file = self.paths.best_params(opts.config_dir)
        """The optimizer's output this mode's engine trades."""
        self.starter = starter
        """How a child's process is started (tests drive the supervision with fake processes)."""
        self.recorder: RunRecorder | None = None
        self.alert_cfg = AlertConfig()
        self.alerts = AlertDispatcher(())
        self.watcher: JournalWatcher | None = None
        self._alerted_after_close = False
        self._children: dict[str, Child] = {}

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
            if self.market is not None:  # a midday optimization cut short holds the mock clock
                from launch.mock_market import release_stale_hold

                release_stale_hold(self.market, self.paths)
            # stopped on request: `launch stop` waits a bounded time, so a hung channel gets little
            self.alerts.close(STOPPING_ALERTS_S if self.stop.requested else CLOSE_TIMEOUT_S)
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
        from launch.mock_market import ensure_market, release_stale_hold

        if self.opts.market is None:
            raise ValueError("mock mode needs MarketOptions")
        self.market = ensure_market(self.opts.market, self.paths, self.stamp)
        release_stale_hold(self.market, self.paths)  # the launcher lock is ours: its holder is gone
        return self.market.endpoints(), self.market.child_env(self.environ), Path(os.devnull)

    def _run(self) -> int:
        self._lock(self.paths.run_dir / "launcher.lock", f"{self.opts.mode} mode in {Path.cwd()}")
        write_record(self.paths.run_dir, LAUNCHER, os.getpid(), psutil.Process().cmdline())
        self.recorder = RunRecorder(self.paths, self.stamp, mode=str(self.opts.mode), strategy=self.opts.strategy,
                                    pid=os.getpid())  # fmt: skip
        cfg, params = load_config(self.opts)
        self.symbols = cfg.symbols
        log.info("config %s%s: %d symbols", self.opts.config_dir / f"{self.opts.strategy}_strategy.json",
                 f" with params {params}" if params else "", len(cfg.symbols))  # fmt: skip
        self.alert_cfg = load_alert_config(self.opts.config_env, self.environ)
        add_secrets(self.alert_cfg.secrets())
        self.alerts = make_dispatcher(self.alert_cfg, {"mode": str(self.opts.mode), "strategy": self.opts.strategy})
        log.info("alerts: %s", self.alert_cfg.describe())
        endpoints, child_env, child_config_env = self._endpoints()
        child_env = {k: v for k, v in child_env.items() if not k.startswith(ALERT_PREFIX)}  # the launcher's alone (a password)
        self.endpoints = endpoints
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
        self.recorder.update(session_date=day.isoformat())
        self.alerts.context["session_date"] = day.isoformat()
        if now >= session.close_ms:
            log.info("the %s session closed at %s ET (broker time %s): nothing to trade until the "
                     "next open, %s", day, iso_ny(session.close_ms)[11:16], iso_ny(now)[11:16],
                     iso_ny(int(clock.next_open.timestamp() * 1000)))  # fmt: skip
            held = preview_lines(rest.get_positions())
            if held[0].startswith("Found"):
                log.warning("positions are still open after the close:")
                for line in held[1:]:
                    log.warning("%s", line)
                self._alert(AlertKind.POSITIONS_AFTER_CLOSE, "positions left after the close",
                            "\n".join(held), now)  # fmt: skip
            self._after_session()
            return EXIT_OK

        data_dir = self.paths.data_dir
        download(rest, cfg.symbols, data_dir, sessions=self.opts.download_sessions, now_ms=now,
                 calendar=self.calendar)  # fmt: skip
        if self.stop.requested:
            log.info("%s received: stopping before the session", self.stop.signal)
            return EXIT_OK
        self._optimize_before_trading(session, now)
        if self.stop.requested:
            log.info("%s received: stopping before the session", self.stop.signal)
            return EXIT_OK
        early = rest.get_clock().timestamp_ms < session.open_ms - START_LEAD_MS
        if early and self._wait_for_open(session.open_ms) is None:
            log.info("%s received while waiting for the open: stopping", self.stop.signal)
            return EXIT_OK
        cfg, _ = load_config(self.opts)  # as the engine will load it: the optimizer may have changed it
        self._preview(cfg)

        settings = ChildSettings(self.opts.strategy, self.fifo, self.opts.config_dir,
                                 child_config_env, WARMUP_SESSIONS, self.alert_cfg.feed_silence_s)  # fmt: skip
        midday = None if self.opts.midday is None else to_ms(ny_datetime(session.date, self.opts.midday))
        if midday is not None and not session.open_ms < midday < session.eod_ms():
            log.warning("--midday-time %s is not within today's session before its end of day: "
                        "no midday re-optimization", self.opts.midday)  # fmt: skip
            midday = None
        elif midday is not None and rest.get_clock().timestamp_ms >= midday:
            log.info("the midday time %s has passed: no midday re-optimization today (the "
                     "parameters in force stay)", self.opts.midday)  # fmt: skip
            midday = None
        self.watcher = JournalWatcher(self.paths.journal, cfg.strategy, day, self.paths.run_dir / CURSOR)
        code, ending, sup = self._supervise(settings, child_env, midday)
        self._watch()
        self.recorder.update(ending=ending, exit_code=code)
        lines = self._summary(cfg.strategy, session.date, ending, sup)
        report = self._report(cfg, session.date)
        self._alert(AlertKind.SESSION_SUMMARY, f"session summary: {ending}",
                    "\n".join([*lines, *([f"Report: {report.resolve()}"] if report else [])]))  # fmt: skip
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

    def _optimize_before_trading(self, session: Session, fallback_ms: int) -> None:
        """The optimization on the way to trading, by :func:`launch.optimize.plan_before_trading`."""
        now = self.rest_now_or(fallback_ms)
        last_closed = self.calendar.sessions_before(session.date, 1)[-1].date
        plan = plan_before_trading(session=session, now_ms=now, last_closed=last_closed,
                                   last=read_last_run(self.paths.data_dir, self.opts.strategy),
                                   budget_s=self.opts.optimizer.budget_s,
                                   skip=self.opts.skip_optimize)  # fmt: skip
        log.info("optimization before trading: %s", plan.why)
        if plan.run:
            self._optimize(now, "before trading", budget_s=plan.budget_s)

    def _optimize(self, now_ms: int, when: str, *, today: bool = False, budget_s: float | None = None) -> None:
        need = self.opts.optimizer.windows.total
        if self.opts.download_sessions < need:
            log.error("optimization %s not run: its windows need %d sessions and only %d are kept "
                      "(--download-sessions; --windows): trading with the current parameters",
                      when, need, self.opts.download_sessions)  # fmt: skip
            return
        from launch.mock_market import clock_held

        with clock_held(self.market, self.paths, f"the optimizer runs {when}"):
            optimize_before_trading(self.opts.optimizer, self.opts.strategy, self.paths.data_dir,
                                    self.opts.config_dir, now_ms, calendar=self.calendar, when=when,
                                    today=today, budget_s=budget_s, params_file=self.params_file)  # fmt: skip

    def _midday_refresh(self, symbols: tuple[str, ...]) -> None:
        """Download the morning's bars, then re-optimize on them and the history (engine stopped).

        Runs in a thread beside the supervision loop, with a REST client of its own."""
        assert self.endpoints is not None
        with AlpacaRestClient(self.endpoints, timeout=10.0, max_retries=3) as rest:
            try:
                now = rest.get_clock().timestamp_ms
                download(rest, symbols, self.paths.data_dir, sessions=self.opts.download_sessions,
                         now_ms=now, calendar=self.calendar)  # fmt: skip
            except TraderError as e:
                log.error("midday download failed (%s): re-optimizing on the data on disk", e)
                try:
                    now = rest.get_clock().timestamp_ms
                except TraderError:
                    log.error("midday: the broker's clock cannot be read: no re-optimization")
                    return
        budget = self.opts.optimizer.budget_s
        if budget <= 0:
            log.info("midday: --optimize-budget is 0: no re-optimization, only the morning's bars")
            return
        self._optimize(now, "at midday", today=True, budget_s=budget)

    def rest_now_or(self, default: int) -> int:
        assert self.rest is not None
        try:
            return self.rest.get_clock().timestamp_ms
        except TraderError:
            return default

    def _alert(self, kind: AlertKind, subject: str, text: str, at_ms: int | None = None, **detail: object) -> None:
        self.alerts.send(Alert(kind, subject, text, detail, at=iso_ny(at_ms if at_ms is not None else
                                                                      int(time.time() * 1000))))  # fmt: skip

    def _watch(self) -> None:
        """The journal's new fills and events, as alerts."""
        if self.watcher is None:
            return
        for a in self.watcher.poll():
            if a.kind is AlertKind.POSITIONS_AFTER_CLOSE:
                self._alerted_after_close = True
            self.alerts.send(a)

    def _preview(self, cfg: StrategyConfig) -> None:
        """The reconciliation preview: the positions the engine will find and what the strategy
        makes of each (recorded, alerted)."""
        assert self.rest is not None and self.recorder is not None
        positions = self.rest.get_positions()
        lines = preview_lines(positions, make_strategy(cfg))
        for line in lines:
            log.info("%s", line)
        held = {p.symbol: p.qty for p in positions if p.qty}
        try:
            acct, now = self.rest.get_account(), self.rest.get_clock().timestamp_ms
            self.recorder.update(broker_start=broker_facts(acct.equity, acct.last_equity, held, now))
        except TraderError as e:
            log.warning("the account could not be read for the run record: %s", e)
        if held:
            self._alert(AlertKind.POSITIONS_AT_START, f"{len(held)} position(s) found at the start",
                        "\n".join(lines), positions=held)  # fmt: skip

    def _on_change(self, c: Change) -> None:
        level = logging.ERROR if c.new is ChildState.FATAL else (
            logging.WARNING if c.new is ChildState.BACKOFF else logging.INFO)  # fmt: skip
        log.log(level, "%s: %s -> %s (%s)", c.child, c.old, c.new, c.why)
        child = self._children.get(c.child)
        if self.recorder is not None and child is not None:
            self.recorder.child(c.child, state=str(c.new), restarts=child.restarts, pid=child.pid, why=c.why)
        if c.new is ChildState.FATAL:
            what = ("the engine carries on with REST polling and flattens at the close" if c.child == BRIDGE
                    else "the launcher stops the bridge and exits")  # fmt: skip
            self._alert(AlertKind.CHILD_FATAL, f"{c.child} FATAL", f"{c.child} keeps failing ({c.why}): {what}",
                        child=c.child, why=c.why)  # fmt: skip

    def _supervise(self, settings: ChildSettings, env: dict[str, str],
                   midday_ms: int | None = None) -> tuple[int, str, Supervisor]:  # fmt: skip
        bridge_cmd = bridge_command(self.paths, settings, env, self.stamp)
        engine_cmd = engine_command(self.paths, settings, env, self.stamp)
        pol = self.opts.policy

        def start_engine() -> Any:
            # the command of each start: the parameters file may appear at midday
            params = self.params_file if self.params_file.exists() else None
            return self.starter(engine_command(self.paths, settings, env, self.stamp, params), self.paths)()

        bridge = Child(BRIDGE, self.starter(bridge_cmd, self.paths), pol, self._on_change)
        engine = Child(ENGINE, start_engine, pol, self._on_change)
        self._children = {BRIDGE: bridge, ENGINE: engine}
        if self.recorder is not None:
            for c, cmd in ((engine, engine_cmd), (bridge, bridge_cmd)):
                self.recorder.child(c.name, state=str(c.state), restarts=0, pid=None, log_file=str(cmd.log_file))
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
        next_watch = now
        midday = _Midday(midday_ms, self)
        while True:
            now = self.mono()
            sup.transition(now)
            if now >= next_watch:
                next_watch = now + WATCH_EVERY_S
                self._watch()
            if code is None and midday.step(now, engine):
                pass  # the engine is stopped (or restarting) for the midday re-optimization
            elif code is None:
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

    def _summary(self, strategy: str, day: date, ending: str, sup: Supervisor) -> list[str]:
        equity_change = None
        try:
            assert self.rest is not None
            acct = self.rest.get_account()
            if acct.last_equity is not None:
                equity_change = acct.equity - acct.last_equity
            positions = self.rest.get_positions()
            held = {p.symbol: p.qty for p in positions if p.qty}
            now = self.rest.get_clock().timestamp_ms
            if self.recorder is not None:
                self.recorder.update(broker_end=broker_facts(acct.equity, acct.last_equity, held, now))
            if held and self.calendar.session(day).close_ms <= now and not self._alerted_after_close:
                self._alert(AlertKind.POSITIONS_AFTER_CLOSE, "positions left after the close",
                            "\n".join(preview_lines(positions)), now, positions=held)  # fmt: skip
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
        lines = s.lines()
        for line in lines:
            log.info("%s", line)
        return lines

    def _report(self, cfg: StrategyConfig, day: date) -> Path | None:
        """Today's bars up to date, then the HTML session report; its path (None: not written)."""
        assert self.rest is not None
        if self.stop.requested:  # stopping: the bars on disk will do (`launch report` later has all)
            log.info("stopping: the report uses the bars already on disk")
        else:
            try:
                download(self.rest, cfg.symbols, self.paths.data_dir, sessions=self.opts.download_sessions,
                         now_ms=self.rest.get_clock().timestamp_ms, calendar=self.calendar)  # fmt: skip
            except TraderError as e:
                log.warning("today's bars could not be brought up to date for the report: %s", e)
        try:
            from launch.report import write_day_report

            path = write_day_report(self.paths, cfg.strategy, day, cfg, config_dir=self.opts.config_dir,
                                    calendar=self.calendar)  # fmt: skip
        except Exception:  # the report must never change how the run ends
            log.exception("the session report could not be written")
            return None
        log.info("Session report: %s", path)
        return path

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
    "load_config_of",
    "verify_account",
]

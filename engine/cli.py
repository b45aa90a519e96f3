"""``python -m engine``: the live engine, and ``python -m engine backtest``.

::

    python -m engine --strategy rotation|psm [--fifo PATH] [--config FILE]
                     [--params config/best_params.json] [--log-dir DIR] [--data-dir data]
    python -m engine backtest --strategy rotation|psm --start DATE --end DATE
                     [--held-out-from DATE] [--warmup-sessions 20]
                     [--config FILE] [--params FILE] [--data-dir data]

Exit codes (:mod:`common.exit_codes`; the launcher restarts the engine only on 1):
0 done (session over and flat, closed day, SIGTERM/SIGINT); 1 crash; 2 the operator must
act (an OperationalError: bad config or params, missing or refused keys, unsafe FIFO
path, a journal that cannot be used; or a request refused during start-up); 3 halted (reconciliation policy ``halt``, or
positions in the strategy's universe left after the close).
"""

from __future__ import annotations

import logging
import sys
from datetime import date
from pathlib import Path

import click

from common.config import (
    BEST_PARAMS_FILE,
    STRATEGIES,
    StrategyConfig,
    load_best_params,
    load_strategy_config,
)
from common.errors import ConfigError, OperationalError
from common.exit_codes import EXIT_CRASH, EXIT_OK, EXIT_OPERATOR, describe
from common.fifo import DEFAULT_FIFO_PATH
from common.process_start import date_option, start_process
from common.stop_flag import StopFlag

log = logging.getLogger("engine")




def _load_config(strategy: str, config: Path | None, params: Path | None,
                 config_dir: Path) -> StrategyConfig:  # fmt: skip
    if params is not None and not params.exists():
        raise ConfigError(f"{params}: no such params file (give --params only when it exists)")
    return load_strategy_config(strategy, config, params, config_dir=config_dir)


def log_params(strategy: str, params: Path | None) -> None:
    """Say which optimized parameters the engine trades with, and where they came from."""
    best = None if params is None else load_best_params(params, strategy)
    if best is None:
        log.info("trading with the strategy file's parameters (no optimized entry for %s)", strategy)
        return
    p = best.provenance
    log.info("trading with optimized parameters from %s: %s", params,
             ", ".join(f"{k}={v}" for k, v in sorted(best.params.items())))  # fmt: skip
    held = "" if p.held_out_score is None else f", held-out {p.held_out_score:+.4f} %/day"
    end = f"{p.data_end} up to {p.partial_end:%H:%M}" if p.partial_end is not None else str(p.data_end)
    log.info("their provenance: data %s..%s, %d trials, in-sample %+.4f %%/day%s, created %s, code %s",
             p.data_start, end, p.trials, p.score, held, p.created_at.isoformat(),
             p.code_version or "unknown")  # fmt: skip


def _default_params(config_dir: Path) -> Path | None:
    p = config_dir / BEST_PARAMS_FILE
    return p if p.exists() else None


STRATEGY = click.option("--strategy", type=click.Choice(STRATEGIES), default="rotation",
                        show_default=True, help="Which strategy to run.")  # fmt: skip
CONFIG = click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
                      default=None,
                      help="Strategy config [default: <config-dir>/<strategy>_strategy.json].")  # fmt: skip
PARAMS = click.option("--params", "params_path", type=click.Path(path_type=Path, dir_okay=False),
                      default=None,
                      help="Optimizer output [default: <config-dir>/best_params.json if present].")  # fmt: skip
CONFIG_DIR = click.option("--config-dir", type=click.Path(path_type=Path, file_okay=False),
                          default=Path("config"), show_default=True,
                          help="Where the strategy configs are.")  # fmt: skip
DATA_DIR = click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
                        default=Path("data"), show_default=True,
                        help="Holds equities/{SYM}_RTH_NH.csv and tmp/todays_bars/ (mock: data/mock).")  # fmt: skip


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@STRATEGY
@CONFIG
@PARAMS
@CONFIG_DIR
@DATA_DIR
@click.option("--fifo", type=click.Path(path_type=Path), default=DEFAULT_FIFO_PATH, show_default=True,
              help="FIFO the bridge writes minute batches to.")
@click.option("--log-dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("logs/live_trading"), show_default=True,
              help="trader_<ts>.log, journal.sqlite and state.json go here.")
@click.option("--log-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Log to exactly this file [default: <log-dir>/trader_<ts>.log].")
@click.option("--config-env", type=click.Path(path_type=Path), default=Path("config.env"),
              show_default=True, help="Endpoints/keys file (the environment wins).")
@click.option("--history-sessions", type=click.IntRange(1, 250), default=20, show_default=True,
              help="Full sessions of history to warm up on.")
@click.option("--alert-after", type=click.FloatRange(min=0.5), default=30.0, show_default=True,
              help="Wall seconds without bars or heartbeats (market open) before an alert.")
@click.option("--rest-fallback", type=click.FloatRange(min=0.5), default=15.0, show_default=True,
              help="Wall seconds without a batch before closed minutes are taken from REST.")
@click.pass_context
def main(ctx: click.Context, strategy: str, config_path: Path | None, params_path: Path | None,
         config_dir: Path, data_dir: Path, fifo: Path, log_dir: Path, log_file: Path | None,
         config_env: Path, history_sessions: int, alert_after: float,
         rest_fallback: float) -> None:  # fmt: skip
    """Trade one session: FIFO minute batches → signals → strategy → orders (design.md §6)."""
    if ctx.invoked_subcommand is not None:
        return
    sys.exit(run_live_command(
        strategy=strategy, config_path=config_path, params_path=params_path,
        config_dir=config_dir, data_dir=data_dir, fifo=fifo, log_dir=log_dir,
        config_env=config_env, history_sessions=history_sessions, alert_after=alert_after,
        rest_fallback=rest_fallback, log_file=log_file,
    ))  # fmt: skip


def run_live_command(*, strategy: str, config_path: Path | None, params_path: Path | None,
                     config_dir: Path, data_dir: Path, fifo: Path, log_dir: Path,
                     config_env: Path, history_sessions: int, alert_after: float,
                     rest_fallback: float, log_file: Path | None = None) -> int:  # fmt: skip
    from engine.app import EngineOptions, run_live

    try:
        started = start_process("trader", log_dir, config_env, log_file)
    except OSError as e:
        click.echo(f"engine: cannot log to {log_dir}: {e}", err=True)
        return EXIT_OPERATOR
    log.info("engine starting: strategy %s, log %s", strategy, started.log_file)
    stop = StopFlag()
    stop.install()
    try:
        endpoints = started.require_endpoints()
        params = params_path if params_path is not None else _default_params(config_dir)
        cfg = _load_config(strategy, config_path, params, config_dir)
        log.info("config loaded (%s)%s", config_path or config_dir / f"{strategy}_strategy.json",
                 f", params {params}" if params else ", no params file")  # fmt: skip
        log_params(strategy, params)
        opts = EngineOptions(strategy=strategy, fifo=fifo, log_dir=log_dir, data_dir=data_dir,
                             history_sessions=history_sessions, alert_after_s=alert_after,
                             rest_fallback_s=rest_fallback)  # fmt: skip
        from common.rest import AlpacaRestClient

        with AlpacaRestClient(endpoints) as rest:
            code = run_live(opts, cfg, rest, stop)
    except OperationalError as e:
        log.error("engine cannot run: %s", e)
        return EXIT_OPERATOR
    except KeyboardInterrupt:
        log.info("interrupted")
        return EXIT_OK
    except Exception:
        log.exception("engine crashed")
        return EXIT_CRASH
    log.info("engine: %s", describe(code))
    return code


@main.command()
@STRATEGY
@CONFIG
@PARAMS
@CONFIG_DIR
@DATA_DIR
@click.option("--start", "start", callback=date_option, required=True, help="First session, YYYY-MM-DD.")
@click.option("--end", "end", callback=date_option, required=True, help="Last session, YYYY-MM-DD.")
@click.option("--held-out-from", "held_out_from", callback=date_option, default=None,
              help="Sessions from this date on are reported as held-out, the earlier ones as "
                   "in-sample [default: no split, all in-sample].")  # fmt: skip
@click.option("--warmup-sessions", type=click.IntRange(0, 250), default=20, show_default=True,
              help="Sessions before --start the signals warm up on.")  # fmt: skip
def backtest(strategy: str, config_path: Path | None, params_path: Path | None, config_dir: Path,
             data_dir: Path, start: date, end: date, held_out_from: date | None,
             warmup_sessions: int) -> None:  # fmt: skip
    """Replay history through the same strategy code with mockmarket's fill rule and costs.

    Prints gross P&L, costs (half-spread, slippage, fees), net P&L, the hold baseline,
    turnover, round trips and the signal diagnostics (IC), per group of sessions.
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if end < start:
        raise click.BadParameter(f"--end {end} is before --start {start}")
    if held_out_from is not None and not start < held_out_from <= end:
        raise click.BadParameter(
            f"--held-out-from {held_out_from} must be after --start {start} and not after --end {end}"
        )
    try:
        params = params_path if params_path is not None else _default_params(config_dir)
        cfg = _load_config(strategy, config_path, params, config_dir)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    from engine.backtest import format_report, run_backtest

    try:
        result = run_backtest(cfg, data_dir=data_dir, start=start, end=end,
                              held_out_from=held_out_from, warmup_sessions=warmup_sessions)  # fmt: skip
    except (ValueError, OSError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(format_report(result))


__all__ = ["main", "run_live_command"]

"""``python -m mockmarket serve|generate|demo``.

Exit codes (:mod:`common.exit_codes`): 0 after SIGTERM/SIGINT or a finished command; 2 when
the operator must act (a bad option, data that cannot be replayed, a port that cannot be
listened on); 1 on an unexpected error.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import date
from pathlib import Path

import click

from common.env import KEY_VAR, SECRET_VAR
from common.exit_codes import EXIT_OPERATOR
from common.logs import setup_process_logging
from common.market_state import DEFAULT_STATE_FILE
from common.process_start import date_option
from mockmarket.app import (
    DEFAULT_KEY,
    DEFAULT_SECRET,
    MarketOptions,
    build_app,
    build_context,
    parse_hhmm,
)
from mockmarket.cost_options import cost_model, cost_options
from mockmarket.datasource import DEFAULT_SESSIONS, SYNTHETIC_DIR, ensure_synthetic, prepare_store
from mockmarket.server import serve as serve_app
from mockmarket.store import StoreError

log = logging.getLogger("mockmarket")

LOG_DIR = Path("data/mockmarket")


class OperatorError(click.ClickException):
    """Printed as ``Error: <message>``; exits with EXIT_OPERATOR (the operator must act)."""

    exit_code = int(EXIT_OPERATOR)


def _hhmm(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return parse_hhmm(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def _keys(key: str | None, secret: str | None) -> tuple[str, str]:
    key = key or os.environ.get(KEY_VAR, "").strip() or DEFAULT_KEY
    secret = secret or os.environ.get(SECRET_VAR, "").strip() or DEFAULT_SECRET
    return key, secret


@click.group()
def main() -> None:
    """mockmarket: a local Alpaca-compatible market (REST, data websocket, trade updates)."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
@click.option(
    "--port", default=0, show_default=True, type=click.IntRange(0, 65535), help="0 = any free port"
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="history CSVs to replay "
    "[default: data/equities; with --synthetic data/mockmarket/equities]",
)
@click.option(
    "--date",
    "replay_date",
    callback=date_option,
    default=None,
    help="session to replay, YYYY-MM-DD [default: the latest in the data]",
)
@click.option(
    "--synthetic", is_flag=True, help="generate a synthetic history and replay its last session"
)
@click.option(
    "--seed", default=7, show_default=True, type=click.IntRange(0), help="synthetic market seed"
)
@click.option(
    "--sessions",
    default=DEFAULT_SESSIONS,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="synthetic sessions to generate",
)
@click.option(
    "--signal",
    default=0.0,
    show_default=True,
    type=click.FloatRange(-0.99, 0.99),
    help="strength of the synthetic market's learnable component (0 = off)",
)
@click.option(
    "--microstructure",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 5),
    help="synthetic market's bid-ask bounce and print noise (0 = prints at the mid)",
)
@click.option(
    "--start-time",
    default="09:25",
    show_default=True,
    callback=_hhmm,
    help="New York time of the replay date at which the clock starts",
)
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 100_000, min_open=True),
    help="simulated seconds per real second",
)
@click.option(
    "--paused", is_flag=True, help="start with the clock paused (resume via POST /admin/clock)"
)
@click.option("--key", default=None, help=f"API key id [default: ${KEY_VAR}, else {DEFAULT_KEY}]")
@click.option(
    "--secret", default=None, help=f"API secret [default: ${SECRET_VAR}, else {DEFAULT_SECRET}]"
)
@click.option(
    "--state-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_STATE_FILE,
    show_default=True,
    help="where to write pid and URLs (removed on clean exit)",
)
@click.option(
    "--log-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="log file [default: data/mockmarket/mockmarket_<ts>.log]",
)
@click.option(
    "--correction-rate",
    default=0.02,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="share of websocket bars first sent preliminary, then corrected (updatedBars)",
)
@cost_options
@click.option(
    "--partial-fill-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="probability that an eligible fill is partial",
)
@click.option(
    "--max-connections",
    default=1,
    show_default=True,
    type=click.IntRange(1),
    help="concurrent data-stream connections per key",
)
def serve(
    host: str,
    port: int,
    data_dir: Path | None,
    replay_date: date | None,
    synthetic: bool,
    seed: int,
    sessions: int,
    signal: float,
    microstructure: float,
    start_time: str,
    speed: float,
    paused: bool,
    key: str | None,
    secret: str | None,
    state_file: Path,
    log_file: Path | None,
    correction_rate: float,
    partial_fill_rate: float,
    max_connections: int,
    legacy_fills: bool,
    **cost_knobs: float | None,
) -> None:
    """Serve a market on one port until SIGTERM/SIGINT.

    Fills cost what a strategy config's ``costs`` section says by default (half-spread,
    slippage, regulatory fees); each knob has its option, ``--legacy-fills`` the pre-cost rule.
    """
    costs = cost_model(legacy_fills, cost_knobs)
    key, secret = _keys(key, secret)
    log_path = setup_process_logging("mockmarket", LOG_DIR, secrets=(secret,), filename=log_file)
    try:
        store, directory, is_synthetic = prepare_store(
            data_dir,
            synthetic=synthetic,
            replay_date=replay_date,
            seed=seed,
            sessions=sessions,
            signal=signal,
            microstructure=microstructure,
        )
        options = MarketOptions(
            key=key,
            secret=secret,
            start_time=start_time,
            speed=speed,
            paused=paused,
            seed=seed,
            correction_rate=correction_rate,
            costs=costs,
            partial_fill_rate=partial_fill_rate,
            max_connections=max_connections,
        )
    except (StoreError, ValueError) as e:
        log.error("cannot start: %s", e)
        raise OperatorError(str(e)) from None
    extra = {
        "log_file": str(log_path.resolve()),
        "data_dir": str(directory.resolve()),
        "synthetic": is_synthetic,
        "symbols": list(store.symbols),
    }

    async def run() -> None:
        app = build_app(build_context(store, options))
        await serve_app(app, host, port, state_file, extra_state=extra)

    try:
        asyncio.run(run())
    except OSError as e:
        log.error("cannot listen on %s:%d: %s", host, port, e)
        raise OperatorError(f"cannot listen on {host}:{port}: {e}") from None


@main.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=SYNTHETIC_DIR,
    show_default=True,
    help="directory to write {SYMBOL}_RTH_NH.csv into",
)
@click.option(
    "--date",
    "end_date",
    callback=date_option,
    default=None,
    help="last session, YYYY-MM-DD [default: the last session before today]",
)
@click.option("--seed", default=7, show_default=True, type=click.IntRange(0))
@click.option(
    "--sessions", default=DEFAULT_SESSIONS, show_default=True, type=click.IntRange(1, 1000)
)
@click.option("--signal", default=0.0, show_default=True, type=click.FloatRange(-0.99, 0.99))
@click.option(
    "--microstructure",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0, 5),
    help="bid-ask bounce and print noise (0 = prints at the mid)",
)
def generate(
    data_dir: Path,
    end_date: date | None,
    seed: int,
    sessions: int,
    signal: float,
    microstructure: float,
) -> None:
    """Write a synthetic market's history CSVs (reused when already there for the same config)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        last = ensure_synthetic(
            data_dir,
            seed=seed,
            sessions=sessions,
            end_date=end_date,
            signal=signal,
            microstructure=microstructure,
        )
    except ValueError as e:
        raise OperatorError(str(e)) from None
    click.echo(f"synthetic market in {data_dir}: {sessions} sessions up to {last}, seed {seed}")


@main.command()
@click.option(
    "--workdir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("data/mockmarket/demo"),
    show_default=True,
    help="where the demo market keeps its data, state and log",
)
@click.option(
    "--speed",
    default=30.0,
    show_default=True,
    type=click.FloatRange(1, 10_000),
    help="simulated seconds per real second",
)
@click.option(
    "--minutes",
    default=15,
    show_default=True,
    type=click.IntRange(4, 390),
    help="simulated minutes of trading to show",
)
def demo(workdir: Path, speed: float, minutes: int) -> None:
    """Start a market on a synthetic session and run a short client session against it."""
    from mockmarket.demo import run_demo

    raise SystemExit(run_demo(workdir, speed=speed, minutes=minutes))

"""``python -m bridge``: the command line, logging, signals and exit codes.

Exit codes: 0 after SIGTERM/SIGINT; 2 when the operator must act (bad or
missing keys, auth failed, unsafe FIFO path, bad symbols, a symbol set whose
batch line could exceed 4096 bytes); 1 on an unexpected error.

Beside its log the bridge keeps its counters (connections, reconnects, batches) in
``bridge_<ts>.state.json`` (:mod:`bridge.state_file`), which the launcher's summary reads.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from bridge.app import Bridge, BridgeSettings
from bridge.seeds import LatestBars, rest_latest_bars, seed_closes
from bridge.state_file import StateFile, state_path_for
from common.batch_line import LineTooLongError, check_symbols_fit
from common.errors import ConfigError, OperationalError
from common.exit_codes import EXIT_CRASH, EXIT_OK, EXIT_OPERATOR
from common.fifo import DEFAULT_FIFO_PATH, FifoWriter
from common.process_start import start_process
from common.symbols import SYMBOL_RE

log = logging.getLogger("bridge")


def parse_symbols(text: str) -> tuple[str, ...]:
    """``"tqqq, SQQQ"`` → ``("TQQQ", "SQQQ")``; ConfigError naming a bad or repeated symbol."""
    out: list[str] = []
    for raw in text.split(","):
        s = raw.strip().upper()
        if not s:
            continue
        if not SYMBOL_RE.match(s):
            raise ConfigError(f"--symbols: {raw.strip()!r} is not a ticker symbol")
        if s in out:
            raise ConfigError(f"--symbols: {s} is listed twice")
        out.append(s)
    if not out:
        raise ConfigError("--symbols is empty")
    return tuple(out)


def resolve_symbols(symbols: str | None, strategy: str, config_dir: Path) -> tuple[str, ...]:
    if symbols is not None:
        return parse_symbols(symbols)
    from common.config import strategy_symbols

    return parse_symbols(",".join(strategy_symbols(strategy, config_dir=config_dir)))


async def _serve(bridge: Bridge) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, functools.partial(_on_signal, stop, sig))
    await bridge.run(stop)


def _on_signal(stop: asyncio.Event, sig: signal.Signals) -> None:
    log.info("%s received: stopping", sig.name)
    stop.set()


def run_bridge(
    *,
    symbols: str | None,
    strategy: str,
    fifo: Path,
    log_dir: Path,
    config_env: Path,
    config_dir: Path,
    settings: BridgeSettings,
    log_file: Path | None = None,
) -> int:
    try:
        started = start_process("bridge", log_dir, config_env, log_file)
    except OSError as e:
        click.echo(f"bridge: cannot log to {log_dir}: {e}", err=True)
        return EXIT_OPERATOR
    log.info("bridge starting (log %s)", started.log_file)
    try:
        endpoints = started.require_endpoints()
        syms = resolve_symbols(symbols, strategy, config_dir)
        check_symbols_fit(syms)
        fetch = rest_latest_bars(endpoints)
        bridge = Bridge(
            syms,
            url=endpoints.stream_url,
            key=endpoints.key_id,
            secret=endpoints.secret,
            writer=FifoWriter(fifo, max_buffered=settings.max_buffered_lines),
            settings=settings,
            seed=functools.partial(_seed, fetch),
            state_file=StateFile(state_path_for(started.log_file)),
        )
        asyncio.run(_serve(bridge))
    except (OperationalError, LineTooLongError) as e:
        log.error("bridge cannot run: %s", e)
        return EXIT_OPERATOR
    except KeyboardInterrupt:
        log.info("interrupted")
        return EXIT_OK
    except Exception:
        log.exception("bridge crashed")
        return EXIT_CRASH
    log.info("bridge exited cleanly")
    return EXIT_OK


def _seed(fetch: LatestBars, symbols: Sequence[str]) -> dict[str, float]:
    return seed_closes(fetch, symbols)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--symbols", default=None, help="Comma-separated symbols (default: the strategy's).")
@click.option("--strategy", type=click.Choice(["rotation", "psm"]), default="rotation", show_default=True,
              help="Strategy whose symbols to stream when --symbols is not given.")
@click.option("--fifo", type=click.Path(path_type=Path), default=DEFAULT_FIFO_PATH, show_default=True,
              help="FIFO to write minute batches to.")
@click.option("--log-dir", type=click.Path(path_type=Path), default=Path("logs/live_trading"),
              show_default=True, help="Directory of bridge_<ts>.log.")
@click.option("--log-file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Log to exactly this file [default: <log-dir>/bridge_<ts>.log].")
@click.option("--config-env", type=click.Path(path_type=Path), default=Path("config.env"), show_default=True,
              help="Endpoints/keys file (the environment wins).")
@click.option("--config-dir", type=click.Path(path_type=Path), default=Path("config"), show_default=True,
              help="Where the strategy configs are.")
@click.option("--flush-deadline", type=click.FloatRange(min=0.05), default=3.0, show_default=True,
              help="Wall seconds after a minute's first bar before writing it with what arrived.")
@click.option("--heartbeat", type=click.FloatRange(min=0.05), default=2.0, show_default=True,
              help="Wall seconds between heartbeat lines.")
@click.option("--silence-min", type=click.FloatRange(min=0.5), default=5.0, show_default=True,
              help="Never call a socket silent before this many wall seconds without data.")
def main(
    symbols: str | None, strategy: str, fifo: Path, log_dir: Path, log_file: Path | None,
    config_env: Path, config_dir: Path, flush_deadline: float, heartbeat: float, silence_min: float,
) -> None:
    """Stream Alpaca minute bars into minute batches on the FIFO (design.md §3)."""
    settings = BridgeSettings(flush_deadline_s=flush_deadline, heartbeat_s=heartbeat, silence_min_s=silence_min)
    sys.exit(run_bridge(
        symbols=symbols, strategy=strategy, fifo=fifo, log_dir=log_dir, config_env=config_env,
        config_dir=config_dir, settings=settings, log_file=log_file,
    ))


__all__ = ["main", "parse_symbols", "resolve_symbols", "run_bridge"]

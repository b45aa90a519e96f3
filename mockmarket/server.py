"""Run a built market app on a port until SIGTERM/SIGINT; announce it, keep the state file."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from common.atomic_write import write_json_atomic
from common.market_state import remove_state, server_state, url_host
from mockmarket.context import CTX

log = logging.getLogger(__name__)

SHUTDOWN_TIMEOUT_S = 5.0


async def serve(
    app: web.Application,
    host: str,
    port: int,
    state_file: Path | None,
    *,
    extra_state: dict | None = None,
    announce: Callable[[str], None] = lambda line: print(line, flush=True),
) -> None:
    """Listen on host:port (0: any free port), announce, write the state file, await a signal."""
    ctx = app[CTX]
    runner = web.AppRunner(
        app, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S, access_log=None
    )
    await runner.setup()
    pid = os.getpid()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_port = int(runner.addresses[0][1])
        base = f"http://{url_host(host)}:{bound_port}"
        state = server_state(
            pid=pid,
            host=host,
            port=bound_port,
            replay_date=ctx.store.replay_date.isoformat(),
            speed=ctx.clock.speed,
            **(extra_state or {}),
        )
        log.info(
            "mockmarket listening on %s (replay %s, speed %g, state file %s)",
            base,
            ctx.store.replay_date,
            ctx.clock.speed,
            state_file,
        )
        announce(f"mockmarket listening on {base}")
        if state_file is not None:  # last: whoever waits for the file finds the line written
            write_json_atomic(state_file, state)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("signal received: shutting down")
    finally:
        if state_file is not None:
            remove_state(state_file, pid)
        await runner.cleanup()
        log.info("mockmarket stopped")

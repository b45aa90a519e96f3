"""``python -m launch download``: bring a mode's history and today's bars up to date, alone.

The same step the launcher runs before a session (:func:`launch.sequence.download`): the
strategy's symbols, the sessions counted on the calendar, only what is missing. Live mode
asks the broker of ``config.env``; mock mode the running mock market.
"""

from __future__ import annotations

import logging
from pathlib import Path

from common.calendar import nyse
from common.env import AlpacaEndpoints, load_endpoints
from common.errors import OperationalError, TemporaryError
from common.exit_codes import EXIT_CRASH, EXIT_OK, EXIT_OPERATOR
from common.rest import AlpacaRestClient
from launch.console import add_secrets
from launch.paths import Mode, ModePaths
from launch.sequence import LaunchOptions, download, load_config, verify_account

log = logging.getLogger("launch")


def _endpoints(opts: LaunchOptions, market_state: Path) -> AlpacaEndpoints:
    if opts.mode is Mode.LIVE:
        return load_endpoints(opts.config_env)
    from launch.mock_market import MarketError, running_market

    market = running_market(market_state)
    if market is None:
        raise MarketError(f"no mock market is running (state file {market_state}): "
                          "`python -m launch mock` starts one")  # fmt: skip
    return market.endpoints()


def run_download_command(opts: LaunchOptions, market_state: Path) -> int:
    paths = ModePaths.of(opts.mode)
    try:
        cfg, _ = load_config(opts)
        endpoints = _endpoints(opts, market_state)
        add_secrets(endpoints.secrets())
        with AlpacaRestClient(endpoints, timeout=10.0, max_retries=3) as rest:
            verify_account(rest)
            now = rest.get_clock().timestamp_ms
            report = download(rest, cfg.symbols, paths.data_dir, sessions=opts.download_sessions,
                              now_ms=now, calendar=nyse())  # fmt: skip
    except OperationalError as e:
        log.error("cannot download: %s", e)
        return EXIT_OPERATOR
    except TemporaryError as e:
        log.error("the broker did not answer (%s); try again in a moment", e)
        return EXIT_CRASH
    plan = report.plan
    log.info("%s: %d symbols, %d sessions %s..%s%s", paths.data_dir, len(cfg.symbols),
             len(plan.history), plan.history[0].date, plan.history[-1].date,
             "" if plan.current is None else f", today {plan.current.date} so far")  # fmt: skip
    return EXIT_OK


__all__ = ["run_download_command"]

"""Last known closes at start, from REST latest bars, so that even the first minute is complete."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence

from common.bars import Bar
from common.env import KEY_VAR, SECRET_VAR, AlpacaEndpoints
from common.errors import AuthError, OperationalError, TraderError

log = logging.getLogger(__name__)

LatestBars = Callable[[Sequence[str]], Mapping[str, Bar]]


def rest_latest_bars(endpoints: AlpacaEndpoints) -> LatestBars:
    """``GET /v2/stocks/bars/latest`` through the project's REST client."""
    from common.rest import AlpacaRestClient

    def fetch(symbols: Sequence[str]) -> Mapping[str, Bar]:
        with AlpacaRestClient(endpoints, timeout=5.0, max_retries=2) as client:
            return client.get_latest_bars(symbols)

    return fetch


def seed_closes(
    fetch: LatestBars,
    symbols: Sequence[str],
    *,
    attempts: int = 3,
    delay_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, float]:
    """Closes of the latest bars; ``{}`` (logged) if REST keeps failing — the stream still runs.

    An OperationalError (bad keys, bad URL) is raised: retrying cannot help.
    """
    for attempt in range(1, attempts + 1):
        try:
            latest = fetch(symbols)
        except AuthError as e:
            raise OperationalError(
                f"market-data REST refused the keys (HTTP {e.status}): check {KEY_VAR} and {SECRET_VAR}"
            ) from None
        except OperationalError:
            raise
        except (TraderError, OSError) as e:
            log.warning("latest bars from REST failed (attempt %d of %d): %s", attempt, attempts, e)
            if attempt < attempts:
                sleep(delay_s * attempt)
            continue
        closes = {s: b.close for s, b in latest.items() if s in symbols}
        missing = sorted(set(symbols) - set(closes))
        if missing:
            log.warning("no latest bar from REST for %s: their first missing minute cannot be filled", ", ".join(missing))
        log.info("seeded last closes of %d symbols from REST latest bars", len(closes))
        return closes
    log.error("no latest bars from REST after %d attempts: the first minutes may be incomplete", attempts)
    return {}


__all__ = ["LatestBars", "rest_latest_bars", "seed_closes"]

"""The live engine at 12 symbols: decision latency and warm-up time, against a real mockmarket.

Set-up: a synthetic mockmarket process (paused at 10:30 of its replay date), the 20
sessions before that date downloaded over REST into a temporary ``<data-dir>/equities``
(as the launcher does), and the live engine (:class:`engine.app.LiveEngine`, rotation,
default config) started in this process on a real FIFO.

- warm-up: :func:`engine.warmup.warm_up` (20 sessions of history + today's 60 minutes so far
  from REST, through the grid rule, the signal engine's batch entry and the strategy's
  observations), median of 3 runs; reference: reading the same history CSVs alone;
- decision latency: for 120 minutes, the market clock is stepped one minute, the minute's
  batch line is written to the FIFO, and the engine's feed reads and processes it; the
  latency runs from the moment ``readline`` returns the line to the moment the executor
  returns from sending the minute's orders (journal intent, REST submit, journal fill
  included); "whole minute" adds the position-book check and the ``state.json`` write.
  Reference: one REST round trip (``GET /v2/clock``) measured in the same run.

Printed: p50/p99 in milliseconds and the ratio of medians to the reference.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.timing import percentile
from common.bars import MINUTE_MS, Bar
from common.batch_line import encode_minute
from common.calendar import from_ms, ny_datetime, nyse, to_ms
from common.config import RotationStrategyConfig
from common.csvfiles import history_path, read_history, write_history
from common.env import load_endpoints
from common.fifo import FifoWriter
from common.rest import AlpacaRestClient
from common.session_grid import GridFiller
from engine.app import EngineOptions, LiveEngine
from engine.strategies import make_strategy
from engine.warmup import warm_up
from mockmarket.harness import run_market

DAY = date(2025, 10, 16)
START = "10:30"
MINUTES = 120
HISTORY = 20


def _row(name: str, xs: list[float], ref: float | None = None) -> str:
    p50, p99 = percentile(xs, 0.5) * 1e3, percentile(xs, 0.99) * 1e3
    ratio = f"{statistics.median(xs) / ref:8.1f}x" if ref else f"{'(ref)':>9}"
    return f"{name:<48} {len(xs):>5} {p50:>9.2f} {p99:>9.2f} {ratio}"


def _batch(t: int, bars: dict[str, list[Bar]], grid: GridFiller) -> str:
    """The line the bridge writes for minute ``t`` (its own grid rule fills what is missing)."""
    real = {s: b for s in grid.symbols for b in bars.get(s, ()) if b.t == t}
    return encode_minute(grid.fill(t, real, "complete"))


def main() -> None:
    cfg = RotationStrategyConfig()
    symbols = tuple(cfg.symbols)
    session = nyse().session(DAY)
    with tempfile.TemporaryDirectory(prefix="bench_engine_") as tmp_s:
        tmp = Path(tmp_s)
        with run_market(tmp / "market", seed=5, sessions=HISTORY + 2, date=DAY.isoformat(),
                        start_time=START, extra_args=["--paused", "--correction-rate", "0"]) as market:  # fmt: skip
            rest = AlpacaRestClient(load_endpoints(None, market.env()), timeout=10.0)
            before = nyse().sessions_before(DAY, HISTORY)
            hist = rest.get_bars(symbols, from_ms(before[0].open_ms), from_ms(before[-1].close_ms - MINUTE_MS))
            data = tmp / "data"
            for s in symbols:
                write_history(history_path(data / "equities", s), hist[s])

            # ---- warm-up
            warm_times, read_times = [], []
            for _ in range(3):
                a = time.perf_counter()
                for s in symbols:
                    read_history(history_path(data / "equities", s))
                read_times.append(time.perf_counter() - a)
                a = time.perf_counter()
                w = warm_up(make_strategy(cfg), session, data, rest, history_sessions=HISTORY)
                warm_times.append(time.perf_counter() - a)
            print(f"warm-up: {HISTORY} sessions + {w.today_minutes + 1} minutes of today "
                  f"({w.rest_minutes} from REST), {len(symbols)} symbols")  # fmt: skip
            print(f"{'(milliseconds)':<48} {'n':>5} {'p50':>9} {'p99':>9} {'vs ref':>9}")
            ref_read = statistics.median(read_times)
            print(_row("read the history CSVs (reference)", read_times))
            print(_row("warm-up (history + today, signals, strategy)", warm_times, ref_read))

            # ---- decision latency
            opts = EngineOptions(strategy="rotation", fifo=tmp / "bars.fifo", log_dir=tmp / "logs",
                                 data_dir=data, alert_after_s=3600, rest_fallback_s=3600)  # fmt: skip
            engine = LiveEngine(opts, cfg, rest)
            assert engine.start() is None
            assert engine.feed is not None and engine.executor is not None
            feed, executor = engine.feed, engine.executor
            marks: dict[str, float] = {}
            orig_readline, orig_execute = feed.reader.readline, executor.execute

            def readline(timeout=None):
                line = orig_readline(timeout)
                if line is not None:
                    marks["read"] = time.perf_counter()
                return line

            def execute(plan):
                sent = orig_execute(plan)
                marks["sent"], marks["n"] = time.perf_counter(), len(plan.orders)
                return sent

            feed.reader.readline, executor.execute = readline, execute  # type: ignore[method-assign]
            writer = FifoWriter(opts.fifo)
            writer.open()
            bridge_grid = GridFiller(symbols, feed.last_closes)
            t0 = to_ms(ny_datetime(DAY, START))
            day_bars = rest.get_bars(symbols, from_ms(t0), from_ms(t0 + MINUTES * MINUTE_MS))
            latency, latency_orders, whole, rtt = [], [], [], []
            market.admin("POST", "/admin/clock", json={"action": "step", "seconds": 2})
            for k in range(MINUTES):
                t = t0 + k * MINUTE_MS
                market.admin("POST", "/admin/clock", json={"action": "step", "seconds": 60})
                a = time.perf_counter()
                rest.get_clock()
                rtt.append(time.perf_counter() - a)
                writer.write_line(_batch(t, day_bars, bridge_grid))
                marks.clear()
                minutes = feed.poll(5.0)
                engine._process(minutes)
                done = time.perf_counter()
                if "sent" in marks:
                    latency.append(marks["sent"] - marks["read"])
                    whole.append(done - marks["read"])
                    if marks["n"]:
                        latency_orders.append(marks["sent"] - marks["read"])
            writer.close()
            engine._close()
            rest.close()
    ref = statistics.median(rtt)
    n_orders = engine.counters.orders
    print(f"\ndecision latency: {MINUTES} minutes, {len(symbols)} symbols, {n_orders} orders sent")
    print(f"{'(milliseconds)':<48} {'n':>5} {'p50':>9} {'p99':>9} {'vs ref':>9}")
    print(_row("REST round trip GET /v2/clock (reference)", rtt))
    print(_row("line read -> orders sent (every minute)", latency, ref))
    if latency_orders:
        print(_row("line read -> orders sent (minutes with orders)", latency_orders, ref))
    print(_row("line read -> minute done (+book check, state)", whole, ref))


if __name__ == "__main__":
    main()

"""The live engine at 12 symbols against a real mockmarket: warm-up time, the critical path
(FIFO line read → first order request on the wire) and REST requests per decided minute,
with the trade-updates stream off ("before": the REST-polling fallback) and on ("after"),
in one run against one market.

Set-up: a synthetic mockmarket process (paused at 10:30 of its replay date), the 20
sessions before that date downloaded over REST into a temporary ``<data-dir>/equities``
(as the launcher does).

- warm-up: :func:`engine.warmup.warm_up` (20 sessions of history + today's 60 minutes so far
  from REST, through the grid rule, the signal engine's batch entry and the strategy's
  observations), median of 3 runs; reference: reading the same history CSVs alone;
- the live minute: a :class:`engine.app.LiveEngine` (rotation, tuned to trade most minutes
  so that there are orders to time) runs its real loop in a thread on a real FIFO, in
  windows of ``MINUTES`` minutes alternating ``trade_stream=False``, ``True``, and ``True``
  with the journal in RAM (:data:`WINDOWS`; each window's engine takes the previous one's
  positions over). Each minute the market clock is stepped 60 s, the minute's batch line is
  written to the FIFO, and the bench waits until the engine has decided it and is back
  waiting for the FIFO (one more turn of its loop: the stream's events applied).

  The critical path runs from the moment the FIFO reader returns the line to the moment
  the first ``POST /v2/orders`` request has been written to the socket (``http.client``'s
  ``send``, instrumented in this process), for minutes that send orders; on the way, the
  decision made and the intents journaled are timed too. "Minute done" runs to the end of
  the minute's bookkeeping (record, fallback poll, book check, ``state.json``, journal
  checkpoint). REST requests per decided minute come from mockmarket's
  ``/admin/counters`` over each window (the bench itself makes no counted request
  inside a window); the engine's requests are also counted by method and path.
  Reference: one REST round trip (``GET /v2/clock``) measured in the same run.

Printed: p50/p99 in milliseconds with the ratio of medians to the reference, and the
request counts.
"""

from __future__ import annotations

import collections
import http.client
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import engine.app as engine_app
from bench.timing import percentile
from common.bars import MINUTE_MS, Bar
from common.batch_line import encode_minute
from common.calendar import from_ms, ny_datetime, nyse, to_ms
from common.config import apply_params, original_config_json, validate_strategy_config
from common.csvfiles import history_path, read_history, write_history
from common.env import load_endpoints
from common.fifo import FifoLineReader, FifoWriter
from common.private_files import make_new_files_private
from common.rest import AlpacaRestClient
from common.session_grid import GridFiller
from engine.app import EngineOptions, LiveEngine
from engine.journal import Journal
from engine.strategies import make_strategy
from engine.warmup import warm_up
from mockmarket.harness import RunningMarket, run_market

DAY = date(2025, 10, 16)
START = "10:30"
MINUTES = 30
"""Minutes per window; the windows alternate stream off / on so both see alike markets."""
WINDOWS = ("before", "after", "after, journal in RAM") * 2
"""Stream off, on, and on with the journal on a RAM disk (``/dev/shm``; skipped without one):
the last measures the engine's own part of the critical path, the rest being the disk's
flush of the intents' commit (``synchronous=FULL``, design.md §6)."""
RAM_DISK = Path("/dev/shm")
HISTORY = 20
CHURN = {  # rotation, trading most minutes: short holds, quick exits, immediate rotations
    "rotation_manager_config.min_hold_bars": 1, "rotation_manager_config.cooldown_bars": 0,
    "rotation_manager_config.rotation_strength_delta": 0.0,
    "rotation_manager_config.min_strength_to_enter": 0.0,
    "rotation_manager_config.min_strength_to_exit": 0.0,
    "rotation_manager_config.profit_target": 0.001, "rotation_manager_config.stop_loss": 0.001,
    "rotation_manager_config.min_rank_to_hold": 3,
    "signal_aggregator_config.min_probability": 0.5, "signal_aggregator_config.min_confidence": 0.0,
    "signal_aggregator_config.min_strength": 0.0, "signal_aggregator_config.max_signal_age_bars": 390,
}  # fmt: skip


def _row(name: str, xs: list[float], ref: float | None = None) -> str:
    if not xs:
        return f"{name:<52} {0:>5} {'-':>9} {'-':>9}"
    p50, p99 = percentile(xs, 0.5) * 1e3, percentile(xs, 0.99) * 1e3
    ratio = f"{statistics.median(xs) / ref:8.1f}x" if ref else f"{'(ref)':>9}"
    return f"{name:<52} {len(xs):>5} {p50:>9.2f} {p99:>9.2f} {ratio}"


def _batch(t: int, bars: dict[str, list[Bar]], grid: GridFiller) -> str:
    """The line the bridge writes for minute ``t`` (its own grid rule fills what is missing)."""
    real = {s: b for s in grid.symbols for b in bars.get(s, ()) if b.t == t}
    return encode_minute(grid.fill(t, real, "complete"))


class Probe:
    """Timestamps from the engine's thread: FIFO line read, decision made, intents journaled,
    first order request written, minute done; and the engine's requests by endpoint."""

    def __init__(self) -> None:
        self.thread: int | None = None
        self.read_at: float | None = None
        self.decided_at: float | None = None
        self.journaled_at: float | None = None
        self.first_order_at: float | None = None
        self.requests: collections.Counter[str] = collections.Counter()
        self.waiting = threading.Event()
        self._orig_send = http.client.HTTPConnection.send
        self._orig_readline = FifoLineReader.readline
        self._orig_step = engine_app.minute_step
        self._orig_intents = Journal.record_intents

    def install(self) -> None:
        probe = self

        def step(*args: Any, **kw: Any) -> Any:
            out = probe._orig_step(*args, **kw)
            probe.decided_at = time.perf_counter()
            return out

        def intents(journal: Journal, rows: Any) -> set[str]:
            out = probe._orig_intents(journal, rows)
            if rows and probe.journaled_at is None:
                probe.journaled_at = time.perf_counter()
            return out

        def send(conn: http.client.HTTPConnection, data: Any) -> None:
            probe._orig_send(conn, data)
            if threading.get_ident() != probe.thread or not isinstance(data, bytes | bytearray):
                return
            line = bytes(data[:120]).split(b"\r\n", 1)[0]
            if not line.endswith(b"HTTP/1.1"):
                return  # a body, not a request
            method, path = line.decode().split(" ")[:2]
            path = path.split("?")[0]
            parts = path.split("/")
            if len(parts) > 3 and parts[2] == "orders" and len(parts[3]) > 20:
                path = "/v2/orders/{id}"
            probe.requests[f"{method} {path}"] += 1
            if method == "POST" and path == "/v2/orders" and probe.first_order_at is None:
                probe.first_order_at = time.perf_counter()

        def readline(reader: FifoLineReader, timeout: float | None = None) -> str | None:
            if threading.get_ident() == probe.thread:
                probe.waiting.set()
            line = probe._orig_readline(reader, timeout)
            if line is not None and threading.get_ident() == probe.thread:
                probe.waiting.clear()
                probe.read_at = time.perf_counter()
                probe.decided_at = probe.journaled_at = probe.first_order_at = None
            return line

        http.client.HTTPConnection.send = send  # type: ignore[method-assign]
        FifoLineReader.readline = readline  # type: ignore[method-assign]
        engine_app.minute_step = step  # type: ignore[assignment]
        Journal.record_intents = intents  # type: ignore[method-assign]

    def remove(self) -> None:
        http.client.HTTPConnection.send = self._orig_send  # type: ignore[method-assign]
        FifoLineReader.readline = self._orig_readline  # type: ignore[method-assign]
        engine_app.minute_step = self._orig_step
        Journal.record_intents = self._orig_intents  # type: ignore[method-assign]


@dataclass
class Window:
    name: str
    decision: list[float] = field(default_factory=list)
    journaled: list[float] = field(default_factory=list)
    first_order: list[float] = field(default_factory=list)
    done: list[float] = field(default_factory=list)
    decided: int = 0
    orders: int = 0
    rest: int = 0
    clock_reads: int = 0
    requests: collections.Counter[str] = field(default_factory=collections.Counter)


def _wait(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench: timed out waiting for {what}")
        time.sleep(0.002)


def _run_window(name: str, stream: bool, market: RunningMarket, cfg: Any, data: Path, tmp: Path,
                log_dir: Path, t0: int, day_bars: dict[str, list[Bar]], probe: Probe) -> Window:  # fmt: skip
    opts = EngineOptions(strategy="rotation", fifo=tmp / f"bars_{name}.fifo", log_dir=log_dir,
                         data_dir=data, alert_after_s=3600, rest_fallback_s=3600, poll_s=0.02,
                         trade_stream=stream)  # fmt: skip
    rest = AlpacaRestClient(load_endpoints(None, market.env()), timeout=10.0)
    engine = LiveEngine(opts, cfg, rest)
    w = Window(name)
    done_mark = engine._after_minute
    recording = threading.Event()  # set once the window starts: the start-up minute is not timed

    def after_minute(sent: Any) -> None:
        done_mark(sent)
        if recording.is_set() and probe.read_at is not None:
            w.done.append(time.perf_counter() - probe.read_at)
            if probe.decided_at is not None:
                w.decision.append(probe.decided_at - probe.read_at)
            if probe.first_order_at is not None and probe.journaled_at is not None:
                w.journaled.append(probe.journaled_at - probe.read_at)
                w.first_order.append(probe.first_order_at - probe.read_at)

    engine._after_minute = after_minute  # type: ignore[method-assign]
    codes: list[int | BaseException] = []

    def run() -> None:
        probe.thread = threading.get_ident()
        try:
            codes.append(engine.run())
        except BaseException as e:  # reported by the bench thread
            codes.append(e)
            raise

    th = threading.Thread(target=run, name=f"engine-{name}")
    th.start()
    _wait(lambda: engine.phase == "trading" or bool(codes), 300, f"the {name} engine to start")
    if codes:
        raise RuntimeError(f"bench: the {name} engine ended during start-up: {codes[0]!r}")
    if stream:
        _wait(lambda: engine.stream_up, 30, "the trade-updates stream")
    writer = FifoWriter(opts.fifo)
    writer.open()
    assert engine.feed is not None
    grid = GridFiller(cfg.symbols, engine.feed.last_closes)
    _wait(probe.waiting.is_set, 30, "the engine to wait for the FIFO")
    before = market.admin("GET", "/admin/counters")["rest_requests"]
    decided0, orders0, reads0 = engine.counters.decided, engine.counters.orders, engine.counters.clock_reads
    probe.requests.clear()
    recording.set()
    for k in range(MINUTES):
        t = t0 + k * MINUTE_MS
        market.admin("POST", "/admin/clock", json={"action": "step", "seconds": 60})
        n = engine.counters.decided
        probe.waiting.clear()
        writer.write_line(_batch(t, day_bars, grid))
        _wait(lambda n=n: engine.counters.decided > n, 30, f"the {name} engine to decide {from_ms(t)}")
        _wait(probe.waiting.is_set, 30, "the engine to be back at the FIFO")
        probe.waiting.clear()  # one more turn of the loop: the stream's events applied
        _wait(probe.waiting.is_set, 30, "the engine to be back at the FIFO")
    w.rest = market.admin("GET", "/admin/counters")["rest_requests"] - before
    w.decided = engine.counters.decided - decided0
    w.orders = engine.counters.orders - orders0
    w.clock_reads = engine.counters.clock_reads - reads0
    w.requests = collections.Counter(probe.requests)
    recording.clear()
    engine.stop.request("bench")
    th.join(30)
    writer.close()
    rest.close()
    return w


def main() -> None:
    make_new_files_private()  # as the engine process does: its journal is created 0600
    # the ported tuning (config/original): it trades from its first warm minute, where the
    # shipped defaults wait for demonstrated skill and would send no order to time
    data_cfg = apply_params(original_config_json("rotation"), CHURN, source="<bench>", strategy="rotation")
    cfg = validate_strategy_config("rotation", data_cfg, source="<bench>")
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
            print(f"{'(milliseconds)':<52} {'n':>5} {'p50':>9} {'p99':>9} {'vs ref':>9}")
            print(_row("read the history CSVs (reference)", read_times))
            print(_row("warm-up (history + today, signals, strategy)", warm_times, statistics.median(read_times)))

            # ---- the live minute: stream off, then on
            rtt = []
            for _ in range(50):
                a = time.perf_counter()
                rest.get_clock()
                rtt.append(time.perf_counter() - a)
            t0 = to_ms(ny_datetime(DAY, START))
            market.admin("POST", "/admin/clock", json={"action": "step", "seconds": 2})
            day_bars = rest.get_bars(symbols, from_ms(t0), from_ms(t0 + len(WINDOWS) * MINUTES * MINUTE_MS))
            probe = Probe()
            probe.install()
            runs: list[tuple[str, Window]] = []
            try:
                with tempfile.TemporaryDirectory(prefix="bench_engine_", dir=RAM_DISK if RAM_DISK.is_dir()
                                                 else None) as ram:  # fmt: skip
                    for i, kind in enumerate(WINDOWS):
                        if "RAM" in kind and not RAM_DISK.is_dir():
                            continue
                        logs = (Path(ram) if "RAM" in kind else tmp) / f"logs{i}"
                        w = _run_window(f"w{i}", kind != "before", market, cfg, data, tmp, logs,
                                        t0 + i * MINUTES * MINUTE_MS, day_bars, probe)  # fmt: skip
                        runs.append((kind, w))
            finally:
                probe.remove()
            rest.close()
    ref = statistics.median(rtt)
    both = {kind: Window(kind) for kind in dict.fromkeys(k for k, _ in runs)}
    for kind, w in runs:
        total = both[kind]
        total.decision += w.decision
        total.journaled += w.journaled
        total.first_order += w.first_order
        total.done += w.done
        total.decided += w.decided
        total.orders += w.orders
        total.rest += w.rest
        total.clock_reads += w.clock_reads
        total.requests.update(w.requests)
    labels = {"before": "before: stream off (REST polling fallback)", "after": "after: stream on",
              "after, journal in RAM": "after, journal in RAM (the engine's own part)"}  # fmt: skip
    print(f"\nthe live minute: {len(symbols)} symbols, windows of {MINUTES} minutes alternating stream "
          "off / on; rotation tuned to trade often")  # fmt: skip
    print(f"{'(milliseconds)':<52} {'n':>5} {'p50':>9} {'p99':>9} {'vs ref':>9}")
    print(_row("REST round trip GET /v2/clock (reference)", rtt))
    for w in both.values():
        print(labels[w.name])
        print(_row("  line read -> decision made", w.decision, ref))
        print(_row("  line read -> intents journaled (one fsync)", w.journaled, ref))
        print(_row("  line read -> first order request on the wire", w.first_order, ref))
        print(_row("  line read -> minute done (record, poll, check, state)", w.done, ref))
    print(f"\n{'REST requests (mockmarket counters)':<48} {'minutes':>8} {'orders':>7} {'requests':>9} "
          f"{'per min':>8} {'-orders':>8} {'clock':>6}")  # fmt: skip
    for w in both.values():
        per = w.rest / max(1, w.decided)
        other = (w.rest - w.orders) / max(1, w.decided)
        print(f"{labels[w.name]:<48} {w.decided:>8} {w.orders:>7} {w.rest:>9} {per:>8.2f} {other:>8.2f} "
              f"{w.clock_reads:>6}")  # fmt: skip
    for w in both.values():
        breakdown = ", ".join(f"{k} {v}" for k, v in sorted(w.requests.items()))
        print(f"{w.name}: requests by endpoint: {breakdown}")


if __name__ == "__main__":
    main()

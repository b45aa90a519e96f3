"""The engine's FIFO side on a real FIFO, with gaps backfilled from a real mockmarket over REST."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import date

import pytest

from common.bars import MINUTE_MS, Bar
from common.batch_line import encode_heartbeat, encode_minute
from common.calendar import from_ms, ny_datetime, nyse, to_ms
from common.errors import NetworkError
from common.fifo import FifoLineReader, FifoWriter
from common.minute import Minute
from common.session_grid import GridFiller
from engine.bar_feed import BarFeed, rest_backfill

SYMS = ("SPY", "SPXL", "SH", "SDS")
DAY = date(2025, 10, 16)


def at(day: date, hhmm: str) -> int:
    return to_ms(ny_datetime(day, hhmm))


class Mono:
    """An injectable monotonic clock."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def market_bars(tmp_path_factory, market_data) -> Iterator[tuple[dict[str, list[Bar]], object]]:
    """The real bars of 09:30–10:59 on DAY, and a REST client of a market paused at 11:00."""
    from common.env import load_endpoints
    from common.rest import AlpacaRestClient
    from mockmarket.harness import run_market

    with (
        run_market(tmp_path_factory.mktemp("feed_market"), data_dir=market_data(DAY), seed=11,
                   sessions=3, date=DAY.isoformat(), start_time="11:00",
                   extra_args=["--paused"]) as m,
        AlpacaRestClient(load_endpoints(None, m.env()), timeout=5.0) as rest,
    ):  # fmt: skip
        bars = rest.get_bars(SYMS, from_ms(at(DAY, "09:30")), from_ms(at(DAY, "10:59")))
        yield bars, rest


@pytest.fixture
def pipe(tmp_path) -> Iterator[tuple[FifoWriter, FifoLineReader]]:
    path = tmp_path / "bars.fifo"
    reader = FifoLineReader(path, check_interval=0.05)
    reader.open()
    writer = FifoWriter(path)
    writer.open()
    yield writer, reader
    writer.close()
    reader.close()


def by_minute(bars: dict[str, list[Bar]]) -> dict[int, dict[str, Bar]]:
    out: dict[int, dict[str, Bar]] = {}
    for sym, bs in bars.items():
        for b in bs:
            out.setdefault(b.t, {})[sym] = b
    return out


def batch_line(t: int, real: dict[str, Bar], closes: dict[str, float]) -> str:
    """What the bridge writes: real bars, the others filled from its last closes."""
    return encode_minute(GridFiller(SYMS, closes).fill(t, real, "complete"))


def drain(feed: BarFeed, n_lines: int) -> list:
    out = []
    for _ in range(n_lines):
        out += feed.poll(2.0)
    return out


def make_feed(reader, backfill, last_t, closes, **kw) -> BarFeed:
    return BarFeed(SYMS, nyse().session(DAY), reader, backfill, last_t=last_t, last_closes=closes, **kw)


def no_backfill(*_a):
    raise AssertionError("no backfill expected")


def test_batches_in_order_become_grid_minutes(pipe, market_bars):
    writer, reader = pipe
    bars, _ = market_bars
    real = by_minute(bars)
    closes = {s: bars[s][0].open for s in SYMS}
    first = at(DAY, "09:30")
    feed = make_feed(reader, no_backfill, None, closes)
    expected_closes = dict(closes)
    for i in range(10):
        t = first + i * MINUTE_MS
        writer.write_line(batch_line(t, real.get(t, {}), expected_closes))
        for s in SYMS:
            if s in real.get(t, {}):
                expected_closes[s] = real[t][s].close
    got = drain(feed, 10)
    assert [m.t for m in got] == [first + i * MINUTE_MS for i in range(10)]
    for m in got:
        assert set(m.bars) == set(SYMS) and m.source == "fifo"
        for s in SYMS:
            if s in real.get(m.t, {}):
                assert m.bars[s] == real[m.t][s]
            else:
                assert m.bars[s].filled and m.bars[s].volume == 0
    assert feed.last_t == first + 9 * MINUTE_MS
    assert feed.stats.batches == 10 and feed.stats.gaps == 0


def test_invalid_and_unknown_lines_are_skipped(pipe, market_bars, caplog):
    writer, reader = pipe
    bars, _ = market_bars
    closes = {s: bars[s][0].close for s in SYMS}
    t = at(DAY, "09:30")
    feed = make_feed(reader, no_backfill, None, closes)
    good = json.loads(batch_line(t, {}, closes))
    bad = json.loads(batch_line(t, {}, closes))
    bad["bars"][0]["high"] = -1
    lines = ["not json", json.dumps(bad), json.dumps({"type": "news", "x": 1}), "[1,2]",
             json.dumps(good)]  # fmt: skip
    for line in lines:
        writer.write_line(line)
    with caplog.at_level(logging.WARNING, logger="engine.bar_feed"):
        got = drain(feed, len(lines))
    assert [m.t for m in got] == [t]
    assert feed.stats.invalid == 3 and feed.stats.ignored == 1
    assert sum("FIFO line skipped" in r.getMessage() for r in caplog.records) == 3


def test_duplicate_and_stale_batches_are_skipped_with_a_log_line(pipe, market_bars, caplog):
    writer, reader = pipe
    bars, _ = market_bars
    closes = {s: bars[s][0].close for s in SYMS}
    t0 = at(DAY, "10:00")
    feed = make_feed(reader, no_backfill, t0, closes)
    for t in (t0 + MINUTE_MS, t0 + MINUTE_MS, t0, t0 - 5 * MINUTE_MS, t0 + 2 * MINUTE_MS):
        writer.write_line(batch_line(t, {}, closes))
    with caplog.at_level(logging.INFO, logger="engine.bar_feed"):
        got = drain(feed, 5)
    assert [m.t for m in got] == [t0 + MINUTE_MS, t0 + 2 * MINUTE_MS]
    assert feed.stats.duplicates == 1 and feed.stats.stale == 2
    text = caplog.text
    assert "duplicate batch" in text and "stale batch" in text


def test_a_gap_is_backfilled_over_rest_before_the_batch(pipe, market_bars):
    writer, reader = pipe
    bars, rest = market_bars
    real = by_minute(bars)
    t0 = at(DAY, "10:00")
    closes = {}
    for s in SYMS:
        closes[s] = [b for b in bars[s] if b.t <= t0][-1].close
    feed = make_feed(reader, rest_backfill(rest), t0, closes)
    t_new = t0 + 6 * MINUTE_MS
    writer.write_line(batch_line(t_new, real.get(t_new, {}), closes))
    got = drain(feed, 1)
    assert [m.t for m in got] == [t0 + i * MINUTE_MS for i in range(1, 7)]
    assert [m.source for m in got] == ["backfill"] * 5 + ["fifo"]
    last = dict(closes)
    for m in got[:-1]:  # exactly the market's bars, the session-grid rule for the rest
        for s in SYMS:
            b = real.get(m.t, {}).get(s)
            if b is not None:
                assert m.bars[s] == b
                last[s] = b.close
            else:
                assert m.bars[s] == Bar(s, m.t, last[s], last[s], last[s], last[s], 0.0, last[s], 0, True)
    assert feed.stats.gaps == 1 and feed.stats.backfilled_minutes == 5


def test_the_bridge_fill_is_replaced_by_the_engines_own_last_close(pipe, market_bars):
    writer, reader = pipe
    bars, _ = market_bars
    t = at(DAY, "10:30")
    closes = {s: 50.0 for s in SYMS}
    feed = make_feed(reader, no_backfill, t - MINUTE_MS, closes)
    wrong = {s: 77.0 for s in SYMS}  # a bridge that filled from another close
    writer.write_line(batch_line(t, {}, wrong))
    (m,) = drain(feed, 1)
    assert all(m.bars[s].close == 50.0 and m.bars[s].filled for s in SYMS)


def test_a_missing_symbol_is_filled_and_a_foreign_one_ignored(pipe, market_bars):
    writer, reader = pipe
    bars, _ = market_bars
    t = at(DAY, "10:30")
    closes = {s: 50.0 for s in SYMS}
    feed = make_feed(reader, no_backfill, t - MINUTE_MS, closes)
    spy = replace(bars["SPY"][0], t=t)
    other = Bar("QQQ", t, 1, 1, 1, 1, 10)
    writer.write_line(encode_minute(Minute(t, {"SPY": spy, "QQQ": other}, "deadline")))
    (m,) = drain(feed, 1)
    assert m.bars["SPY"] == spy and "QQQ" not in m.bars
    assert all(m.bars[s].filled and m.bars[s].close == 50.0 for s in ("SPXL", "SH", "SDS"))


def test_off_grid_batches_are_skipped(pipe, market_bars):
    writer, reader = pipe
    closes = {s: 50.0 for s in SYMS}
    feed = make_feed(reader, no_backfill, None, closes)
    writer.write_line(batch_line(at(DAY, "09:29"), {}, closes))
    writer.write_line(batch_line(at(DAY, "16:00"), {}, closes))
    assert drain(feed, 2) == [] and feed.stats.off_grid == 2


def test_the_reader_survives_a_writer_restart(pipe, market_bars, tmp_path):
    writer, reader = pipe
    closes = {s: 50.0 for s in SYMS}
    t = at(DAY, "10:00")
    feed = make_feed(reader, no_backfill, t - MINUTE_MS, closes)
    writer.write_line(batch_line(t, {}, closes))
    assert [m.t for m in drain(feed, 1)] == [t]
    writer.close()  # the bridge goes away: EOF for the reader
    assert feed.poll(0.2) == []
    w2 = FifoWriter(tmp_path / "bars.fifo")
    w2.open()
    try:
        w2.write_line(batch_line(t + MINUTE_MS, {}, closes))
        got = []
        for _ in range(20):
            got += feed.poll(0.2)
            if got:
                break
        assert [m.t for m in got] == [t + MINUTE_MS]
        assert reader.reopens >= 1
    finally:
        w2.close()


def test_backfill_failure_fills_from_last_close_and_alerts(pipe):
    writer, reader = pipe
    closes = {s: 50.0 for s in SYMS}
    alerts = []
    t0 = at(DAY, "10:00")

    def broken(*_a):
        raise NetworkError("no route")

    feed = make_feed(reader, broken, t0, closes, on_alert=lambda k, d: alerts.append((k, d)))
    writer.write_line(batch_line(t0 + 3 * MINUTE_MS, {}, closes))
    got = drain(feed, 1)
    assert [m.source for m in got] == ["gap-fill", "gap-fill", "fifo"]
    assert [k for k, _ in alerts] == ["backfill_failed"]


def test_silence_during_market_hours_raises_one_alert(pipe):
    writer, reader = pipe
    mono = Mono()
    alerts: list[tuple[str, dict]] = []
    is_open = [True]
    feed = make_feed(reader, no_backfill, None, {s: 50.0 for s in SYMS}, monotonic=mono,
                     alert_after_s=30, realert_s=120, on_alert=lambda k, d: alerts.append((k, d)),
                     market_open=lambda: is_open[0])  # fmt: skip
    mono.t += 29
    assert feed.poll(0.01) == [] and alerts == []
    mono.t += 2
    feed.poll(0.01)
    assert [k for k, _ in alerts] == ["feed_silent"] and "no bars and no heartbeats" in alerts[0][1]["message"]
    mono.t += 60
    feed.poll(0.01)
    assert len(alerts) == 1  # once per episode ...
    mono.t += 61
    feed.poll(0.01)
    assert len(alerts) == 2  # ... repeated every realert_s
    writer.write_line(encode_heartbeat(1, True, None))
    feed.poll(1.0)
    mono.t += 29
    feed.poll(0.01)
    assert len(alerts) == 2  # a heartbeat ends the silence
    is_open[0] = False
    mono.t += 100
    feed.poll(0.01)
    assert len(alerts) == 2  # no alarm while the market is closed


def test_a_bridge_whose_socket_is_down_raises_an_alert(pipe):
    writer, reader = pipe
    mono = Mono()
    alerts: list[str] = []
    feed = make_feed(reader, no_backfill, None, {s: 50.0 for s in SYMS}, monotonic=mono,
                     alert_after_s=10, on_alert=lambda k, d: alerts.append(k))  # fmt: skip
    for _ in range(4):
        writer.write_line(encode_heartbeat(1, False, None))
        feed.poll(1.0)
        mono.t += 4
    assert alerts == ["feed_disconnected"]

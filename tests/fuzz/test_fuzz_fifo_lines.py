"""FIFO lines (design.md §3): the codec, the real named pipe's line reader and the engine's
bar feed, fed anything. Only :class:`LineError` is ever raised; a bad line is logged with
its reason and never costs the good lines around it."""

from __future__ import annotations

import json
import logging
import os
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.bars import Bar
from common.batch_line import Heartbeat, LineError, decode_line, encode_heartbeat, encode_minute
from common.calendar import nyse
from common.fifo import FifoLineReader, ensure_fifo
from common.minute import Minute
from engine.bar_feed import BarFeed
from tests.fuzz.fuzzing import bent, count, fuzz, json_values

DAY = date(2025, 10, 16)
SESSION = nyse().session(DAY)
T0 = SESSION.open_ms
SYMBOLS = ("AAA", "BBB")


def good_minute(i: int) -> Minute:
    t = T0 + i * 60_000
    p = 10.0 + i
    return Minute(t, {s: Bar(s, t, p, p + 1, p - 1, p, 100.0 + i, p, 3) for s in SYMBOLS}, "fifo")


GOOD_LINE = encode_minute(good_minute(0))
GOOD_OBJ = json.loads(GOOD_LINE)
BAR_OBJ = GOOD_OBJ["bars"][0]
HEARTBEAT_OBJ = json.loads(encode_heartbeat(T0, True, T0))

bent_lines = st.one_of(
    st.builds(lambda b: {**GOOD_OBJ, "bars": [b]}, bent(BAR_OBJ, ("symbol",))),
    st.builds(lambda b, rest: {**GOOD_OBJ, "bars": [BAR_OBJ, b, *rest]}, bent(BAR_OBJ), st.lists(json_values, max_size=2)),
    bent(GOOD_OBJ, ("type",)),
    bent(HEARTBEAT_OBJ, ("type",)),
    json_values,
).map(lambda o: json.dumps(o, ensure_ascii=False))
lines = st.one_of(
    bent_lines,
    st.text(max_size=200),
    st.binary(max_size=200),
    st.just("[" * 5000 + "]" * 5000),
    st.just('{"type":"bars","t":' + "9" * 5000 + "}"),
    st.sampled_from([GOOD_LINE + "x", GOOD_LINE[:-1], "\ufeff" + GOOD_LINE, GOOD_LINE + "\r"]),
)


def check_decoded(item: object) -> None:
    if isinstance(item, Minute):
        for b in item.bars.values():
            b.validate()
            assert b.t == item.t
    else:
        assert item is None or isinstance(item, Heartbeat)


@fuzz
@given(lines)
def test_decode_line_accepts_or_says_why(line: str | bytes) -> None:
    count("fifo line: common.batch_line.decode_line")
    try:
        item = decode_line(line)
    except LineError as e:
        assert str(e)
        return
    check_decoded(item)


# -- the real named pipe: junk between good lines costs only itself

@pytest.fixture(scope="module")
def pipe(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("fifo") / "bars.fifo"
    ensure_fifo(path)
    reader = FifoLineReader(path, check_interval=0.05)
    reader.open()
    wfd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    yield reader, wfd
    os.close(wfd)
    reader.close()


junk = st.binary(max_size=300) | st.binary(min_size=4090, max_size=4200) | st.sampled_from(
    [b"\xff\xfe", b"\n\n", b"x" * 5000, GOOD_LINE.encode()[:100]]
)


@fuzz
@given(st.lists(st.tuples(junk, st.integers(0, 30)), min_size=1, max_size=6), st.booleans())
def test_fifo_reader_keeps_every_good_line(pipe, parts: list[tuple[bytes, int]], split: bool) -> None:
    count("fifo stream: common.fifo.FifoLineReader")
    reader, wfd = pipe
    data = bytearray(b"\n")  # ends whatever the previous example left half-written
    expected = []
    for rubbish, i in parts:
        line = encode_minute(good_minute(i))
        data += rubbish + b"\n" + line.encode() + b"\n"
        expected.append(line)
    chunks = [bytes(data)] if not split else [bytes(data[k : k + 1000]) for k in range(0, len(data), 1000)]
    got = []
    for chunk in chunks:
        assert os.write(wfd, chunk) == len(chunk)
        while (line := reader.readline(timeout=0)) is not None:
            got.append(line)
    goods = [g for g in got if g in expected]
    assert goods == expected
    for g in got:  # the rest are the junk's own lines, each one rejected with a reason
        if g not in expected:
            try:
                check_decoded(decode_line(g))
            except LineError as e:
                assert str(e)


# -- the engine's feed: each bad line logged with its reason, every good minute delivered

class Lines:
    def __init__(self, items: list[str]) -> None:
        self.items = list(items)

    def readline(self, timeout: float | None = None) -> str | None:
        return self.items.pop(0) if self.items else None


def no_backfill(symbols, first_t, last_t):
    raise AssertionError("the fuzz feed has no gap to backfill")


def rejected_or_ignored(line: str | bytes) -> bool:
    """A line the feed does not take as a batch (a batch that decodes is no junk)."""
    if not isinstance(line, str) or "\n" in line:
        return False
    try:
        return not isinstance(decode_line(line), Minute)
    except LineError:
        return True


@fuzz
@given(st.lists(lines.filter(rejected_or_ignored), max_size=4), st.integers(1, 5))
def test_feed_logs_each_bad_line_and_delivers_the_good_minutes(bad: list[str], n_good: int) -> None:
    count("fifo line: engine.bar_feed.BarFeed.poll")
    goods = [encode_minute(good_minute(i)) for i in range(n_good)]
    # each bad line goes before the good minute it is paired with
    sequence = []
    for i, g in enumerate(goods):
        sequence += bad[i : i + 1] + [g]
    sequence += bad[n_good:]
    feed = BarFeed(SYMBOLS, SESSION, Lines(sequence), no_backfill, last_t=None,
                   last_closes={s: 10.0 for s in SYMBOLS}, monotonic=lambda: 0.0)  # fmt: skip
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    log = logging.getLogger("engine.bar_feed")
    log.addHandler(handler)
    old = log.level
    log.setLevel(logging.DEBUG)
    try:
        delivered = []
        for _ in sequence:
            delivered += feed.poll(0)
    finally:
        log.removeHandler(handler)
        log.setLevel(old)
    real = [m for m in delivered if m.source == "fifo"]
    for i in range(n_good):
        m = next(m for m in real if m.t == T0 + i * 60_000)
        assert {s: b.close for s, b in m.bars.items()} == {s: 10.0 + i for s in SYMBOLS}
    skipped = [r for r in records if r.getMessage().startswith("FIFO line skipped: ")]
    assert len(skipped) == feed.stats.invalid
    for r in skipped:
        assert r.levelno == logging.WARNING
        assert r.getMessage().removeprefix("FIFO line skipped: ").strip()

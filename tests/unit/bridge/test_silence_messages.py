from __future__ import annotations

from datetime import date

import pytest

from bridge.messages import Control, Malformed, StreamBar, parse_frame, parse_time_ms
from bridge.silence import SilenceWatch
from common.calendar import nyse

SESSION = nyse().session(date(2025, 10, 16))
M = 60_000


def feed(w: SilenceWatch, minutes: range, gap_s: float, start: float = 0.0) -> float:
    now = start
    for i in minutes:
        w.on_data(now, SESSION.open_ms + i * M)
        now += gap_s
    return now - gap_s


# -- silence


def test_threshold_follows_the_feed_rate():
    fast, slow = SilenceWatch(), SilenceWatch()
    feed(fast, range(0, 10), 1.0)  # 60x replay
    feed(slow, range(0, 10), 60.0)  # real time
    assert fast.threshold() == 5.0  # max(5, 2 x 1 s)
    assert slow.threshold() == 120.0
    assert SilenceWatch().threshold() == 90.0  # nothing known yet: fallback


def test_silent_connection_is_detected_only_after_the_threshold():
    w = SilenceWatch()
    last = feed(w, range(0, 10), 1.0)
    w.on_subscribed(last)
    assert not w.is_silent(last + 4.9)
    assert w.is_silent(last + 5.0)
    w.on_data(last + 5.0)  # an updated bar counts as data
    assert not w.is_silent(last + 6.0)


def test_no_reconnect_churn_after_the_close():
    w = SilenceWatch()
    last = feed(w, range(380, 390), 1.0)  # up to the 15:59 bar
    assert w.estimated_market_ms(last) == SESSION.close_ms + 1000
    assert not w.market_open(last + 10)
    assert not w.is_silent(last + 1000)


def test_gaps_of_several_minutes_count_per_minute():
    w = SilenceWatch()
    for k, i in enumerate([0, 2, 4, 6]):  # a bar every other minute, 2 s apart
        w.on_data(k * 2.0, SESSION.open_ms + i * M)
    assert w.median_gap() == 1.0


def test_never_silent_before_a_subscription():
    assert not SilenceWatch().is_silent(1e9)
    with pytest.raises(ValueError):
        SilenceWatch(min_silence_s=0)


# -- messages


def test_parse_time_accepts_z_offsets_and_nanoseconds():
    assert parse_time_ms("2025-10-16T13:30:00Z") == SESSION.open_ms
    assert parse_time_ms("2025-10-16T09:30:00-04:00") == SESSION.open_ms
    assert parse_time_ms("2025-10-16T13:30:00.123456789Z") == SESSION.open_ms + 123
    with pytest.raises(ValueError):
        parse_time_ms("2025-10-16T13:30:00")


def test_parse_frame_splits_bars_controls_and_malformed():
    frame = (
        '[{"T":"b","S":"SPY","o":1,"h":2,"l":0.5,"c":1.5,"v":10,"t":"2025-10-16T13:30:00Z","n":2,"vw":1.2},'
        '{"T":"u","S":"SPY","o":1,"h":2,"l":0.5,"c":1.6,"v":11,"t":"2025-10-16T13:30:00Z","n":3,"vw":null},'
        '{"T":"error","code":406,"msg":"connection limit exceeded"},'
        '{"T":"b","S":"QQQ","o":1,"h":0.5,"l":0.9,"c":1,"v":1,"t":"2025-10-16T13:30:00Z"},'
        '{"T":"b","S":"IWM","o":"1","h":1,"l":1,"c":1,"v":1,"t":"2025-10-16T13:30:00Z"},'
        '{"T":"b","S":"DIA","h":1,"l":1,"c":1,"v":1,"t":"2025-10-16T13:30:00Z"},'
        '42]'
    )
    out = parse_frame(frame)
    assert isinstance(out[0], StreamBar) and not out[0].updated
    assert out[0].bar.t == SESSION.open_ms and out[0].bar.vwap == 1.2 and out[0].bar.trade_count == 2
    assert isinstance(out[1], StreamBar) and out[1].updated and out[1].bar.vwap is None
    assert out[2] == Control("error", 406, "connection limit exceeded", out[2].raw)
    assert isinstance(out[3], Malformed) and "high" in out[3].reason
    assert isinstance(out[4], Malformed) and "o='1'" in out[4].reason
    assert isinstance(out[5], Malformed) and "missing 'o'" in out[5].reason
    assert isinstance(out[6], Malformed)
    assert isinstance(parse_frame("{nope")[0], Malformed)
    assert isinstance(parse_frame('"text"')[0], Malformed)

"""Deterministic client_order_id: format, length, round trip, DST, foreign ids."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.calendar import nyse
from engine.order_ids import OrderKey, parse_client_order_id


def test_documented_example(full_day, at) -> None:
    cid = OrderKey.for_minute("rotation", at(full_day, "15:57"), "TQQQ", "sell").client_order_id()
    assert cid == "it-rot-20251016-1557-TQQQ-s-0"
    key = parse_client_order_id(cid)
    assert key == OrderKey("rotation", date(2025, 10, 16), 15 * 60 + 57, "TQQQ", "sell", 0)
    assert key.t_ms == at(full_day, "15:57")


def test_same_decision_same_id(full_day, at) -> None:
    t = at(full_day, "10:31")
    assert OrderKey.for_minute("psm", t, "SPXL", "buy", 1).client_order_id() == OrderKey.for_minute(
        "psm", t, "SPXL", "buy", 1
    ).client_order_id()
    ids = {
        OrderKey.for_minute(s, t2, sym, side, q).client_order_id()
        for s in ("psm", "rotation")
        for t2 in (t, t + 60_000)
        for sym in ("SPY", "SPXL")
        for side in ("buy", "sell")
        for q in (0, 1)
    }
    assert len(ids) == 32  # every field changes the id


def test_new_york_time_in_winter_and_summer() -> None:
    cal = nyse()
    for d in (date(2025, 1, 15), date(2025, 7, 15)):
        s = cal.session(d)
        assert OrderKey.for_minute("psm", s.open_ms, "SPY", "buy").client_order_id().split("-")[3] == "0930"


@settings(max_examples=200, deadline=None)
@given(
    strategy=st.sampled_from(["psm", "rotation"]),
    day=st.dates(date(2000, 1, 1), date(2099, 12, 31)),
    minute=st.integers(0, 24 * 60 - 1),
    symbol=st.from_regex(r"[A-Z][A-Z0-9.]{0,9}", fullmatch=True),
    side=st.sampled_from(["buy", "sell"]),
    seq=st.integers(0, 9999),
)
def test_round_trip_and_length(strategy, day, minute, symbol, side, seq) -> None:
    key = OrderKey(strategy, day, minute, symbol, side, seq)
    cid = key.client_order_id()
    assert len(cid) <= 48
    assert parse_client_order_id(cid) == key


@pytest.mark.parametrize(
    "cid",
    [
        "",
        "d1a8c3a0-7a5b-4c7e-9f1e-2b3c4d5e6f70",  # an Alpaca-generated id
        "it-rot-20251016-1557-TQQQ-x-0",
        "it-foo-20251016-1557-TQQQ-s-0",
        "it-rot-20251316-1557-TQQQ-s-0",  # month 13
        "it-rot-20251016-2460-TQQQ-s-0",
        "it-rot-20251016-1557-tqqq-s-0",
        "it-rot-20251016-1557-TQQQ-s-01",
        "it-rot-20251016-1557-TQQQ-s-0-extra",
    ],
)
def test_foreign_ids_are_not_ours(cid: str) -> None:
    assert parse_client_order_id(cid) is None


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("swing", date(2025, 1, 2), 600, "SPY", "buy", 0), "strategy"),
        (("psm", date(2025, 1, 2), 600, "SPY", "short", 0), "side"),
        (("psm", date(2025, 1, 2), 600, "spy", "buy", 0), "symbol"),
        (("psm", date(2025, 1, 2), 1440, "SPY", "buy", 0), "minute_of_day"),
        (("psm", date(2025, 1, 2), 600, "SPY", "buy", 10_000), "seq"),
    ],
)
def test_bad_keys_are_refused(args, match) -> None:
    with pytest.raises(ValueError, match=match):
        OrderKey(*args)


def test_unaligned_minute_is_refused(full_day) -> None:
    with pytest.raises(ValueError, match="not a minute start"):
        OrderKey.for_minute("psm", full_day.open_ms + 5, "SPY", "buy").client_order_id()

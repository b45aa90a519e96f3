"""Regulatory fees per fill (SEC, TAF with its cap, CAT), the commission, and the daily accrual."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.costs import CostModel
from ledger.fees import DailyFeeAccrual, FeeSchedule
from ledger.money import ceil_cents

D = Decimal
ALPACA = CostModel.default().fees  # the defaults: SEC 27.80/M, TAF 0.000166 capped at 8.30, CAT 0.000046
DAY, NEXT = date(2025, 10, 16), date(2025, 10, 17)


def test_a_sell_pays_sec_taf_and_cat():
    f = ALPACA.for_fill("sell", D(1000), D("50.00"))
    assert f.sec == D(50_000) * D("27.8") / 1_000_000 == D("1.39")
    assert f.taf == D("0.166")
    assert f.cat == D("0.046")
    assert f.commission == 0
    assert f.regulatory == f.total == D("1.602")


def test_a_buy_pays_only_cat():
    f = ALPACA.for_fill("buy", D(1000), D("50.00"))
    assert (f.sec, f.taf, f.cat) == (0, 0, D("0.046"))


def test_taf_is_capped_per_trade():
    assert ALPACA.for_fill("sell", D(49_999), D(1)).taf == D("8.299834")
    assert ALPACA.for_fill("sell", D(50_001), D(1)).taf == D("8.3")  # 8.300166 → the cap
    assert ALPACA.for_fill("sell", D(1_000_000), D(1)).taf == D("8.3")


def test_commission_is_per_share_in_cents_on_both_sides():
    broker = FeeSchedule(D(0), D(0), D(0), D(0), commission_per_share=D("0.005"))
    assert broker.for_fill("buy", D(101), D(10)).commission == D("0.50")  # 0.505, banker's rounding
    assert broker.for_fill("sell", D(3), D(10)).commission == D("0.02")  # 0.015 → 0.02


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="side"):
        ALPACA.for_fill("short", D(1), D(1))
    with pytest.raises(ValueError, match="qty"):
        ALPACA.for_fill("buy", D(0), D(1))
    with pytest.raises(ValueError, match="taf_per_share"):
        FeeSchedule(D(0), D(-1), D(0), D(0))
    with pytest.raises(ValueError, match=">= 0"):
        DailyFeeAccrual().charge(DAY, D("-0.01"))


def test_a_day_is_charged_its_total_rounded_up_not_each_fill():
    acc = DailyFeeAccrual()
    # three small sells, $0.0033 of fees each: one cent for the day, not three
    assert [acc.charge(DAY, D("0.0033")) for _ in range(3)] == [D("0.01"), D(0), D(0)]
    assert acc.charge(DAY, D("0.0033")) == D("0.01")  # 0.0132 → 0.02 due, 0.01 paid
    assert acc.day(DAY).accrued == D("0.0132") and acc.day(DAY).charged == D("0.02")
    # a new day starts its own accrual
    assert acc.charge(NEXT, D("0.0001")) == D("0.01")
    assert [(d.day, d.charged) for d in acc.days()] == [(DAY, D("0.02")), (NEXT, D("0.01"))]
    assert acc.day(date(2025, 10, 20)).charged == 0


@given(st.lists(st.tuples(st.booleans(), st.decimals(min_value=0, max_value=20, places=6)), max_size=40))
def test_charges_are_whole_cents_and_sum_to_each_days_total_rounded_up(fills):
    acc = DailyFeeAccrual()
    paid = {DAY: D(0), NEXT: D(0)}
    for second_day, amount in fills:
        day = NEXT if second_day else DAY
        c = acc.charge(day, amount)
        assert c >= 0 and c == c.quantize(D("0.01"))
        paid[day] += c
    for day in (DAY, NEXT):
        total = sum((a for s, a in fills if (NEXT if s else DAY) == day), D(0))
        assert paid[day] == ceil_cents(total) == acc.day(day).charged

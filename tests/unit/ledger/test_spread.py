"""The half-spread: formula, half-cent floor, cap, and what the defaults give liquid and thin names."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.costs import CostModel
from ledger.spread import HALF_TICK, SpreadModel

D = Decimal
MODEL = SpreadModel(at_reference_bps=D(2), reference_dollar_volume=D(100_000), max_bps=D(30))
DEFAULT = CostModel.default().spread


def test_half_spread_bps_follows_the_inverse_square_root_of_dollar_volume():
    assert MODEL.half_spread_bps(D(100_000)) == D(2)
    assert MODEL.half_spread_bps(D(25_000)) == D(4)  # a quarter of the volume: twice as wide
    assert MODEL.half_spread_bps(D(400_000)) == D(1)
    assert MODEL.half_spread_bps(D(1)) == D(30)  # capped
    assert MODEL.half_spread_bps(None) == D(30)  # no history: the widest
    assert MODEL.half_spread_bps(D(0)) == D(30)


def test_half_spread_in_dollars_is_never_below_half_a_cent_and_rounds_up():
    assert MODEL.half_spread(D(10), D(400_000)) == HALF_TICK  # 1 bp of $10 is a tenth of a cent
    # 2 bp of $123.45 = 0.02469 → rounded up to $0.0001
    assert MODEL.half_spread(D("123.45"), D(100_000)) == D("0.0247")
    assert MODEL.half_spread(D(100), None) == D("0.3")  # the cap, 30 bp


@pytest.mark.parametrize(
    ("price", "dollar_volume", "low_bps", "high_bps"),
    [
        (500, 4_700_000, 0.0, 0.3),  # SPY: well under a basis point
        (60, 700_000, 0.8, 0.9),  # TQQQ: at the half-cent floor, 0.83 bp
        (25, 3_900, 4.5, 6.0),  # ERY: several basis points
        (15, 2_900, 5.0, 7.0),  # FAZ
        (45, 10_500, 3.0, 3.5),  # SH
    ],
)
def test_default_calibration_liquid_names_well_under_a_bp_thin_ones_several(
    price, dollar_volume, low_bps, high_bps
):
    half = DEFAULT.half_spread(D(price), D(dollar_volume))
    bps = float(half / D(price) * 10_000)
    assert low_bps <= bps <= high_bps, bps


@given(
    price=st.decimals(min_value="0.5", max_value="2000", places=4),
    v1=st.decimals(min_value="1", max_value="1e9", places=2),
    v2=st.decimals(min_value="1", max_value="1e9", places=2),
)
def test_more_liquidity_never_widens_and_bounds_hold(price, v1, v2):
    lo, hi = sorted((v1, v2))
    assert MODEL.half_spread(price, hi) <= MODEL.half_spread(price, lo)
    for v in (lo, hi):
        h = MODEL.half_spread(price, v)
        assert HALF_TICK <= h <= max(HALF_TICK, price * D(30) / 10_000) + D("0.0001")


def test_bad_knobs_and_prices_are_refused_with_their_name():
    with pytest.raises(ValueError, match="reference_dollar_volume"):
        SpreadModel(D(1), D(0), D(10))
    with pytest.raises(ValueError, match="max_bps"):
        SpreadModel(D(1), D(1), D(-1))
    with pytest.raises(ValueError, match="price"):
        MODEL.half_spread(D(0), D(1))

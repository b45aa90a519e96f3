"""The one PSM ladder: every band boundary, no hole, monotone, shared by every caller."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.config import PsmStrategyConfig, original_config
from engine.strategies import ALLOCATIONS, Ladder, PsmState, recognize

S = PsmState
# From most bearish to most bullish: the ladder must be monotone in this order.
EXPOSURE_ORDER = (S.SDS_ONLY, S.BASE_BEAR_2X, S.SH_ONLY, S.CASH_ONLY, S.SPY_ONLY, S.BASE_BULL_3X,
                  S.SPXL_ONLY)  # fmt: skip


def below(x: float) -> float:
    return math.nextafter(x, -math.inf)


def above(x: float) -> float:
    return math.nextafter(x, math.inf)


@pytest.fixture
def ladder() -> Ladder:
    return Ladder.from_config(original_config("psm"))  # b=0.55 s=0.45 offsets 0.05/0.13


def test_every_boundary_falls_in_the_documented_band(ladder: Ladder) -> None:
    e = ladder.boundaries()
    cases = [
        (e["bull2"], S.SPXL_ONLY),
        (below(e["bull2"]), S.BASE_BULL_3X),
        (e["bull1"], S.BASE_BULL_3X),
        (below(e["bull1"]), S.SPY_ONLY),
        (e["buy"], S.SPY_ONLY),
        (below(e["buy"]), S.CASH_ONLY),
        (above(e["sell"]), S.CASH_ONLY),
        (e["sell"], S.SH_ONLY),
        (above(e["bear1"]), S.SH_ONLY),
        (e["bear1"], S.BASE_BEAR_2X),
        (above(e["bear2"]), S.BASE_BEAR_2X),
        (e["bear2"], S.SDS_ONLY),
        (0.0, S.SDS_ONLY),
        (1.0, S.SPXL_ONLY),
    ]
    for p, want in cases:
        assert ladder.state_for(p) == want, (p, want)


def test_documented_values(ladder: Ladder) -> None:
    assert ladder.state_for(0.68) == S.SPXL_ONLY
    assert ladder.state_for(0.62) == S.BASE_BULL_3X
    assert ladder.state_for(0.57) == S.SPY_ONLY
    assert ladder.state_for(0.50) == S.CASH_ONLY
    assert ladder.state_for(0.43) == S.SH_ONLY
    assert ladder.state_for(0.36) == S.BASE_BEAR_2X
    assert ladder.state_for(0.30) == S.SDS_ONLY


def test_low_probabilities_never_map_back_to_cash(ladder: Ladder) -> None:
    """The original's hole: a band of low p mapped to CASH. Sweep finely below the sell threshold."""
    for i in range(0, 4501):
        p = i / 10_000  # 0.0000 .. 0.4500
        assert ladder.state_for(p) in (S.SH_ONLY, S.BASE_BEAR_2X, S.SDS_ONLY), p


@settings(max_examples=300, deadline=None)
@given(
    buy=st.floats(0.50, 0.65),
    gap=st.floats(0.01, 0.15),
    o1=st.floats(0.01, 0.2),
    extra=st.floats(0.01, 0.2),
    ps=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=20),
)
def test_partition_is_total_and_monotone(
    buy: float, gap: float, o1: float, extra: float, ps: list[float]
) -> None:
    ladder = Ladder(buy, buy - gap, o1, o1 + extra)
    ranks = [EXPOSURE_ORDER.index(ladder.state_for(p)) for p in sorted(ps)]
    assert ranks == sorted(ranks)  # more probability never means less exposure
    for p in ps:
        state = ladder.state_for(p)
        assert (state == S.CASH_ONLY) == (ladder.sell < p < ladder.buy)


def test_nan_is_refused(ladder: Ladder) -> None:
    with pytest.raises(ValueError, match="NaN"):
        ladder.state_for(float("nan"))


def test_bad_ladder_is_refused() -> None:
    with pytest.raises(ValueError, match="buy > sell"):
        Ladder(0.45, 0.55, 0.05, 0.13)
    with pytest.raises(ValueError, match="offset1 < offset2"):
        Ladder(0.55, 0.45, 0.13, 0.05)


def test_offsets_and_thresholds_come_from_config() -> None:
    cfg = PsmStrategyConfig.model_validate(
        {
            "oes_config": {"buy_threshold": 0.511, "sell_threshold": 0.47},
            "psm_config": {"ladder_offsets": [0.02, 0.04]},
        }
    )
    ladder = Ladder.from_config(cfg)
    assert ladder.state_for(0.511) == S.SPY_ONLY
    assert ladder.state_for(0.532) == S.BASE_BULL_3X
    assert ladder.state_for(0.552) == S.SPXL_ONLY
    assert ladder.state_for(0.47) == S.SH_ONLY
    assert ladder.state_for(0.46) == S.SH_ONLY
    assert ladder.state_for(0.44) == S.BASE_BEAR_2X
    assert ladder.state_for(0.425) == S.SDS_ONLY


@pytest.mark.parametrize(
    ("held", "state"),
    [
        ((), S.CASH_ONLY),
        (("SPY",), S.SPY_ONLY),
        (("SPXL",), S.SPXL_ONLY),
        (("SPY", "SPXL"), S.BASE_BULL_3X),
        (("SH",), S.SH_ONLY),
        (("SDS",), S.SDS_ONLY),
        (("SDS", "SH"), S.BASE_BEAR_2X),
        (("SPY", "SH"), None),
        (("SPXL", "SDS"), None),
        (("SPY", "SPXL", "SH"), None),
        (("TQQQ",), None),
    ],
)
def test_recognize(held: tuple[str, ...], state: PsmState | None) -> None:
    assert recognize(held) == state


def test_allocations_sum_to_one_or_cash() -> None:
    for state, alloc in ALLOCATIONS.items():
        assert math.isclose(sum(alloc.values()), 0.0 if state == S.CASH_ONLY else 1.0)
    assert set(ALLOCATIONS) == set(EXPOSURE_ORDER) == set(PsmState)

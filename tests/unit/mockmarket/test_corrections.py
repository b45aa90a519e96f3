from __future__ import annotations

import pytest

from common.bars import Bar
from mockmarket.corrections import CorrectionPolicy
from mockmarket.wire import derived_n_vw

T0 = 1760621400000


def bars(n: int = 2000) -> list[Bar]:
    return [
        Bar(f"S{i % 7}", T0 + (i // 7) * 60_000, 10, 10.2, 9.9, 10.1, 500.0 + i) for i in range(n)
    ]


def test_the_choice_is_a_pure_function_of_seed_symbol_and_minute():
    p = CorrectionPolicy(0.3, seed=5)
    chosen = [b for b in bars() if p.is_corrected(b)]
    assert chosen == [b for b in bars() if CorrectionPolicy(0.3, seed=5).is_corrected(b)]
    assert chosen != [b for b in bars() if CorrectionPolicy(0.3, seed=6).is_corrected(b)]


def test_rate_sets_the_share_of_corrected_bars():
    share = sum(CorrectionPolicy(0.1, 1).is_corrected(b) for b in bars()) / len(bars())
    assert 0.07 < share < 0.13
    assert not any(CorrectionPolicy(0.0, 1).is_corrected(b) for b in bars())
    assert all(CorrectionPolicy(1.0, 1).is_corrected(b) for b in bars())


def test_preliminary_has_less_volume_and_no_more_trades():
    p = CorrectionPolicy(1.0, 3)
    for b in bars(200):
        pre = p.preliminary(b)
        assert (pre.symbol, pre.t, pre.open, pre.high, pre.low, pre.close) == (
            b.symbol,
            b.t,
            b.open,
            b.high,
            b.low,
            b.close,
        )
        assert 0 < pre.volume < b.volume
        assert pre.volume >= 0.69 * b.volume
        assert derived_n_vw(pre)[0] <= derived_n_vw(b)[0]
        assert derived_n_vw(pre)[1] == derived_n_vw(b)[1]


def test_tiny_volumes_are_never_corrected():
    assert not CorrectionPolicy(1.0, 0).is_corrected(Bar("X", T0, 1, 1, 1, 1, 1.0))


def test_first_versions_splits_now_and_later():
    p = CorrectionPolicy(0.5, 2)
    batch = bars(14)
    now, later = p.first_versions(batch)
    assert [b.symbol for b in now] == [b.symbol for b in batch]
    assert later == [b for b in batch if p.is_corrected(b)]
    assert all(n.volume < b.volume for n, b in zip(now, batch, strict=True) if b in later)


@pytest.mark.parametrize("rate", [-0.1, 1.5, float("nan")])
def test_bad_rate_is_refused(rate):
    with pytest.raises(ValueError, match="correction rate"):
        CorrectionPolicy(rate)

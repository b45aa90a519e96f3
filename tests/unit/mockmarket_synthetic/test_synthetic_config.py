"""SyntheticConfig validation and the choice of sessions."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest

from mockmarket.synthetic import (
    ALL_SYMBOLS,
    PSM_SYMBOLS,
    ROTATION_SYMBOLS,
    SyntheticConfig,
    market_sessions,
)


def test_symbol_sets() -> None:
    assert ROTATION_SYMBOLS == (
        "ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA", "UVXY",
    )
    assert PSM_SYMBOLS == ("SPY", "SPXL", "SH", "SDS")
    assert tuple(sorted(set(ROTATION_SYMBOLS) | set(PSM_SYMBOLS))) == ALL_SYMBOLS
    assert len(ALL_SYMBOLS) == 15


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"seed": -1}, "seed=-1"),
        ({"seed": 1.5}, "seed=1.5 must be an integer"),
        ({"seed": True}, "seed=True"),
        ({"sessions": 0}, "sessions=0"),
        ({"sessions": 10_000}, "sessions=10000 must be in 1..1000"),
        ({"sessions": "30"}, "sessions='30'"),
        ({"signal_strength": 1.0}, "signal_strength=1.0"),
        ({"signal_strength": float("nan")}, "signal_strength=nan"),
        ({"signal_strength": "0.1"}, "signal_strength='0.1'"),
        ({"signal_lags": 0}, "signal_lags=0 must be in 1..60"),
        ({"tail_df": 2.0}, "tail_df=2.0"),
        ({"volatility_scale": 0.0}, "volatility_scale=0.0"),
        ({"liquidity_scale": -1.0}, "liquidity_scale=-1.0"),
        ({"symbols": ()}, "symbols is empty"),
        ({"symbols": "SPY"}, "symbols='SPY'"),
        ({"symbols": ("SPY", "AAPL")}, "'AAPL'"),
        ({"symbols": ("SPY", "SPY")}, "repeats SPY"),
        ({"end_date": date(2024, 12, 25)}, "2024-12-25 is not an NYSE session"),
        ({"end_date": date(2024, 12, 28)}, "2024-12-28 is not an NYSE session"),
        ({"end_date": datetime(2024, 12, 31, 12)}, "must be a datetime.date"),
        ({"end_date": "2024-12-31"}, "must be a datetime.date"),
        ({"end_date": date(1990, 1, 2)}, "outside the NYSE calendar"),
        ({"end_date": date(2006, 12, 1), "sessions": 100}, "fewer sessions"),
    ],
)
def test_bad_config_names_the_field(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("(", r"\(").replace(".", r"\.")):
        SyntheticConfig(**kwargs)


def test_symbols_list_is_normalised_to_a_tuple() -> None:
    cfg = SyntheticConfig(symbols=["SPY", "SH"], seed=np.int64(3))
    assert cfg.symbols == ("SPY", "SH")
    assert type(cfg.seed) is int
    hash(cfg)  # frozen and hashable


def test_sessions_end_on_end_date_and_count() -> None:
    days = market_sessions(SyntheticConfig(sessions=30, end_date=date(2024, 12, 31)))
    assert len(days) == 30
    assert days[-1].date == date(2024, 12, 31)
    assert days[0].date == date(2024, 11, 18)
    assert [d.date for d in days if d.is_half_day] == [date(2024, 11, 29), date(2024, 12, 24)]
    assert all(a.date < b.date for a, b in zip(days, days[1:], strict=False))


def test_default_end_is_the_last_session_strictly_before_today() -> None:
    cfg = SyntheticConfig(sessions=3)
    # Monday 2024-12-02: the last session before it is the half day Friday 2024-11-29.
    days = market_sessions(cfg, today=date(2024, 12, 2))
    assert [d.date for d in days] == [date(2024, 11, 26), date(2024, 11, 27), date(2024, 11, 29)]
    # On a session day itself, that day is not included.
    assert market_sessions(cfg, today=date(2024, 11, 29))[-1].date == date(2024, 11, 27)

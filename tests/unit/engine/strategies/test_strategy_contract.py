"""The contract every strategy keeps, run over each one (the way optuna runs one suite over
every storage): state round trip, fresh copies, one decision per minute, whole targets in
its own symbols, flat at end of day, recognising and taking over broker holdings,
restoring the journal's state only where it agrees with the broker, determinism.

Only the interface is used (:class:`engine.strategies.Strategy` via ``make_strategy``);
each case supplies what the suite cannot know: prices, signals that make the strategy
enter, and the holding sets that are legal for it.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from common.calendar import MINUTE_MS, Session
from common.config import ROTATION_SYMBOLS
from engine.strategies import (
    BrokerHoldings,
    Decision,
    Holding,
    Signal,
    StateError,
    Strategy,
    make_strategy,
)
from engine.strategies.psm_ladder import ALLOCATIONS
from engine.strategies.sizing import trading_capital, whole_shares

EQUITY = 100_000.0


@dataclass(frozen=True)
class Case:
    """One strategy under the contract."""

    name: str
    cfg: Any
    prices: Mapping[str, float]
    enter: Mapping[str, Signal]  # signals that make a flat strategy take positions
    legal: Callable[[Any], list[dict[str, int]]]  # cfg → long holding sets at allocation

    def make(self) -> Strategy:
        return make_strategy(self.cfg)

    def signals(self, rng: random.Random) -> dict[str, Signal]:
        return {s: Signal(rng.uniform(0.3, 0.7), rng.uniform(0.0, 1.0)) for s in self.cfg.symbols}


def psm_legal(cfg: Any) -> list[dict[str, int]]:
    capital = trading_capital(EQUITY, cfg.risk)
    return [
        {s: whole_shares(capital * w, PSM_PX[s]) for s, w in alloc.items()}
        for alloc in ALLOCATIONS.values()
    ]


def rotation_legal(cfg: Any) -> list[dict[str, int]]:
    mx = cfg.rotation_manager_config.max_positions
    per_slot = trading_capital(EQUITY, cfg.risk) / mx
    sets = [()] + [c for n in range(1, mx + 1) for c in itertools.combinations(cfg.symbols, n)]
    picked = sets[:: max(1, len(sets) // 40)] + [sets[-1]]  # a spread of every size
    return [{s: whole_shares(per_slot, ROT_PX[s]) for s in combo} for combo in picked]


PSM_PX = {"SPY": 500.0, "SPXL": 150.0, "SH": 40.0, "SDS": 20.0}
ROT_PX = {s: 20.0 + 5.0 * i for i, s in enumerate(ROTATION_SYMBOLS)}


@pytest.fixture(params=["psm", "rotation"])
def case(request, psm_cfg, rot_cfg) -> Case:
    if request.param == "psm":
        return Case("psm", psm_cfg(), PSM_PX, {"SPY": Signal(0.62, 0.3)}, psm_legal)
    strong = {s: Signal(0.6, 0.3) for s in ROTATION_SYMBOLS}
    return Case("rotation", rot_cfg(), ROT_PX, strong, rotation_legal)


@pytest.fixture
def minute(feed, full_day):
    """``minute(case, hhmm or t, signals, positions=None, session=full_day)`` → MinuteInput."""

    def make(case: Case, t: int, signals, positions=None, session: Session = full_day):
        f = feed(session, case.cfg)
        return f.minute(t, signals, case.prices, positions=positions or {}, equity=EQUITY)

    return make


def entered(case: Case, minute, t: int) -> tuple[Strategy, Decision]:
    """A strategy that took positions on bar ``t``."""
    s = case.make()
    d = s.decide(minute(case, t, case.enter))
    assert any(d.targets.values()), f"{case.name}: the entry signals took no position"
    return s, d


def holdings(targets: Mapping[str, int], prices: Mapping[str, float]) -> dict[str, Holding]:
    return {s: Holding(q, prices[s]) for s, q in targets.items() if q}


def broker(case: Case, longs: Mapping[str, int], t: int, day: date) -> BrokerHoldings:
    return BrokerHoldings(
        {s: float(q) for s, q in longs.items()},
        {s: case.prices[s] for s in longs},
        case.prices,
        EQUITY,
        t,
        day,
    )


# ------------------------------------------------------------------ state


def test_state_dict_round_trips_through_json(case, minute, full_day, at) -> None:
    s, _ = entered(case, minute, at(full_day, "10:00"))
    s.decide(minute(case, at(full_day, "10:01"), case.enter))
    saved = json.loads(json.dumps(s.state_dict()))
    back = case.make()
    back.load_state(saved)
    assert back.state_dict() == s.state_dict()
    assert (back.targets(), back.state_name, back.last_decided_t) == (
        s.targets(),
        s.state_name,
        s.last_decided_t,
    )
    assert s.restored(saved).state_dict() == s.state_dict()


def _damaged(good: dict[str, Any]) -> list[Any]:
    out: list[Any] = [[], "state", None, {}]
    for key in good:
        out.append({k: v for k, v in good.items() if k != key})
        for bad in ("garbage", -1, 1.5, None, [], {}, True):
            out.append({**good, key: bad})
    return out


def test_damaged_states_raise_state_error_and_change_nothing(case, minute, full_day, at) -> None:
    s, _ = entered(case, minute, at(full_day, "10:00"))
    good = s.state_dict()
    refused = 0
    for bad in _damaged(good):
        try:
            s.load_state(bad)
        except StateError:
            refused += 1
            assert s.state_dict() == good, bad  # a refused state leaves the strategy as it was
        else:
            s.load_state(good)  # some values are legal (e.g. no hold clock): put it back
    assert refused > len(good)
    for key, bad, match in (
        ("strategy", "other", "strategy='other'"),
        ("version", 99, "version=99"),
        ("session_date", "yesterday", "session_date='yesterday'"),
        ("last_t_ms", 1.5, "last_t_ms=1.5"),
    ):
        with pytest.raises(StateError, match=match):
            s.load_state({**good, key: bad})


def test_fresh_is_a_flat_copy_with_the_same_config(case, minute, full_day, at) -> None:
    s, _ = entered(case, minute, at(full_day, "10:00"))
    before = s.state_dict()
    f = s.fresh()
    assert type(f) is type(s) and f.config is s.config and f is not s
    assert f.state_name == f.flat_state_name and f.last_decided_t is None
    assert set(f.targets()) == set(f.symbols) and not any(f.targets().values())
    assert s.state_dict() == before


def test_merging_observations_never_changes_what_is_held(case, minute, full_day, at) -> None:
    s, _ = entered(case, minute, at(full_day, "10:00"))
    observer = case.make()
    for i in range(5):
        observer.observe(at(full_day, "10:00") + i * MINUTE_MS, case.enter)
    merged = s.merge_observed(s.state_dict(), observer.state_dict())
    back = case.make()
    back.load_state(merged)
    assert (back.targets(), back.state_name) == (s.targets(), s.state_name)
    assert s.merge_observed(s.state_dict(), case.make().state_dict()) == s.state_dict()


# ------------------------------------------------------------------ deciding


def test_a_minute_is_decided_once(case, minute, full_day, at) -> None:
    t = at(full_day, "10:00")
    s, _ = entered(case, minute, t)
    assert s.last_decided_t == t
    for again in (t, t - MINUTE_MS):
        with pytest.raises(ValueError, match="already"):
            s.decide(minute(case, again, case.enter))
    assert s.last_decided_t == t


def test_targets_are_whole_non_negative_and_in_its_symbols(case, minute, full_day) -> None:
    rng = random.Random(7)
    s = case.make()
    held: dict[str, Holding] = {}
    states = set()
    for t in list(full_day.minutes())[::7]:
        d = s.decide(minute(case, t, case.signals(rng), held))
        assert set(d.targets) <= set(s.symbols) and set(s.targets()) == set(s.symbols)
        assert all(type(q) is int and q >= 0 for q in d.targets.values())
        assert d.targets == {k: v for k, v in s.targets().items() if k in d.targets}
        held = holdings(d.targets, case.prices)
        states.add(s.state_name)
    assert len(states) > 3  # the run went through several states


@pytest.mark.parametrize("day", ["full_day", "half_day"])
def test_the_eod_minute_takes_every_target_to_zero(case, minute, at, request, day) -> None:
    session: Session = request.getfixturevalue(day)
    s = case.make()
    d = s.decide(minute(case, session.open_ms + 30 * MINUTE_MS, case.enter, session=session))
    held = holdings(d.targets, case.prices)
    assert held
    eod_bar = session.close_ms - 3 * MINUTE_MS  # decided at close - 2 min
    d = s.decide(minute(case, eod_bar, case.enter, held, session=session))
    assert set(d.targets.values()) == {0} and s.state_name == s.flat_state_name


def test_decisions_are_deterministic(case, minute, full_day) -> None:
    def run() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        rng = random.Random(11)
        s = case.make()
        held: dict[str, Holding] = {}
        out = []
        for t in list(full_day.minutes())[::5]:
            d = s.decide(minute(case, t, case.signals(rng), held))
            out.append(d.to_json())
            held = holdings(d.targets, case.prices)
        return out, s.state_dict()

    assert run() == run()


# ------------------------------------------------------------------ broker holdings


def test_the_flat_book_is_recognized(case) -> None:
    s = case.make()
    assert s.recognize({}).fits and s.recognize({}).state == s.flat_state_name
    assert s.state_name == s.flat_state_name


def test_every_legal_holding_set_is_taken_over_as_it_is(case, full_day, at) -> None:
    t = at(full_day, "14:45")
    legal = case.legal(case.cfg)
    assert len(legal) > 3
    for longs in legal:
        near = {s: q - q // 50 for s, q in longs.items()}  # within the rebalance tolerance
        for held in (longs, near):
            s = case.make()
            seen = s.recognize({k: float(v) for k, v in held.items()})
            assert seen.fits, (held, seen.why)
            took = s.take_over(broker(case, held, t, full_day.date), None)
            assert took.state_name == seen.state == s.state_name
            assert took.journal == "none"
            assert s.targets() == {sym: held.get(sym, 0) for sym in s.symbols}
            assert s.state_dict()["session_date"] == full_day.date.isoformat()


def test_the_journal_is_restored_where_it_agrees_with_the_broker(case, full_day, at) -> None:
    t0, t1 = at(full_day, "11:00"), at(full_day, "14:45")
    legal = case.legal(case.cfg)
    for longs in legal:
        journal = case.make()
        journal.take_over(broker(case, longs, t0, full_day.date), None)
        saved = journal.restored(json.loads(json.dumps(journal.state_dict())))

        s = case.make()
        took = s.take_over(broker(case, longs, t1, full_day.date), saved)
        assert took.journal == "restored", longs
        assert s.state_dict() == journal.state_dict()  # hold clocks continue from t0


def test_a_journal_that_disagrees_is_reset(case, full_day, at) -> None:
    t0, t1 = at(full_day, "11:00"), at(full_day, "14:45")
    legal = case.legal(case.cfg)
    for longs in legal:  # the journal held a set with nothing in common with the broker's
        other = next(o for o in legal if set(o) != set(longs) and not set(o) & set(longs))
        journal = case.make()
        journal.take_over(broker(case, other, t0, full_day.date), None)
        s = case.make()
        saved = journal.restored(json.loads(json.dumps(journal.state_dict())))
        took = s.take_over(broker(case, longs, t1, full_day.date), saved)
        assert took.journal == "reset", (longs, other)
        plain = case.make()
        plain.take_over(broker(case, longs, t1, full_day.date), None)
        assert s.targets() == plain.targets() == {sym: longs.get(sym, 0) for sym in s.symbols}
        assert s.state_name == plain.state_name


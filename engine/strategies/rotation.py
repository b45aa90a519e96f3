"""The rotation strategy: hold the strongest few of a leveraged-ETF universe, long only.

Each minute, after the aggregator has updated strengths and ranks:

1. end of day → every target 0. EOD is the calendar's (``MinuteInput.is_eod``: close − 2
   min) or, with ``eod_liquidation``, the decision time reaching ``eod_exit_time_minutes``
   after the open (388 → 15:58), whichever comes first;
2. exits of held symbols, in this order: stop loss and profit target (any time, on the
   broker's average entry price), then — only after ``min_hold_bars`` — signal exit
   (``prob <= oes_config.sell_threshold``), strength exit (smoothed <
   ``min_strength_to_exit``), rank exit (unranked or rank > ``min_rank_to_hold``). An exit
   starts a re-entry cooldown of ``cooldown_bars`` minutes;
3. entries (only when entries are allowed): candidates are ranked, unfiltered, not held,
   not cooling down, with ``prob >= oes_config.buy_threshold``, smoothed strength >=
   ``min_strength_to_enter`` and an expected return (the calibrated forecast ``rhat``)
   above ``oes_config.entry_cost_margin`` times the symbol's round-trip cost (the cost
   gate, :mod:`engine.strategies.cost_gate`); they fill free slots up to
   ``max_positions``, strongest first;
4. rotation (only when entries are allowed): while the best remaining candidate's smoothed
   strength beats the weakest holding past its minimum hold by ``rotation_strength_delta``,
   that holding is exited and the candidate entered.

Sizing is equal weight: trading capital / ``max_positions`` per entry, in whole shares,
fixed while held. Hold clocks and cooldowns are bar times, so they survive restarts.

Taking over the broker's holdings (:mod:`engine.strategies.takeover`): up to
``max_positions`` longs are a state (more only under policy ``adopt``, which takes every
long into the book: no entry until the book is below ``max_positions`` again). Every
quantity is kept as it is (never resized to the equal weight). Per symbol, a holding the
journal's book agrees with (to the share) keeps its entry minute; another starts its hold
clock now. Entry prices are the broker's. A short or a fractional holding (policy
``adopt``) is kept aside: left out of the targets, never entered or added to, closed by
its own stop loss or profit target (on its side's return) or at end of day, then cooled
down like any exit. The session's cooldowns and smoothed strengths are kept from the
journal (they only restrain), and the warm-up's smoothing, which replayed all of today's
signals, wins over both (:meth:`RotationStrategy.merge_observed`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from common.calendar import ny_date
from common.config import RotationStrategyConfig
from engine.strategies.aggregator import SignalAggregator, Strength
from engine.strategies.base import (
    MINUTE_MS,
    BrokerHoldings,
    Decision,
    MinuteInput,
    Recognition,
    Signal,
    StateError,
    Strategy,
    Takeover,
    check_header,
    state_header,
    state_int,
    state_price,
)
from engine.strategies.cost_gate import entry_gate
from engine.strategies.sizing import trading_capital, whole_shares
from engine.strategies.takeover import (
    Kept,
    journal_agrees,
    kept_from_broker,
    kept_from_json,
    kept_quantity,
    kept_to_json,
    usable,
)


@dataclass(frozen=True, slots=True)
class Slot:
    """One holding of the rotation book."""

    qty: int
    entry_t_ms: int
    entry_price: float

    def bars_held(self, t_ms: int) -> int:
        return max(0, (t_ms - self.entry_t_ms) // MINUTE_MS)

    def to_json(self) -> dict[str, Any]:
        return {"qty": self.qty, "entry_t_ms": self.entry_t_ms, "entry_price": self.entry_price}


class RotationStrategy(Strategy):
    """Rotation over ``config.symbols``."""

    name = "rotation"
    flat_state_name = "ROTATION[]"

    def __init__(self, config: RotationStrategyConfig) -> None:
        self.config = config
        self.symbols = tuple(config.symbols)
        self.mgr = config.rotation_manager_config
        self.aggregator = SignalAggregator(config.signal_aggregator_config, self.symbols)
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self, session_date: date | None = None) -> None:
        self.session_date = session_date
        self.last_t_ms: int | None = None
        self.seen_t_ms: int | None = None
        self.book: dict[str, Slot] = {}
        self.kept: dict[str, Kept] = {}
        self.cooldown_until: dict[str, int] = {}
        self.aggregator.reset()

    def targets(self) -> dict[str, int]:
        t = {s: 0 for s in self.symbols if s not in self.kept}
        t.update({s: slot.qty for s, slot in self.book.items()})
        return t

    @property
    def state_name(self) -> str:
        return f"ROTATION[{','.join(sorted(self.book))}]"

    def state_dict(self) -> dict[str, Any]:
        d = state_header(self.name, self.session_date, self.last_t_ms)
        d.update(
            seen_t_ms=self.seen_t_ms,
            book={s: slot.to_json() for s, slot in sorted(self.book.items())},
            kept=kept_to_json(self.kept),
            cooldown_until=dict(sorted(self.cooldown_until.items())),
            smoothed=self.aggregator.state_dict(),
        )
        return d

    def load_state(self, state: Mapping[str, Any]) -> None:
        session_date, last = check_header(self.name, state)
        seen = state.get("seen_t_ms")
        if seen is not None:
            state_int("rotation", "seen_t_ms", seen)
        book_raw = state.get("book")
        if not isinstance(book_raw, Mapping):
            raise StateError(f"rotation state: book={book_raw!r} is not an object")
        book: dict[str, Slot] = {}
        for sym, s in book_raw.items():
            if sym not in self.symbols:
                raise StateError(f"rotation state: book.{sym} is not a rotation symbol")
            if not isinstance(s, Mapping):
                raise StateError(f"rotation state: book.{sym}={s!r} is not an object")
            book[sym] = Slot(
                state_int("rotation", f"book.{sym}.qty", s.get("qty"), minimum=1),
                state_int("rotation", f"book.{sym}.entry_t_ms", s.get("entry_t_ms")),
                state_price("rotation", f"book.{sym}.entry_price", s.get("entry_price")),
            )
        kept = kept_from_json("rotation", state.get("kept"), self.symbols, StateError)
        both = sorted(set(kept) & set(book))
        if both:
            raise StateError(f"rotation state: {both} are both in the book and kept aside")
        cd_raw = state.get("cooldown_until", {})
        if not isinstance(cd_raw, Mapping):
            raise StateError(f"rotation state: cooldown_until={cd_raw!r} is not an object")
        cooldown = {}
        for sym, t in cd_raw.items():
            if sym not in self.symbols:
                raise StateError(f"rotation state: cooldown_until.{sym} is not a rotation symbol")
            cooldown[sym] = state_int("rotation", f"cooldown_until.{sym}", t)
        self.aggregator.load_state(state.get("smoothed", {}))
        self.session_date, self.last_t_ms, self.seen_t_ms = session_date, last, seen
        self.book, self.cooldown_until, self.kept = book, cooldown, kept

    def assume(
        self,
        book: Mapping[str, Slot],
        *,
        session_date: date | None,
        cooldown_until: Mapping[str, int] | None = None,
        smoothed: Mapping[str, float] | None = None,
        last_t_ms: int | None = None,
        seen_t_ms: int | None = None,
        kept: Mapping[str, Kept] | None = None,
    ) -> None:
        """Take a book decided elsewhere (reconciliation); validated like :meth:`load_state`."""
        d = state_header(self.name, session_date, last_t_ms)
        d.update(
            seen_t_ms=seen_t_ms,
            book={s: slot.to_json() for s, slot in book.items()},
            kept=kept_to_json(kept or {}),
            cooldown_until=dict(cooldown_until or {}),
            smoothed=dict(smoothed or {}),
        )
        self.load_state(d)

    def merge_observed(
        self, state: Mapping[str, Any], observed: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The smoothed strengths are a function of today's signals only; the warm-up
        replayed them all, so its smoothing is what an uninterrupted run would hold."""
        merged = dict(state)
        seen = observed.get("seen_t_ms")
        if seen is not None and (merged.get("seen_t_ms") is None or seen >= merged["seen_t_ms"]):
            merged["smoothed"] = dict(observed.get("smoothed", {}))
            merged["seen_t_ms"] = seen
        return merged

    # ------------------------------------------------------------------ broker holdings

    def recognize(self, longs: Mapping[str, float]) -> Recognition:
        mx = self.mgr.max_positions
        if len(longs) > mx:
            return Recognition(None, f"{len(longs)} rotation holdings exceed max_positions={mx}")
        name = f"ROTATION[{','.join(sorted(longs))}]"
        return Recognition(name, f"{len(longs)} of at most {mx} rotation holdings")

    def take_over(self, held: BrokerHoldings, journal: RotationStrategy | None) -> Takeover:
        longs, t_ms = held.longs, held.t_ms
        kept, notes = kept_from_broker(held.kept, held.entry_prices, held.prices)
        details = list(notes)
        jbook: dict[str, Slot] = {}
        cooldown: dict[str, int] = {}
        smoothed: dict[str, float] = {}
        last = seen = None
        if journal is not None:
            jbook, cooldown = dict(journal.book), dict(journal.cooldown_until)
            smoothed = journal.aggregator.state_dict()
            last, seen = journal.last_t_ms, journal.seen_t_ms
        book: dict[str, Slot] = {}
        restored = 0
        for sym, q in sorted(longs.items()):
            have = kept_quantity(q)
            j = jbook.get(sym)
            entry = held.entry_prices.get(sym)
            price = held.prices.get(sym)
            px = next((x for x in (entry, j.entry_price if j else None, price) if usable(x)), None)
            if px is None or have <= 0:
                details.append(
                    f"{sym}: {q:g} held but no usable entry price or whole share: not in the book"
                )
                continue
            if j is not None and journal_agrees(q, j.qty):
                book[sym] = Slot(have, j.entry_t_ms, px)
                restored += 1
                details.append(f"{sym}: journal agrees ({j.qty} since {j.entry_t_ms})")
                continue
            if j is not None:
                details.append(f"{sym}: journal had {j.qty}, broker {have}: hold clock reset")
            book[sym] = Slot(have, t_ms, px)
        for sym in sorted(set(jbook) - set(longs)):
            details.append(f"{sym}: in the journal's book but not held at the broker: dropped")
        self.assume(
            book,
            session_date=held.session_date,
            cooldown_until=cooldown,
            smoothed=smoothed,
            last_t_ms=last,
            seen_t_ms=seen,
            kept=kept,
        )
        if journal is None:
            note = "none"
        elif restored == len(book) and set(jbook) == set(book):
            note = "restored"
        elif restored:
            note = "partly restored"
        else:
            note = "reset"
        return Takeover(self.state_name, note, tuple(details))

    # ------------------------------------------------------------------ deciding

    def observe(self, t_ms: int, signals: Mapping[str, Signal]) -> None:
        """Update the smoothed strengths with a minute that is not decided (warm-up replay)."""
        day = ny_date(t_ms)
        if self.session_date != day:
            self.reset(day)
        if self.seen_t_ms is None or t_ms > self.seen_t_ms:
            self.aggregator.update(signals)
            self.seen_t_ms = t_ms

    def _strengths(self, m: MinuteInput) -> dict[str, Strength]:
        if self.seen_t_ms is not None and m.t_ms <= self.seen_t_ms:
            raise ValueError(
                f"rotation: minute {m.t_ms} already aggregated (last {self.seen_t_ms})"
            )
        self.seen_t_ms = m.t_ms
        return self.aggregator.update(m.signals)

    def is_strategy_eod(self, m: MinuteInput) -> bool:
        """EOD by the config's minute: decision time (bar end) >= open + eod_exit_time_minutes."""
        return self.mgr.eod_liquidation and m.minute_index + 1 >= self.mgr.eod_exit_time_minutes

    def decide(self, m: MinuteInput) -> Decision:
        if self.session_date != m.session_date:
            self.reset(m.session_date)
        if self.last_t_ms is not None and m.t_ms <= self.last_t_ms:
            raise ValueError(f"rotation: minute {m.t_ms} already decided (last {self.last_t_ms})")
        strengths = self._strengths(m)
        self.last_t_ms = m.t_ms
        self.cooldown_until = {s: t for s, t in self.cooldown_until.items() if t > m.t_ms}
        reasons: dict[str, str] = {}
        exited: set[str] = set()

        if m.is_eod or self.is_strategy_eod(m):
            why = (
                "end of day (calendar)" if m.is_eod else f"end of day (minute {m.minute_index + 1})"
            )
            for sym in sorted(self.book) + sorted(self.kept):
                reasons[sym] = f"exit: {why}"
                exited.add(sym)
            self.book.clear()
            self.kept.clear()
            return self._decision(m, strengths, reasons, exited, entered=[])

        for sym in sorted(self.kept):
            why = self.kept[sym].exit_reason(m.price(sym), self.mgr.profit_target, self.mgr.stop_loss)
            if why is None:
                reasons[sym] = f"kept: {self.kept[sym].qty:g} taken over as it is, left alone"
                continue
            del self.kept[sym]
            self.cooldown_until[sym] = m.t_ms + self.mgr.cooldown_bars * MINUTE_MS
            reasons[sym] = why
            exited.add(sym)

        for sym in sorted(self.book):
            why = self._exit_reason(sym, self.book[sym], m, strengths[sym])
            if why is None:
                continue
            if why.startswith("hold"):
                reasons[sym] = why
                continue
            self._exit(sym, m.t_ms, reasons, why)
            exited.add(sym)

        entered: list[str] = []
        if m.entries_allowed:
            entered = self._enter_and_rotate(m, strengths, reasons, exited)
        else:
            for sym in self.symbols:
                reasons.setdefault(sym, "flat: no entries before the close")
        return self._decision(m, strengths, reasons, exited, entered)

    def _exit_reason(self, sym: str, slot: Slot, m: MinuteInput, st: Strength) -> str | None:
        mgr, bars = self.mgr, slot.bars_held(m.t_ms)
        price = m.price(sym)
        if price is None:
            return f"hold: no price ({bars} bars)"
        h = m.positions.get(sym)
        entry = (
            h.entry_price if h is not None and h.qty > 0 and h.entry_price > 0 else slot.entry_price
        )
        ret = price / entry - 1.0
        if ret <= -mgr.stop_loss:
            return f"exit: stop loss {ret:+.4f} after {bars} bars"
        if ret >= mgr.profit_target:
            return f"exit: profit target {ret:+.4f} after {bars} bars"
        if bars < mgr.min_hold_bars:
            return f"hold: min hold {bars}/{mgr.min_hold_bars} bars, return {ret:+.4f}"
        sell = self.config.oes_config.sell_threshold
        if st.prob is not None and st.prob <= sell:
            return f"exit: signal p={st.prob:.4f} <= {sell} after {bars} bars"
        if st.smoothed < mgr.min_strength_to_exit:
            return (
                f"exit: strength {st.smoothed:.4f} < {mgr.min_strength_to_exit} after {bars} bars"
            )
        if st.rank is None or st.rank > mgr.min_rank_to_hold:
            return f"exit: rank {st.rank} > {mgr.min_rank_to_hold} after {bars} bars"
        return f"hold: rank {st.rank} strength {st.smoothed:.4f} {bars} bars return {ret:+.4f}"

    def _exit(self, sym: str, t_ms: int, reasons: dict[str, str], why: str) -> None:
        del self.book[sym]
        self.cooldown_until[sym] = t_ms + self.mgr.cooldown_bars * MINUTE_MS
        reasons[sym] = why

    def _candidates(
        self,
        m: MinuteInput,
        strengths: Mapping[str, Strength],
        reasons: dict[str, str],
        exited: set[str],
    ) -> list[str]:
        mgr, buy = self.mgr, self.config.oes_config.buy_threshold
        margin, costs = self.config.oes_config.entry_cost_margin, m.round_trip_costs
        ranked = sorted(
            (s for s in strengths.values() if s.rank is not None), key=lambda s: s.rank or 0
        )
        out = []
        for st in ranked:
            sym = st.symbol
            if sym in self.book or sym in exited or sym in self.kept:
                continue
            if m.t_ms < self.cooldown_until.get(sym, 0):
                reasons[sym] = (
                    f"flat: cooldown {(self.cooldown_until[sym] - m.t_ms) // MINUTE_MS} more bars"
                )
            elif st.filtered is not None:
                reasons[sym] = f"flat: rank {st.rank} but {st.filtered}"
            elif st.prob is None or st.prob < buy:
                reasons[sym] = f"flat: rank {st.rank} p={st.prob} < buy {buy}"
            elif st.smoothed < mgr.min_strength_to_enter:
                reasons[sym] = (
                    f"flat: strength {st.smoothed:.4f} < enter {mgr.min_strength_to_enter}"
                )
            elif m.price(sym) is None:
                reasons[sym] = "flat: no price"
            elif not (gate := entry_gate(
                m.signals[sym].rhat, None if costs is None else costs.get(sym), margin,
                modelled=costs is not None,
            )).ok:  # fmt: skip
                reasons[sym] = f"flat: rank {st.rank} but {gate.why}"
            else:
                out.append(sym)
        for sym in self.symbols:
            if sym not in self.book and sym not in reasons:
                st = strengths[sym]
                reasons[sym] = f"flat: {st.filtered or f'strength {st.smoothed:.4f} unranked'}"
        return out

    def _enter_and_rotate(
        self,
        m: MinuteInput,
        strengths: Mapping[str, Strength],
        reasons: dict[str, str],
        exited: set[str],
    ) -> list[str]:
        mgr = self.mgr
        per_slot = trading_capital(m.equity, self.config.risk) / mgr.max_positions
        entered: list[str] = []
        queue = self._candidates(m, strengths, reasons, exited)

        def enter(sym: str, why: str) -> bool:
            price = m.prices[sym]
            qty = whole_shares(per_slot, price)
            if qty <= 0:
                reasons[sym] = f"flat: ${per_slot:.0f} buys no share at {price}"
                return False
            self.book[sym] = Slot(qty, m.t_ms, price)
            entered.append(sym)
            st = strengths[sym]
            reasons[sym] = f"enter: {why} rank {st.rank} strength {st.smoothed:.4f} p={st.prob:.4f}"
            return True

        while queue and len(self.book) < mgr.max_positions:
            enter(queue.pop(0), "free slot")
        while queue:
            cand = queue[0]
            movable = [
                s
                for s in self.book
                if s not in entered and self.book[s].bars_held(m.t_ms) >= mgr.min_hold_bars
            ]
            if not movable:
                break
            weakest = min(movable, key=lambda s: (strengths[s].smoothed, s))
            gap = strengths[cand].smoothed - strengths[weakest].smoothed
            if gap < mgr.rotation_strength_delta:
                reasons[cand] = (
                    f"flat: rank {strengths[cand].rank} beats {weakest} by {gap:.4f} < "
                    f"delta {mgr.rotation_strength_delta}"
                )
                break
            queue.pop(0)
            self._exit(weakest, m.t_ms, reasons, f"exit: rotated out for {cand} (+{gap:.4f})")
            exited.add(weakest)
            if not enter(cand, f"rotation over {weakest}"):
                break
        return entered

    def _decision(
        self,
        m: MinuteInput,
        strengths: Mapping[str, Strength],
        reasons: dict[str, str],
        exited: set[str],
        entered: list[str],
    ) -> Decision:
        for sym in self.symbols:
            reasons.setdefault(sym, "flat" if sym not in self.book else "hold")
        held = sorted(self.book)
        details = {
            "entered": entered,
            "exited": sorted(exited),
            "bars_held": {s: self.book[s].bars_held(m.t_ms) for s in held},
            "kept": {s: k.qty for s, k in sorted(self.kept.items())},
            "strengths": {
                s: {
                    "raw": st.raw,
                    "smoothed": st.smoothed,
                    "rank": st.rank,
                    "filtered": st.filtered,
                }
                for s, st in strengths.items()
            },
        }
        return Decision(m.t_ms, self.targets(), reasons, self.state_name, details)

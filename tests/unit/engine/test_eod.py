"""End of day on a fake broker that applies the cost model's no-bar rule: a market order for a
symbol with no bar in its minute rests until the symbol's next bar, or fills at the close.

The flatten does not wait for it, counts it as pending (nothing is sent again while it
works), sends again only for an order that is gone, and the confirmation after the close
sees it filled. Symbols outside the universe are left alone unless the config says so."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from common.calendar import MINUTE_MS, nyse
from common.config import RiskConfig, SessionConfig
from common.errors import UnprocessableError
from common.rest_models import Order, Position
from engine.eod import EndOfDay, EodScope, eod_bar
from engine.execution import Executor
from engine.journal import Journal
from engine.order_ids import OrderKey, parse_client_order_id
from engine.position_book import PositionBook
from engine.risk import RiskGuard

DAY = date(2025, 10, 16)
SESSION = nyse().session(DAY)
UNIVERSE = frozenset({"TQQQ", "SQQQ", "FAS"})
PRICES = {"TQQQ": 50.0, "SQQQ": 20.0, "FAS": 100.0, "AAPL": 200.0}
TERMINAL = {"filled", "canceled", "expired", "rejected"}


class ThinBroker:
    """Orders, positions and a minute clock; ``bars[symbol]`` are the minutes it trades in."""

    def __init__(self, bars: dict[str, set[int]]) -> None:
        self.bars = bars
        self.minute = eod_bar(SESSION, SessionConfig()) + MINUTE_MS  # orders of the EOD bar work here
        self.orders: dict[str, dict[str, Any]] = {}
        self.positions: dict[str, float] = {}
        self.submitted: list[str] = []
        self.reject_next: set[str] = set()
        self._n = 0

    # -- the market
    def hold(self, symbol: str, qty: float) -> None:
        self.positions[symbol] = qty

    def place(self, symbol: str, side: str, qty: float, client_order_id: str) -> str:
        """An order someone else placed (or an earlier run), working."""
        return self._new(symbol, side, qty, client_order_id)["id"]

    def _new(self, symbol: str, side: str, qty: float, cid: str, status: str = "new") -> dict[str, Any]:
        self._n += 1
        o = {"id": f"b-{self._n}", "client_order_id": cid, "symbol": symbol, "side": side,
             "qty": str(qty), "filled_qty": "0", "filled_avg_price": None, "status": status,
             "type": "market", "time_in_force": "day", "created_at": "2025-10-16T19:58:01Z"}  # fmt: skip
        self.orders[o["id"]] = o
        return o

    def _fill(self, o: dict[str, Any]) -> None:
        qty = float(o["qty"])
        o.update(status="filled", filled_qty=str(qty), filled_avg_price=str(PRICES[o["symbol"]]))
        q = self.positions.get(o["symbol"], 0.0) + (qty if o["side"] == "buy" else -qty)
        self.positions[o["symbol"]] = q
        if abs(q) < 1e-9:
            del self.positions[o["symbol"]]

    def _trades(self, symbol: str) -> bool:
        return self.minute in self.bars.get(symbol, set())

    def next_minute(self) -> None:
        self.minute += MINUTE_MS
        for o in self.orders.values():
            if o["status"] == "new" and o["client_order_id"].startswith("it-") and self._trades(o["symbol"]):
                self._fill(o)

    def close(self) -> None:
        """The close: market orders still working fill at the session's last price."""
        for o in self.orders.values():
            if o["status"] == "new" and o["client_order_id"].startswith("it-"):
                self._fill(o)

    # -- the REST client's part the engine uses
    def submit_order(self, *, symbol: str, qty: float, side: str, client_order_id: str, **_: Any) -> Order:
        self.submitted.append(client_order_id)
        if symbol in self.reject_next:
            self.reject_next.discard(symbol)
            return Order.from_json(self._new(symbol, side, qty, client_order_id, status="rejected"))
        o = self._new(symbol, side, qty, client_order_id)
        if self._trades(symbol):
            self._fill(o)
        return Order.from_json(o)

    def get_order(self, order_id: str) -> Order:
        return Order.from_json(self.orders[order_id])

    def get_order_by_client_id(self, client_order_id: str) -> Order | None:
        return next((Order.from_json(o) for o in self.orders.values() if o["client_order_id"] == client_order_id), None)

    def cancel_order(self, order_id: str) -> None:
        o = self.orders[order_id]
        if o["status"] in TERMINAL:
            raise UnprocessableError(422, 42210000, f'order is already in "{o["status"]}" state')
        o["status"] = "canceled"

    def list_orders(self, status: str = "open", limit: int = 500, **_: Any) -> list[Order]:
        return [Order.from_json(o) for o in self.orders.values() if o["status"] not in TERMINAL]

    def get_positions(self) -> list[Position]:
        return [Position.from_json({"symbol": s, "qty": str(q), "side": "long" if q > 0 else "short",
                                    "avg_entry_price": str(PRICES[s])})
                for s, q in sorted(self.positions.items())]  # fmt: skip


class Clock:
    """Injected wall time: ``sleep`` moves it; ``on_sleep`` lets the test act meanwhile."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps = 0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps += 1
        self.now += s


@pytest.fixture
def journal(tmp_path: Path):
    j = Journal(tmp_path / "journal.sqlite")
    yield j
    j.close()


def make(broker: ThinBroker, journal: Journal, *, foreign: bool = False, clock: Clock | None = None) -> EndOfDay:
    ex = Executor(broker, journal, "rotation", DAY, book=PositionBook(), now_ms=lambda: broker.minute)  # type: ignore[arg-type]
    clock = clock or Clock()
    return EndOfDay(ex, SESSION, SessionConfig(), RiskGuard(RiskConfig()), scope=EodScope(UNIVERSE, foreign),
                    confirm_timeout_s=5.0, poll_s=0.5, sleep=clock.sleep, monotonic=clock.monotonic)  # fmt: skip


def ours(broker: ThinBroker) -> list[dict[str, Any]]:
    return [o for o in broker.orders.values() if o["client_order_id"].startswith("it-")]


EOD = eod_bar(SESSION, SessionConfig())  # 15:57, decided at 15:58
THIN = {"TQQQ": {EOD + MINUTE_MS, EOD + 2 * MINUTE_MS}, "FAS": {EOD + MINUTE_MS}}  # SQQQ: no bar left


def test_a_flatten_order_without_a_bar_rests_as_pending_and_fills_at_the_close(journal):
    broker = ThinBroker(THIN)
    broker.hold("TQQQ", 100)
    broker.hold("SQQQ", -40)  # adopted short: covered
    broker.hold("AAPL", 10)  # outside the universe
    hand_fas = broker.place("FAS", "buy", 5, "hand-fas")
    hand_aapl = broker.place("AAPL", "sell", 10, "hand-aapl")
    clock = Clock()
    eod = make(broker, journal, clock=clock)

    result = eod.run(EOD, PRICES)
    assert clock.sleeps == 0  # no waiting at 15:58: the lockstep clock is never stalled
    assert broker.orders[hand_fas]["status"] == "canceled"  # in the universe: it would reopen FAS
    assert broker.orders[hand_aapl]["status"] == "new"  # outside: left working
    assert sorted((o["symbol"], o["side"], o["qty"], o["status"]) for o in ours(broker)) == [
        ("SQQQ", "buy", "40.0", "new"), ("TQQQ", "sell", "100.0", "filled")]  # fmt: skip
    assert all(parse_client_order_id(cid).t_ms == EOD for cid in broker.submitted)
    assert result.resting == {"SQQQ": -40} and result.flat is None
    assert "working until their symbol's next bar or the close: {'SQQQ': -40" in result.summary()

    for _ in range(2):  # 15:58 and 15:59: no bar for SQQQ, the order still works: nothing resent
        broker.next_minute()
        assert eod.follow_up(broker.minute - MINUTE_MS, PRICES, managed=()) == []
    assert len(broker.submitted) == 2

    broker.close()
    done = eod.confirm_at_close()
    assert done.flat and done.remaining == {} and done.left_alone == {"AAPL": 10}
    assert done.summary().startswith("EOD 2025-10-16T15:58:00-04:00: flat at the close (2 closing order(s)")
    assert len(broker.submitted) == 2  # the same ids the backtest sends, one per position


def test_only_an_order_that_is_gone_is_sent_again_with_the_minute_s_ids(journal):
    broker = ThinBroker(THIN)
    broker.hold("TQQQ", 100)
    broker.hold("FAS", 30)
    broker.reject_next.add("FAS")
    eod = make(broker, journal)
    eod.run(EOD, PRICES)
    assert {o["symbol"]: o["status"] for o in ours(broker)} == {"FAS": "rejected", "TQQQ": "filled"}
    broker.next_minute()  # after 15:58: FAS still held, no order working for it: sent again
    again = eod.follow_up(EOD + MINUTE_MS, PRICES, managed=())
    assert len(again) == 1 and parse_client_order_id(again[0]).t_ms == EOD + MINUTE_MS
    assert eod.follow_up(EOD + MINUTE_MS, PRICES, managed=()) == []  # it works (no bar): pending
    broker.close()
    assert broker.positions == {} and eod.confirm_at_close().flat


def test_the_strategy_s_symbols_are_left_to_its_own_plan_after_the_flatten(journal):
    broker = ThinBroker(THIN)
    broker.hold("FAS", 30)
    broker.reject_next.add("FAS")
    eod = make(broker, journal)
    eod.run(EOD, PRICES)
    # the minute's plan (targets 0, pending counted) covers the universe: no second path
    assert eod.follow_up(EOD + MINUTE_MS, PRICES, managed=UNIVERSE) == []
    assert len(broker.submitted) == 1


def test_outside_the_universe_is_closed_only_when_the_config_says_so(journal):
    broker = ThinBroker({**THIN, "AAPL": {EOD + MINUTE_MS}})
    broker.hold("TQQQ", 100)
    broker.hold("AAPL", 10)
    hand_aapl = broker.place("AAPL", "buy", 3, "hand-aapl")
    eod = make(broker, journal, foreign=True)
    eod.run(EOD, PRICES)
    assert broker.orders[hand_aapl]["status"] == "canceled"
    assert broker.positions == {} and eod.confirm_at_close().left_alone == {}


def test_an_order_still_working_after_the_close_is_waited_for_then_reported(journal):
    broker = ThinBroker(THIN)
    broker.hold("SQQQ", 50)
    clock = Clock()
    eod = make(broker, journal, clock=clock)
    eod.run(EOD, PRICES)
    result = eod.confirm_at_close()  # this broker never fills it: the wait is bounded
    assert clock.now >= 5.0 and clock.sleeps == 10
    assert not result.flat and result.remaining == {"SQQQ": 50}
    assert "NOT flat at the close: {'SQQQ': 50" in result.summary()


def test_a_relaunch_after_the_flatten_keeps_the_working_closing_orders(journal):
    broker = ThinBroker(THIN)
    broker.hold("SQQQ", 50)
    before = broker.place("SQQQ", "buy", 2, OrderKey.for_minute("rotation", EOD - 5 * MINUTE_MS, "SQQQ", "buy").client_order_id())
    first = make(broker, journal)
    first.run(EOD, PRICES)
    assert broker.orders[before]["status"] == "canceled"  # decided before the EOD bar
    working = [o["client_order_id"] for o in ours(broker) if o["status"] == "new"]
    assert len(working) == 1
    again = make(broker, journal)  # a new engine on the same journal, same minute
    result = again.run(EOD, PRICES)
    assert result.orders == [] and [o["client_order_id"] for o in ours(broker) if o["status"] == "new"] == working


def test_the_eod_cancel_touches_exactly_the_orders_it_should_and_counts_them(journal, caplog):
    """Canceled: the engine's open orders decided before the EOD bar and every other open
    order on a universe symbol. Left working: the engine's orders of the EOD bar itself, and
    orders on symbols outside the universe. A cancel that fails for a moment is logged and
    not counted; one that comes too late (the order filled meanwhile) is not counted either."""
    from common.errors import NetworkError
    from engine.order_plan import plan_orders

    broker = ThinBroker({})  # no bar: every market order rests
    eod = make(broker, journal)
    ex = eod.executor
    guard = RiskGuard(RiskConfig(max_position_pct=1.0))
    for t, targets in ((EOD - 5 * MINUTE_MS, {"SQQQ": 10, "TQQQ": 3}), (EOD, {"FAS": 2})):
        ex.execute(plan_orders("rotation", t, targets, {}, prices=PRICES, equity=100_000.0, guard=guard))
    early_sqqq, early_tqqq = (r.client_order_id for r in sorted(ex.open_records(), key=lambda r: r.symbol)
                              if parse_client_order_id(r.client_order_id).t_ms < EOD)  # fmt: skip
    broker.place("FAS", "buy", 5, "hand-fas")
    hand_tqqq = broker.place("TQQQ", "sell", 1, "hand-tqqq")
    hand_aapl = broker.place("AAPL", "buy", 3, "hand-aapl")
    flaky = next(o["id"] for o in broker.orders.values() if o["client_order_id"] == early_tqqq)
    real_cancel = broker.cancel_order

    def cancel(order_id: str) -> None:
        if order_id == flaky:
            raise NetworkError("read timed out")
        if order_id == hand_tqqq:  # filled between the list and the cancel
            broker.orders[order_id]["status"] = "filled"
        real_cancel(order_id)

    broker.cancel_order = cancel  # type: ignore[method-assign]
    caplog.set_level("INFO", logger="engine.eod")
    n = eod.cancel_open_orders()
    status = {o["client_order_id"]: o["status"] for o in broker.orders.values()}
    assert status[early_sqqq] == "canceled" and journal.order(early_sqqq).status == "canceled"
    assert status[early_tqqq] == "new" and journal.order(early_tqqq).is_open  # asked again later
    assert status["hand-fas"] == "canceled" and status["hand-aapl"] == "new"
    assert status["hand-tqqq"] == "filled"
    (eod_fas,) = [c for c in status if c.startswith("it-") and parse_client_order_id(c).t_ms == EOD]
    assert status[eod_fas] == "new"
    assert n == 2  # early SQQQ and the hand-placed FAS
    assert hand_aapl in caplog.text and "left working: outside the strategy's universe" in caplog.text
    assert f"cannot cancel {early_tqqq} now" in caplog.text


# ---------------------------------------------------------------- each step, one behaviour each


class CountingBroker(ThinBroker):
    """A ThinBroker that records the REST reads and the open-order listing's arguments."""

    def __init__(self, bars: dict[str, set[int]]) -> None:
        super().__init__(bars)
        self.reads: list[str] = []
        self.listed: list[dict[str, Any]] = []

    def list_orders(self, status: str = "open", limit: int = 500, **kw: Any) -> list[Order]:
        self.reads.append("list_orders")
        self.listed.append({"status": status, "limit": limit, **kw})
        return super().list_orders(status, limit, **kw)

    def get_positions(self) -> list[Position]:
        self.reads.append("get_positions")
        return super().get_positions()

    def get_order(self, order_id: str) -> Order:
        self.reads.append("get_order")
        return super().get_order(order_id)


def test_the_scope_comes_from_the_config_and_splits_positions_into_traded_and_left_alone() -> None:
    from tests.unit.engine.conftest import make_config

    cfg = make_config("rotation")
    scope = EodScope.of(cfg)
    assert scope.universe == frozenset(cfg.symbols) and scope.foreign is False
    assert EodScope.of(make_config("rotation", reconciliation__flatten_foreign_at_eod=True)).foreign is True
    mine, left = EodScope(UNIVERSE).split({"TQQQ": 5, "AAPL": -2, "SQQQ": -1})
    assert (mine, left) == ({"TQQQ": 5, "SQQQ": -1}, {"AAPL": -2})
    assert EodScope(UNIVERSE, foreign=True).split({"TQQQ": 5, "AAPL": -2}) == ({"TQQQ": 5, "AAPL": -2}, {})


def test_the_summary_before_the_close_names_only_what_it_did_when_nothing_rests(journal) -> None:
    broker = ThinBroker(THIN)
    broker.hold("TQQQ", 100)  # it trades in the EOD minute: filled at once
    result = make(broker, journal).run(EOD, PRICES)
    assert result.resting == {} and result.canceled == 0 and len(result.orders) == 1
    assert result.summary() == "EOD 2025-10-16T15:58:00-04:00: 1 closing order(s), 0 open order(s) canceled"


def test_orders_are_decided_before_the_eod_bar_by_their_id_s_minute_else_by_the_journal_s(journal) -> None:
    broker = ThinBroker({})
    eod = make(broker, journal)
    ex = eod.executor
    eod_buy = OrderKey.for_minute("rotation", EOD, "FAS", "buy").client_order_id()
    early_buy = OrderKey.for_minute("rotation", EOD - 3 * MINUTE_MS, "SQQQ", "buy").client_order_id()
    early_sell = OrderKey.for_minute("rotation", EOD - 2 * MINUTE_MS, "TQQQ", "sell").client_order_id()
    # adopted at start-up: journaled at an earlier time, but its id says the EOD bar (kept);
    # a foreign-format id journaled before the EOD bar is judged by its journal time (canceled)
    adopted = [broker.place("FAS", "buy", 2, eod_buy), broker.place("SQQQ", "buy", 3, early_buy),
               broker.place("TQQQ", "sell", 4, early_sell), broker.place("FAS", "sell", 1, "legacy-1")]  # fmt: skip
    ex.adopt([broker.get_order(oid) for oid in adopted], t_ms=EOD - 10 * MINUTE_MS)
    late = broker.place("TQQQ", "buy", 1, "legacy-2")
    ex.journal.record_intent("legacy-2", strategy="rotation", session_date=DAY, t_ms=EOD, symbol="TQQQ",
                             side="buy", qty=1)  # fmt: skip
    ex.apply(broker.get_order(late))
    assert eod.cancel_open_orders() == 3  # every one counted, not only the last
    status = {o["client_order_id"]: o["status"] for o in broker.orders.values()}
    assert status == {eod_buy: "new", early_buy: "canceled", early_sell: "canceled", "legacy-1": "canceled",
                      "legacy-2": "new"}  # fmt: skip


def test_the_open_orders_of_the_account_are_listed_once_and_an_outside_one_does_not_stop_the_cancels(journal) -> None:
    broker = CountingBroker({})
    broker.place("AAPL", "buy", 3, "hand-aapl")  # outside: left working, listed first
    broker.place("FAS", "buy", 5, "hand-fas")
    broker.place("SQQQ", "sell", 2, "hand-sqqq")
    assert make(broker, journal).cancel_open_orders() == 2
    assert broker.listed == [{"status": "open", "limit": 500}]
    assert {o["client_order_id"]: o["status"] for o in broker.orders.values()} == {
        "hand-aapl": "new", "hand-fas": "canceled", "hand-sqqq": "canceled"}  # fmt: skip


def test_a_buy_whose_cancel_failed_is_canceled_by_the_flatten_even_with_nothing_held(journal) -> None:
    from common.errors import NetworkError
    from engine.order_plan import plan_orders

    broker = ThinBroker({})
    eod = make(broker, journal)
    guard = RiskGuard(RiskConfig(max_position_pct=1.0))
    eod.executor.execute(plan_orders("rotation", EOD - 5 * MINUTE_MS, {"SQQQ": 10}, {}, prices=PRICES,
                                     equity=100_000.0, guard=guard))  # fmt: skip
    (buy,) = ours(broker)
    real_cancel, failures = broker.cancel_order, [buy["id"]]

    def cancel(order_id: str) -> None:
        if order_id in failures:
            failures.remove(order_id)
            raise NetworkError("read timed out")
        real_cancel(order_id)

    broker.cancel_order = cancel  # type: ignore[method-assign]
    result = eod.run(EOD, PRICES)
    assert buy["status"] == "canceled" and result.orders == [] and broker.positions == {}
    assert journal.order(buy["client_order_id"]).status == "canceled"


def test_a_relaunch_at_the_same_minute_sends_again_under_the_next_seq_after_a_rejection(journal) -> None:
    broker = ThinBroker(THIN)
    broker.hold("FAS", 30)
    broker.reject_next.add("FAS")
    first = make(broker, journal).run(EOD, PRICES)
    again = make(broker, journal).run(EOD, PRICES)  # relaunched within the EOD minute
    (rejected,), (resent,) = first.orders, again.orders
    assert parse_client_order_id(rejected).seq == 0 and parse_client_order_id(resent).seq == 1
    assert parse_client_order_id(resent).t_ms == EOD and broker.positions == {}


def test_the_follow_ups_add_to_the_orders_of_the_flatten(journal) -> None:
    broker = ThinBroker(THIN)
    broker.hold("TQQQ", 100)
    broker.hold("FAS", 30)
    broker.reject_next.add("FAS")
    eod = make(broker, journal)
    first = list(eod.run(EOD, PRICES).orders)
    assert len(first) == 2
    broker.next_minute()
    again = eod.follow_up(EOD + MINUTE_MS, PRICES, managed=())
    assert len(again) == 1 and eod.done is not None and eod.done.orders == [*first, *again]


def test_a_follow_up_leaves_the_symbols_the_strategy_s_plan_manages_alone(journal) -> None:
    broker = ThinBroker(THIN)
    broker.hold("TQQQ", 100)
    broker.hold("FAS", 30)
    broker.reject_next.update({"TQQQ", "FAS"})
    eod = make(broker, journal)
    eod.run(EOD, PRICES)
    broker.next_minute()
    (sent,) = eod.follow_up(EOD + MINUTE_MS, PRICES, managed={"TQQQ"})
    assert parse_client_order_id(sent).symbol == "FAS"
    assert [o["symbol"] for o in ours(broker) if o["status"] == "new"] == ["FAS"]


def test_a_follow_up_before_the_flatten_or_after_the_close_does_nothing(journal) -> None:
    broker = CountingBroker(THIN)
    broker.hold("TQQQ", 100)
    eod = make(broker, journal)
    assert eod.follow_up(EOD - MINUTE_MS, PRICES, managed=()) == [] and broker.reads == []
    eod.run(EOD, PRICES)
    eod.confirm_at_close()
    broker.hold("FAS", 3)
    broker.reads.clear()
    assert eod.follow_up(EOD + MINUTE_MS, PRICES, managed=()) == [] and broker.reads == []


def test_a_follow_up_makes_no_read_when_the_strategy_s_plan_covers_the_universe(journal) -> None:
    broker = CountingBroker(THIN)
    broker.hold("TQQQ", 100)
    eod = make(broker, journal)
    eod.run(EOD, PRICES)
    broker.reads.clear()
    assert eod.follow_up(EOD + MINUTE_MS, PRICES, managed=UNIVERSE) == [] and broker.reads == []
    assert eod.follow_up(EOD + MINUTE_MS, PRICES, managed=UNIVERSE | {"AAPL"}) == [] and broker.reads == []
    foreign = make(broker, journal, foreign=True)
    foreign.run(EOD, PRICES)
    broker.reads.clear()
    foreign.follow_up(EOD + MINUTE_MS, PRICES, managed=UNIVERSE)  # foreign symbols are its own to close
    assert "get_positions" in broker.reads


def test_a_follow_up_that_meets_a_broker_error_sends_nothing_and_says_so(journal, caplog) -> None:
    from common.errors import NetworkError

    broker = ThinBroker(THIN)
    broker.hold("FAS", 30)
    broker.reject_next.add("FAS")
    eod = make(broker, journal)
    eod.run(EOD, PRICES)

    def down() -> list[Position]:
        raise NetworkError("connection refused")

    broker.get_positions = down  # type: ignore[method-assign]
    assert eod.follow_up(EOD + MINUTE_MS, PRICES, managed=()) == []
    assert ("WARNING", "EOD follow-up on 2025-10-16T15:58:00-04:00: connection refused") in [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "engine.eod"]  # fmt: skip


def test_a_broker_error_during_the_flatten_is_kept_in_the_result_cut_to_300_characters(journal) -> None:
    from common.errors import ServerError

    broker = ThinBroker(THIN)
    broker.hold("TQQQ", 100)
    error = ServerError(503, None, "z" * 400)

    def down(**_: Any) -> list[Order]:
        raise error

    broker.list_orders = down  # type: ignore[method-assign]
    eod = make(broker, journal)
    result = eod.run(EOD, PRICES)
    assert result.errors == [str(error)[:300]] and len(result.errors[0]) == 300
    assert result.orders == [] and result.canceled == 0 and eod.done is result


def test_the_confirmation_without_a_flatten_reports_on_the_eod_bar(journal) -> None:
    broker = ThinBroker(THIN)
    broker.hold("AAPL", 10)
    eod = make(broker, journal)
    result = eod.confirm_at_close()
    assert result.t_ms == EOD and result.flat is True and result.left_alone == {"AAPL": 10}
    assert eod.done is result


def test_a_position_without_a_working_order_is_reported_at_once_without_waiting(journal) -> None:
    broker = ThinBroker(THIN)
    broker.hold("FAS", 30)
    broker.reject_next.add("FAS")
    clock = Clock()
    eod = make(broker, journal, clock=clock)
    eod.run(EOD, PRICES)
    result = eod.confirm_at_close()
    assert clock.sleeps == 0 and result.flat is False and result.remaining == {"FAS": 30}
    assert eod.done is result


def test_by_default_the_confirmation_waits_20_seconds_polling_every_0_2(journal) -> None:
    broker = ThinBroker(THIN)
    broker.hold("SQQQ", 50)  # no bar left: its closing order rests and this broker never fills it
    clock = Clock()
    ex = Executor(broker, journal, "rotation", DAY, book=PositionBook(), now_ms=lambda: broker.minute)  # type: ignore[arg-type]
    eod = EndOfDay(ex, SESSION, SessionConfig(), RiskGuard(RiskConfig()), scope=EodScope(UNIVERSE),
                   sleep=clock.sleep, monotonic=clock.monotonic)  # fmt: skip
    eod.run(EOD, PRICES)
    assert eod.confirm_at_close().flat is False
    assert clock.sleeps == 101  # 100 sleeps of 0.2 add up to just under 20.0 in floating point


def test_the_eod_instant_and_its_bar_follow_the_config_and_the_calendar(journal) -> None:
    from engine.eod import eod_time_ms

    half = nyse().session(date(2025, 11, 28))
    assert eod_time_ms(SESSION, SessionConfig()) == SESSION.close_ms - 2 * MINUTE_MS
    assert eod_time_ms(half, SessionConfig(eod_minutes_before_close=5)) == half.close_ms - 5 * MINUTE_MS
    assert eod_bar(SESSION, SessionConfig()) == SESSION.close_ms - 3 * MINUTE_MS
    broker = ThinBroker(THIN)
    eod = EndOfDay(Executor(broker, journal, "rotation", DAY), SESSION, SessionConfig(), RiskGuard(RiskConfig()),  # type: ignore[arg-type]
                   scope=EodScope(UNIVERSE))  # fmt: skip
    assert (eod.at_ms, eod.bar_ms) == (EOD + MINUTE_MS, EOD)
    assert not eod.due_for_bar(EOD - MINUTE_MS) and eod.due_for_bar(EOD) and eod.due_for_bar(EOD + MINUTE_MS)
    assert not eod.due_at(EOD + MINUTE_MS - 1) and eod.due_at(EOD + MINUTE_MS)


def test_the_flatten_passes_its_crash_point_before_it_cancels_anything_and_counts_its_cancels(journal, monkeypatch, caplog) -> None:
    import engine.eod as eod_module

    broker = ThinBroker(THIN)
    broker.hold("TQQQ", 100)
    hand = broker.place("FAS", "buy", 5, "hand-fas")
    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(eod_module, "crash_point", lambda name: seen.append((name, broker.orders[hand]["status"])))
    caplog.set_level("INFO", logger="engine.eod")
    result = make(broker, journal).run(EOD, PRICES)
    assert seen == [("eod", "new")] and result.canceled == 1
    assert "EOD at 2025-10-16T15:58:00-04:00: canceling open orders" in caplog.text


def test_a_broker_error_in_the_flatten_is_logged_with_the_eod_instant(journal, caplog) -> None:
    from common.errors import ServerError

    broker = ThinBroker(THIN)

    def down(**_: Any) -> list[Order]:
        raise ServerError(503, None, "unavailable")

    broker.list_orders = down  # type: ignore[method-assign]
    make(broker, journal).run(EOD, PRICES)
    assert "EOD 2025-10-16T15:58:00-04:00: broker error: HTTP 503" in caplog.text


def test_a_follow_up_leaves_the_working_orders_of_the_managed_symbols_alone(journal) -> None:
    broker = ThinBroker(THIN)
    broker.hold("SQQQ", 40)  # no bar: its closing order works on
    broker.hold("FAS", -30)
    broker.reject_next.add("FAS")
    eod = make(broker, journal)
    eod.run(EOD, PRICES)
    broker.next_minute()
    (sent,) = eod.follow_up(EOD + MINUTE_MS, PRICES, managed={"SQQQ"})
    key = parse_client_order_id(sent)
    assert (key.symbol, key.side) == ("FAS", "buy")  # the short covered again, priced
    assert [o["symbol"] for o in ours(broker) if o["status"] == "new"] == ["SQQQ", "FAS"]


def test_a_relaunch_sends_a_closing_order_lost_before_it_was_sent_under_its_own_id(journal) -> None:
    broker = ThinBroker(THIN)
    broker.hold("SQQQ", 40)
    first = make(broker, journal)
    lost = OrderKey.for_minute("rotation", EOD, "SQQQ", "sell").client_order_id()
    journal.record_intent(lost, strategy="rotation", session_date=DAY, t_ms=EOD, symbol="SQQQ", side="sell",
                          qty=40, reason="end of day: flatten")  # fmt: skip
    first.executor.settle()  # the killed run never sent it: the broker does not know it
    assert journal.order(lost).status == "lost"
    result = make(broker, journal).run(EOD, PRICES)
    assert result.orders == [lost] and broker.submitted == [lost]


def eod_lines(caplog) -> list[tuple[str, str]]:
    return [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "engine.eod"]


def test_the_log_tells_each_step_of_the_end_of_day(journal, caplog) -> None:
    from common.errors import NetworkError

    caplog.set_level("INFO", logger="engine.eod")
    broker = ThinBroker(THIN)
    broker.hold("SQQQ", 40)  # no bar: its closing order rests
    broker.hold("FAS", 30)
    broker.reject_next.add("FAS")
    early = broker.place("TNA", "buy", 1, "hand-tna")  # not ours, outside: left working
    filled = broker.place("TQQQ", "buy", 2, "hand-tqqq")
    broker.orders[filled]["status"] = "new"
    real_cancel = broker.cancel_order

    def cancel(order_id: str) -> None:
        if order_id == filled:  # it filled between the listing and the cancel
            broker.orders[order_id]["status"] = "filled"
        real_cancel(order_id)

    broker.cancel_order = cancel  # type: ignore[method-assign]
    clock = Clock()
    eod = make(broker, journal, clock=clock)
    journal.record_intent("it-rot-20251016-1500-SQQQ-b-0", strategy="rotation", session_date=DAY,
                          t_ms=EOD - 57 * MINUTE_MS, symbol="SQQQ", side="buy", qty=1)  # fmt: skip
    journal.update_order("it-rot-20251016-1500-SQQQ-b-0", "new", broker_order_id="gone-1")
    real_get = broker.get_order

    def get_order(order_id: str) -> Order:
        if order_id == "gone-1":
            raise NetworkError("read timed out")
        return real_get(order_id)

    broker.get_order = get_order  # type: ignore[method-assign]
    broker.cancel_order = lambda oid: (_ for _ in ()).throw(NetworkError("read timed out")) if oid == "gone-1" else cancel(oid)  # type: ignore[method-assign]
    result = eod.run(EOD, PRICES)
    when = "2025-10-16T15:58:00-04:00"
    (sqqq, fas) = sorted(result.orders)[1], sorted(result.orders)[0]
    assert eod_lines(caplog) == [
        ("INFO", f"EOD at {when}: canceling open orders and flattening the strategy's positions"),
        ("WARNING", "EOD: cannot cancel it-rot-20251016-1500-SQQQ-b-0 now: read timed out"),
        ("INFO", f"EOD: open order {early} (buy TNA) left working: outside the strategy's universe"),
        ("INFO", f"EOD: order {filled}: order is already in \"filled\" state"),
        ("INFO", f"EOD {when}: 2 closing order(s), 0 open order(s) canceled; working until their symbol's next bar"
                 " or the close: {'SQQQ': 40.0}"),
    ]
    assert parse_client_order_id(fas).symbol == "FAS" and parse_client_order_id(sqqq).symbol == "SQQQ"
    caplog.clear()
    broker.get_order = real_get  # type: ignore[method-assign]
    journal.update_order("it-rot-20251016-1500-SQQQ-b-0", "canceled")
    broker.next_minute()
    (again,) = eod.follow_up(EOD + MINUTE_MS, PRICES, managed=())
    eod.confirm_at_close()
    assert eod_lines(caplog)[:2] == [
        ("WARNING", f"EOD follow-up {when}: 1 closing order(s) sent: ['{again}']"),
        ("INFO", "after the close: waiting for the closing orders of ['FAS', 'SQQQ']"),
    ]


def test_the_log_names_a_hand_placed_order_canceled_at_end_of_day(journal, caplog) -> None:
    caplog.set_level("INFO", logger="engine.eod")
    broker = ThinBroker(THIN)
    hand = broker.place("FAS", "sell", 5, "hand-fas")
    make(broker, journal).cancel_open_orders()
    assert eod_lines(caplog) == [("INFO", f"EOD: canceled open order {hand} (sell FAS, not ours)")]


def test_the_log_tells_a_broker_error_during_the_flatten_in_full(journal, caplog) -> None:
    from common.errors import ServerError

    broker = ThinBroker(THIN)

    def down(**_: Any) -> list[Order]:
        raise ServerError(503, None, "unavailable")

    broker.list_orders = down  # type: ignore[method-assign]
    make(broker, journal).run(EOD, PRICES)
    assert ("ERROR", "EOD 2025-10-16T15:58:00-04:00: broker error: HTTP 503 code=None unavailable "
                     "(later minutes send what is missing)") in eod_lines(caplog)

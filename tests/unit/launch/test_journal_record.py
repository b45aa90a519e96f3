"""launch.journal_record: a traded day's record from a real journal, bar files and run records."""

from __future__ import annotations

from datetime import date

import pytest

from common.bars import Bar
from common.calendar import ny_datetime, nyse, to_ms
from common.config import BEST_PARAMS_FILE, CostsConfig, PsmStrategyConfig
from common.csvfiles import history_path, today_path, write_history, write_today
from engine.journal import Journal
from launch.journal_record import BrokerFacts, optimizer_summary, read_session

DAY = date(2025, 10, 16)
PREV = date(2025, 10, 15)
CFG = PsmStrategyConfig(costs=CostsConfig(fee_per_share=0.0, sec_fee_per_million=27.8, taf_per_share=0.000166,
                                          taf_max_per_trade=8.3, cat_fee_per_share=0.000046))  # fmt: skip


def at(hhmm: str, day: date = DAY, s: int = 0) -> int:
    return to_ms(ny_datetime(day, hhmm)) + s * 1000


def bar(sym: str, t: int, close: float) -> Bar:
    return Bar(sym, t, close, close, close, close, 1000.0)


@pytest.fixture
def files(tmp_path):
    """Bars: SPY every minute 09:30..09:34, SPXL at 09:30 and 09:33, nothing for SH or SDS."""
    data = tmp_path / "data"
    write_history(history_path(data / "equities", "SPY"), [bar("SPY", at("15:59", PREV), 99.0)])
    write_history(history_path(data / "equities", "SPXL"), [bar("SPXL", at("15:59", PREV), 50.0)])
    closes = [100.0, 101.0, 102.0, 101.0, 103.0]
    write_today(today_path(data / "tmp" / "todays_bars", "SPY"),
                [bar("SPY", at(f"09:3{i}"), c) for i, c in enumerate(closes)])  # fmt: skip
    write_today(today_path(data / "tmp" / "todays_bars", "SPXL"), [bar("SPXL", at("09:30"), 51.0), bar("SPXL", at("09:33"), 52.0)])
    return data


@pytest.fixture
def journal(tmp_path):
    path = tmp_path / "journal.sqlite"
    with Journal(path, now_ms=lambda: at("09:35")) as j:
        j.record_event("psm", DAY, at("09:29"), "reconciliation",
                       {"state": "CASH_ONLY", "action": "fresh", "holdings": {}, "issues": [], "details": []})  # fmt: skip
        for i, state in enumerate(["CASH_ONLY", "SPY_ONLY", "SPY_ONLY", "SPY_ONLY", "CASH_ONLY"]):
            j.record_minute("psm", DAY, at(f"09:3{i}"), state, {}, {}, {}, None)
        j.record_intent("buy-1", strategy="psm", session_date=DAY, t_ms=at("09:30"), symbol="SPY", side="buy",
                        qty=10, reason="enter")  # fmt: skip
        j.record_fill("buy-1", execution_id="e1", cum_qty=10, t_ms=at("09:31", s=5), price=101.5, qty=10)
        j.record_intent("sell-1", strategy="psm", session_date=DAY, t_ms=at("09:33"), symbol="SPY", side="sell",
                        qty=10, reason="exit")  # fmt: skip
        j.record_fill("sell-1", execution_id="e2", cum_qty=10, t_ms=at("09:34"), price=100.9, qty=10)
        j.record_event("psm", DAY, at("09:34"), "halt", {"reason": "daily loss limit"})
        j.record_event("psm", DAY, at("09:32"), "trade_stream_down", {"reason": "closed"})
    return path


RUNS = [{"stamp": "20251016_091500", "session_date": "2025-10-16", "strategy": "psm",
         "broker_start": {"equity": 100000.0, "last_equity": 100000.0, "positions": {}},
         "children": {"engine": {"restarts": 1}, "bridge": {"restarts": 0}}},
        {"stamp": "20251016_100000", "session_date": "2025-10-16", "strategy": "psm",
         "broker_end": {"equity": 99993.96, "last_equity": 100000.0, "positions": {}},
         "children": {"engine": {"restarts": 0}, "bridge": {"restarts": 2}}}]  # fmt: skip


def test_the_equity_curve_is_cash_after_each_fill_and_fees_plus_positions_at_each_close(files, journal):
    rec = read_session(journal, "psm", DAY, kind="mock", cfg=CFG, data_dir=files, runs=RUNS, reconnects=3,
                       state={"session_date": "2025-10-16", "strategy": "psm", "feed": {"gaps": 2, "backfilled_minutes": 5}})  # fmt: skip
    # 09:30 nothing yet; the buy at 09:31:05 (1015.00 and a CAT fee charged 0.01); 10 SPY at each
    # close; the sell at 09:34:00 (1009.00, the day's fees now 0.0306 rounded up to 0.04: 0.03 more)
    assert rec.t_ms.tolist() == [at(f"09:3{i}") for i in range(5)]
    assert rec.equity.tolist() == pytest.approx([100000.0, 99994.99, 100004.99, 99994.99, 99993.96])
    assert rec.start_equity == 100000.0 and rec.fees == pytest.approx(0.04)
    assert rec.pnl == pytest.approx(-6.04) and rec.broker_pnl == pytest.approx(-6.04)
    assert rec.positions[rec.symbols.index("SPY")].tolist() == [0, 10, 10, 10, 0]
    assert rec.position_values[rec.symbols.index("SPY")].tolist() == [0, 1010, 1020, 1010, 0]
    # each fill against the close of the bar it was decided on
    buy, sell = rec.trades
    assert (buy.decided_t_ms, buy.decision_price, buy.reason) == (at("09:30"), 100.0, "enter")
    assert buy.slippage_bps == pytest.approx(150.0) and sell.slippage_usd == pytest.approx(1.0)
    assert rec.states == ((at("09:30"), "CASH_ONLY"), (at("09:31"), "SPY_ONLY"), (at("09:34"), "CASH_ONLY"))
    assert rec.orders_by_status == {"filled": 2}
    assert rec.days[0].halted and rec.days[0].flat_at_close is None  # the session is not over in the files
    q = rec.quality
    assert (q.minutes, q.symbols, q.filled_bars) == (5, 4, 3 + 5 + 5)
    assert q.filled_by_symbol == {"SPY": 0, "SPXL": 3, "SH": 5, "SDS": 5}
    assert (q.gaps_backfilled, q.backfilled_minutes, q.reconnects, q.launcher_runs) == (2, 5, 3, 2)
    assert q.restarts == {"engine": 1, "bridge": 2} and q.stream_drops == 1
    assert [e.kind for e in rec.events] == ["reconciliation", "halt", "trade_stream_down"]
    assert rec.events[1].text == "HALT (kill switch): daily loss limit"
    assert rec.reconciliations[0].state == "CASH_ONLY"
    assert any("SH, SDS" in n for n in rec.notes)


def test_positions_held_at_the_start_are_marked_from_the_previous_close(files, journal):
    facts = BrokerFacts(last_equity=50_000.0, equity=None, start_positions={"SPY": 5.0})
    rec = read_session(journal, "psm", DAY, kind="live", cfg=CFG, data_dir=files, broker=facts)
    # 5 SPY bought before today at whatever price: worth 99 at the previous close, 100 at 09:30
    assert rec.equity[0] == pytest.approx(50_005.0)
    assert rec.positions[rec.symbols.index("SPY")].tolist() == [5, 15, 15, 15, 5]
    assert rec.broker_pnl is None


def test_without_a_launcher_record_it_says_what_it_assumed(files, journal):
    rec = read_session(journal, "psm", DAY, kind="mock", cfg=CFG, data_dir=files)
    assert rec.start_equity == CFG.backtest.starting_cash
    assert any("starting cash" in n for n in rec.notes)
    assert any("gaps backfilled: unknown" in n for n in rec.notes)
    assert rec.quality.reconnects is None and rec.quality.launcher_runs is None


def test_the_optimizer_summary_comes_from_best_params(tmp_path):
    assert optimizer_summary(tmp_path / BEST_PARAMS_FILE, "psm") is None
    (tmp_path / "best_params.json").write_text(
        '{"psm": {"params": {"oes_config.buy_threshold": 0.56}, "provenance": {"data_start": "2025-09-01",'
        ' "data_end": "2025-10-15", "trials": 100, "score": 0.12, "held_out_score": 0.05,'
        ' "created_at": "2025-10-16T09:41:00-04:00"}}}')  # fmt: skip
    o = optimizer_summary(tmp_path / BEST_PARAMS_FILE, "psm")
    assert o is not None and o.params == {"oes_config.buy_threshold": 0.56}
    assert (o.in_sample, o.held_out, o.trials) == (0.12, 0.05, 100)
    assert o.verdict.startswith("promoted 2025-10-16 09:41") and "+0.0500 %/day" in o.verdict
    assert optimizer_summary(tmp_path / BEST_PARAMS_FILE, "rotation") is None


def test_a_missing_journal_is_named(tmp_path, files):
    from launch.journal_record import JournalReadError

    with pytest.raises(JournalReadError, match="no journal at"):
        read_session(tmp_path / "nope.sqlite", "psm", DAY, kind="mock", cfg=CFG, data_dir=files)
    with pytest.raises(ValueError, match="not a trading session"):
        read_session(tmp_path / "nope.sqlite", "psm", date(2025, 10, 18), kind="mock", cfg=CFG, data_dir=files,
                     calendar=nyse())  # fmt: skip

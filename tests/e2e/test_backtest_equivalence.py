"""A full mock session of each strategy, replayed live, against the backtest of the same date.

Live: mockmarket (``--correction-rate 0``, so the websocket bars are the CSV's), the bridge
and the engine, as real processes, from before the open to after the close. The market
clock is driven in lockstep (paused; stepped one minute once the engine has decided the
minute before), so each order decided on bar t reaches the paper broker during minute t+1
and fills at its open — the fill rule the backtest simulates — however loaded the machine.

The same run is the "full session" check: the engine trades, journals every fill, ends
flat, and its journal equals the broker's record. Then the backtest of that date, warmed up
on the same 20 sessions (downloaded over REST, as the launcher does), must produce the very
same orders (client_order_id, symbol, side, quantity), fills (quantity, price) and end cash,
both under the market's default (realistic) costs: half-spread, slippage, regulatory fees,
and market orders resting through minutes without a bar.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from common.calendar import from_ms, nyse, to_ms
from common.config import load_strategy_config
from common.csvfiles import history_path, read_history, write_history
from engine.backtest import run_backtest
from engine.order_ids import parse_client_order_id

ROTATION = ("ERX", "ERY", "FAS", "FAZ", "SDS", "SSO", "SQQQ", "SVXY", "TNA", "TQQQ", "TZA", "UVXY")
PSM = ("SPY", "SPXL", "SH", "SDS")


def _journal_equals_broker(rig, strategy: str) -> list:
    orders = rig.broker_orders()
    journaled = {r["client_order_id"]: r for r in rig.journal_rows(
        "SELECT * FROM orders WHERE strategy=? AND session_date=?", strategy, rig.day.isoformat())}  # fmt: skip
    fills = rig.journal_rows("SELECT * FROM fills WHERE strategy=? AND session_date=? ORDER BY t_ms,"
                             " client_order_id", strategy, rig.day.isoformat())  # fmt: skip
    assert set(journaled) == {o.client_order_id for o in orders}
    for o in orders:
        r = journaled[o.client_order_id]
        assert (r["status"], r["broker_order_id"], r["filled_qty"]) == (o.status, o.id, o.filled_qty)
        got = [f for f in fills if f["client_order_id"] == o.client_order_id]
        assert sum(f["qty"] for f in got) == pytest.approx(o.filled_qty)
    return orders


def _replay_and_backtest(rig, e2e, tmp_path, strategy: str, symbols: tuple[str, ...], *,
                         defaults: bool = False, **dotted):
    """The whole session live in lockstep, then the backtest of it (the ported tuning, or
    the shipped defaults with ``defaults``, with config overrides ``dotted``): (broker
    orders, the backtest's result, how many orders rested past their arrival minute)."""
    cfg_path = rig.write_config(strategy, defaults=defaults, **dotted)
    rig.clock(action="step", seconds=30)
    rig.start_bridge(symbols)
    engine = rig.start_engine(strategy)
    rig.wait_phase("trading", engine)
    code = rig.lockstep(engine)
    assert code == 0, engine.output()[-4000:]

    # the live run: traded, journaled every fill, flat, journal == broker
    orders = _journal_equals_broker(rig, strategy)
    assert len(orders) >= 2 and all(o.status == "filled" for o in orders)
    assert rig.positions() == {}
    live_fills = rig.journal_rows("SELECT client_order_id, qty, price, t_ms FROM fills")
    day_bars = rig.rest.get_bars(symbols, from_ms(rig.session.open_ms), from_ms(rig.session.close_ms - 60_000))
    resting = 0
    for o in orders:  # each order reached the market in the minute after the bar it was decided
        # on, and filled there, or rested until its symbol's next bar (the close without one)
        arrival = parse_client_order_id(o.client_order_id).t_ms + 60_000
        traded = sorted(b.t for b in day_bars[o.symbol] if b.t >= arrival)
        expected = traded[0] if traded else rig.session.close_ms
        assert to_ms(o.filled_at) // 60_000 * 60_000 == expected, o.client_order_id
        resting += expected > arrival

    # the backtest of the same date, on the same history plus the day's bars (REST)
    data = tmp_path / "backtest_data"
    shutil.copytree(rig.data_dir / "equities", data / "equities")
    for sym in symbols:
        write_history(history_path(data / "equities", sym), day_bars[sym])
    cfg = load_strategy_config(strategy, cfg_path)
    result = run_backtest(cfg, e2e.DAY, e2e.DAY, data_dir=data, warmup_sessions=20)

    live = sorted((o.client_order_id, o.symbol, o.side, o.qty) for o in orders)
    back = sorted((o.client_order_id, o.symbol, o.side, o.qty) for o in result.orders)
    assert live == back
    live_f = sorted((f["client_order_id"], f["qty"], f["price"]) for f in live_fills)
    back_f = sorted((f.client_order_id, f.qty, f.price) for f in result.fills)
    assert [x[:2] for x in live_f] == [x[:2] for x in back_f]
    for a, b in zip(live_f, back_f, strict=True):
        assert a[2] == pytest.approx(b[2], rel=1e-12), (a, b)
    assert result.days[0].flat_at_close
    assert rig.rest.get_account().cash == pytest.approx(result.final_equity, abs=0.005)
    assert sum(f.t_ms - f.decided_t_ms > 60_000 for f in result.fills) == resting
    return orders, result, resting


@pytest.mark.slow
@pytest.mark.parametrize(
    ("strategy", "symbols", "defaults"),
    [("rotation", ROTATION, True), ("psm", PSM, False)],
    ids=["rotation-defaults", "psm-original"],
)
def test_backtest_and_mock_replay_of_a_date_agree(rig_factory, e2e, tmp_path, strategy, symbols,
                                                  defaults):  # fmt: skip
    # the market's default costs are the config's (CostsConfig, what write_config writes):
    # half-spread by liquidity, slippage, regulatory fees, resting orders without a bar.
    # Rotation runs the shipped defaults: the live warm-up's round-trip cost estimates gate
    # the same entries as the backtest's.
    rig = rig_factory(day=e2e.DAY, start_time="09:29")
    _replay_and_backtest(rig, e2e, tmp_path, strategy, symbols, defaults=defaults)


def _thin_close(src: Path, dst: Path, day, keep: str) -> None:
    """``src``'s market with no 15:58 bar on ``day`` for every rotation symbol but ``keep``,
    and no 15:59 bar either for every other one of them (those trade no more that day)."""
    shutil.copytree(src, dst)
    session = nyse().session(day)
    eod_minute = session.close_ms - 2 * 60_000
    for i, sym in enumerate(s for s in ROTATION if s != keep):
        gone = {eod_minute} if i % 2 else {eod_minute, eod_minute + 60_000}
        path = history_path(dst, sym)
        bars = [b for b in read_history(path) if b.t not in gone]
        path.unlink()
        write_history(path, bars)


@pytest.mark.slow
def test_a_thin_close_rests_the_eod_orders_and_live_still_agrees_with_the_backtest(
    rig_factory, e2e, tmp_path, market_files
):
    """Flatten orders whose symbol has no bar at 15:58 rest until its next bar (15:59) or the
    close: the engine counts them as pending (no cancel, no resend with new ids), does not
    stall the lockstep clock, ends flat with exit 0, and sends exactly the backtest's orders."""
    data = tmp_path / "thin_market"
    _thin_close(market_files(e2e.DAY), data, e2e.DAY, keep="TQQQ")
    rig = rig_factory(day=e2e.DAY, start_time="09:29", data_dir=data)
    orders, result, resting = _replay_and_backtest(rig, e2e, tmp_path, "rotation", ROTATION,
                                                   **e2e.ROTATION_HOLDS)  # holds three to the close
    eod_bar = rig.session.close_ms - 3 * 60_000
    eod = [o for o in orders if parse_client_order_id(o.client_order_id).t_ms == eod_bar]
    assert eod, "the strategy held nothing at the end of day: this day does not test the rule"
    assert all(parse_client_order_id(o.client_order_id).t_ms <= eod_bar for o in orders)  # no resend
    rested = [o for o in eod if to_ms(o.filled_at) >= eod_bar + 2 * 60_000]
    assert rested and resting >= len(rested)
    log = rig.trader_log()
    assert "working until their symbol's next bar or the close" in log and "flat at the close" in log

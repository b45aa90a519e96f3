"""``python -m launch mock --midday-optimize``: at the midday time the launcher stops the
engine, downloads the morning's bars, re-optimizes with them (a new study: today's morning
is the last held-out session; the market's clock held meanwhile) and restarts the engine,
which takes over its positions without an order; no order is sent twice all day, and the
account is flat at the close."""

from __future__ import annotations

import json

from common.calendar import MINUTE_MS, iso_ny, ny_datetime, to_ms
from common.config import apply_params, original_config_json
from engine.order_ids import parse_client_order_id
from tests.support.processes import poll

from .conftest import DAY, Home
from .test_launch_takeover import HOLDS


def at(hhmm: str) -> int:
    return to_ms(ny_datetime(DAY, hhmm))


def test_midday_reoptimization_restarts_the_engine_without_an_order(home: Home, market):
    m = market("12:25", speed=300.0, paused=True)
    # the ported tuning enters as soon as signals are warm (no cost gate to wait on)
    home.write_config(apply_params(original_config_json("rotation"), HOLDS, source="<test>", strategy="rotation"))
    launcher = home.launch("--download-sessions", "20", "--windows", "2,2,1", "--trials", "2",
                           "--optimize-budget", "60", "--midday-optimize", "--midday-time", "12:40")  # fmt: skip
    first = home.wait_trading(launcher, timeout=120)
    m.clock(action="resume")
    poll(lambda: len(m.positions()) == 3, 60, "three positions to be entered")  # max_positions
    held = m.positions()
    # the midday restart: a new engine, trading again, holding what the first one held
    poll(lambda: (r := home.record("engine")) and r.pid != first["pid"], 90, "the engine restarted")
    second = home.wait_trading(launcher, timeout=120)
    assert second["positions"] == held
    m.clock(action="set_speed", speed=1200)  # on to the close
    code = launcher.wait(180)
    out = launcher.output()
    assert code == 0, out[-4000:]

    # what the operator saw: an optimization before trading (the session was open: time-boxed),
    # then the midday one on today's morning, between the engine's stop and its restart
    assert "optimization before trading: the session is open: trials time-boxed to 60 s" in out
    stop, midday_opt, restart = (out.index("midday (12:40 ET): stopping the engine"),
                                 out.index("optimization at midday: 2 trials per phase, time-boxed to 60 s, "
                                           "today's session so far included"),
                                 out.index("midday: restarting the engine"))  # fmt: skip
    assert stop < midday_opt < restart
    # the market's simulated clock held while the optimizer ran (the test's own pause, before
    # trading, is left alone)
    assert out.count("mock market clock held while the optimizer runs") == 1
    assert stop < out.index("mock market clock held while the optimizer runs at midday") < midday_opt
    assert midday_opt < out.index("mock market clock resumed at 12:") < restart
    assert "held-out 1 (2025-10-16..2025-10-16), today's up to 12:" in out[midday_opt:restart]
    assert "Session summary — rotation, 2025-10-16 (session over, flat)" in out
    # the midday study is a new one, on data ending with today's morning
    record = json.loads((home.data_dir / "optuna" / "last_run.json").read_text())["rotation"]
    assert record["data_end"] == DAY.isoformat() and record["partial_end"].startswith("2025-10-16T12:")
    journal_log = (home.data_dir / "optuna" / "journal.log").read_text()
    assert "rotation-2025-10-09-2025-10-15-phase1" in journal_log  # before trading: closed sessions
    assert "-2025-10-16T12:" in journal_log  # at midday: today's morning too

    # two engine runs; the second took the positions over from the journal
    log = home.trader_log()
    recon = [x for x in log.splitlines() if "Position reconciliation complete" in x]
    assert len(recon) == 2 and "journal restored" in recon[1] and "action continue" in recon[1], recon
    decided = [r["t_ms"] for r in home.journal("SELECT DISTINCT t_ms FROM decisions ORDER BY t_ms")]
    gaps = [(a, b) for a, b in zip(decided, decided[1:], strict=False) if b - a > MINUTE_MS]
    assert len(gaps) == 1, [(iso_ny(a), iso_ny(b)) for a, b in gaps]
    (down_from, back_at) = gaps[0]
    assert at("12:39") <= down_from < back_at < at("15:30"), (iso_ny(down_from), iso_ny(back_at))

    # no order at the restart: the buys were sent before the stop, one per position; the only
    # other orders are the end-of-day sells
    orders = m.orders(DAY)
    keys = [parse_client_order_id(o.client_order_id) for o in orders]
    assert all(k is not None for k in keys)
    buys = [(k.t_ms, k.symbol) for k in keys if k.side == "buy"]
    sells = [(k.t_ms, k.symbol) for k in keys if k.side == "sell"]
    assert sorted(s for _, s in buys) == sorted(held) and all(t <= down_from for t, _ in buys)
    assert sorted(s for _, s in sells) == sorted(held) and {t for t, _ in sells} == {at("15:57")}
    # no duplicate all day: each client order id once at the broker, and the same set in the journal
    ids = [o.client_order_id for o in orders]
    assert len(ids) == len(set(ids)) == 6
    journaled = [r["client_order_id"] for r in home.journal("SELECT client_order_id FROM orders")]
    assert sorted(journaled) == sorted(ids)
    # flat at the close
    assert m.positions() == {}
    st = home.state()
    assert st is not None and st["phase"] == "done" and st["positions"] == {}

"""Per-minute cost of the engine's decision and bookkeeping parts at 12 symbols.

One simulated session (390 minutes) of seeded random signals and prices runs through:
building the MinuteInput from the calendar, the rotation and PSM ``decide``, ``plan_orders``,
the journal (decision + state in one transaction, then one intent per order) with
``synchronous=FULL`` against the same writes with ``synchronous=OFF`` (the reference: what
the fsyncs cost), and the atomic ``state.json`` write. Printed: p50/p99 per minute.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from bench.timing import percentile
from common.calendar import nyse
from common.config import PsmStrategyConfig, RotationStrategyConfig
from engine.journal import Journal
from engine.order_plan import plan_orders
from engine.risk import RiskGuard
from engine.state_snapshot import write_state_json
from engine.strategies import Holding, PsmStrategy, RotationStrategy, Signal, minute_input

DAY = date(2025, 10, 16)
HERE = Path(__file__).resolve().parent


def _row(name: str, xs: list[float], ref: list[float] | None = None) -> str:
    p50, p99 = percentile(xs, 0.5) * 1e6, percentile(xs, 0.99) * 1e6
    ratio = f"{statistics.median(xs) / statistics.median(ref):7.1f}x" if ref else "        "
    return f"{name:<44} {p50:>10.1f} {p99:>10.1f} {ratio}"


def _journal_pass(
    path: Path, minutes: list[int], plans: list, states: list[dict], sync: str
) -> list[float]:
    j = Journal(path)
    j._db.execute(f"PRAGMA synchronous={sync}")  # the reference turns fsync off
    out = []
    for t, (decision, plan), state in zip(minutes, plans, states, strict=True):
        t0 = time.perf_counter()
        j.record_minute(
            "rotation", DAY, t, decision.summary, decision.targets, decision.reasons, None, state
        )
        for o in plan.orders:
            j.record_intent(
                o.client_order_id,
                strategy="rotation",
                session_date=DAY,
                t_ms=t,
                symbol=o.symbol,
                side=o.side,
                qty=o.qty,
                reason=o.reason,
            )
        out.append(time.perf_counter() - t0)
    j.close()
    return out


def main() -> None:
    rng = random.Random(42)
    session = nyse().session(DAY)
    rot_cfg, psm_cfg = RotationStrategyConfig(), PsmStrategyConfig()
    rot, psm = RotationStrategy(rot_cfg), PsmStrategy(psm_cfg)
    guard = RiskGuard(rot_cfg.risk)
    syms = rot_cfg.symbols
    prices = {s: 50.0 for s in (*syms, *psm_cfg.symbols)}
    positions: dict[str, Holding] = {}
    t_build, t_rot, t_psm, t_plan, t_json = [], [], [], [], []
    minutes = list(session.minutes())
    plans, states = [], []
    with tempfile.TemporaryDirectory(dir=HERE.parent / "bench") as tmp:
        for t in minutes:
            prices = {s: p * (1 + rng.gauss(0, 0.002)) for s, p in prices.items()}
            signals = {
                s: Signal(rng.uniform(0.45, 0.6), rng.uniform(0.01, 0.4)) for s in (*syms, "SPY")
            }
            a = time.perf_counter()
            m = minute_input(
                session,
                t,
                rot_cfg.session,
                prices=prices,
                signals=signals,
                positions=positions,
                equity=100_000.0,
            )
            b = time.perf_counter()
            d = rot.decide(m)
            c = time.perf_counter()
            psm.decide(m)
            e = time.perf_counter()
            plan = plan_orders(
                "rotation",
                t,
                d.targets,
                {s: float(h.qty) for s, h in positions.items()},
                prices=prices,
                equity=100_000.0,
                guard=guard,
            )
            f = time.perf_counter()
            state = rot.state_dict()
            write_state_json(Path(tmp) / "state.json", {"minute": t, "strategy": state})
            g = time.perf_counter()
            t_build.append(b - a)
            t_rot.append(c - b)
            t_psm.append(e - c)
            t_plan.append(f - e)
            t_json.append(g - f)
            plans.append((d, plan))
            states.append(state)
            positions = {s: Holding(q, prices[s]) for s, q in d.targets.items() if q > 0}
        full = _journal_pass(Path(tmp) / "full.sqlite", minutes, plans, states, "FULL")
        off = _journal_pass(Path(tmp) / "off.sqlite", minutes, plans, states, "OFF")
    n_orders = sum(len(p.orders) for _, p in plans)
    print(f"{len(minutes)} minutes x {len(syms)} symbols, {n_orders} orders planned")
    print(f"{'per minute (microseconds)':<44} {'p50':>10} {'p99':>10} {'vs ref':>8}")
    print(_row("minute_input (calendar flags, validation)", t_build))
    print(_row("rotation decide", t_rot))
    print(_row("psm decide", t_psm))
    print(_row("plan_orders", t_plan))
    print(_row("state.json atomic write (fsync)", t_json))
    print(_row("journal OFF (reference, same writes)", off))
    print(_row("journal FULL (decision+state+intents)", full, off))


if __name__ == "__main__":
    main()

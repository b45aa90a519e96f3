"""The optimizer's wall time: 2 phases x TRIALS trials over 20 scored sessions.

Data: the synthetic market (seed 7, learnable component 0.2), rotation (12 symbols) and
PSM (4 symbols), windows 20 warm-up + 20 scored + 5 held-out sessions ending 2025-10-31,
written as CSV to a temporary directory. Each strategy is optimized several ways in the
same run, each with a fresh journal (so no study is reused):

* reference, plain: the backtest's own loop (:data:`optimize.simulator.REFERENCE`), every
  trial computing its signals (a cache of capacity 0 in effect: a fresh SignalCache per
  trial);
* reference + reuse: one SignalCache for the run (trials that change only decision knobs
  reuse the signals; those that share the EWRLS knobs, engine_core's prediction key,
  reuse its run through engine_core's recombine);
* compiled + reuse: the compiled decision-and-fill loop (:mod:`optimize.compiled_simulator`,
  the optimizer's default) with the cache;
* compiled + reuse + two workers: the same in two worker processes sharing the journal.

Every speed-up is against the plain reference of the same run; the wall time of rotation's
compiled rows is compared with the target (30 s for 2 x 50 trials). A micro-figure
first: minutes decided per second, reference vs compiled, over one run of the 20 scored
sessions on signals already computed (the default tuning, and the ported one, which
trades a lot).

``BENCH_OPTIMIZE_TRIALS`` (default 50) sets the trials per phase.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import date
from pathlib import Path

import optimize.study as study_mod
from common.calendar import ny_datetime, to_ms
from common.config import PSM_SYMBOLS, ROTATION_SYMBOLS, default_config_json
from mockmarket.synthetic import SyntheticConfig, write_market
from optimize.compiled_simulator import COMPILED
from optimize.run import OptimizeOptions, run_optimizer
from optimize.signal_cache import SignalCache
from optimize.simulator import REFERENCE, Simulator
from optimize.windows import WindowSpec

LAST = date(2025, 10, 31)
NOW = to_ms(ny_datetime(date(2025, 11, 3), "08:00"))
WINDOWS = WindowSpec(20, 20, 5)
TARGET_S = 30.0
"""Rotation's 2 x 50 trials on this 2-core machine (issue 11)."""

ROWS: dict[str, tuple[tuple[str, Simulator, bool, int], ...]] = {
    # (label, simulator, signal reuse, workers)
    "rotation": (
        ("reference, plain", REFERENCE, False, 1),
        ("reference + reuse", REFERENCE, True, 1),
        ("compiled + reuse", COMPILED, True, 1),
        ("compiled + reuse + 2 workers", COMPILED, True, 2),
    ),
    "psm": (
        ("reference, plain", REFERENCE, False, 1),
        ("reference + reuse", REFERENCE, True, 1),
        ("compiled + reuse", COMPILED, True, 1),
        ("compiled + reuse + 2 workers", COMPILED, True, 2),
    ),
}


class _NoReuse(SignalCache):
    """A cache that forgets: every trial computes its signals (the plain path)."""

    def get(self, oes):  # type: ignore[override]
        self._signals.clear()
        self._bases.clear()
        return super().get(oes)


def _run(root: Path, strategy: str, row: tuple[str, Simulator, bool, int],
         trials: int) -> tuple[float, object]:  # fmt: skip
    import json

    how, simulator, reuse, workers = row
    slug = "".join(c if c.isalnum() else "_" for c in how)
    cfg_dir = root / f"config_{strategy}_{slug}"
    cfg_dir.mkdir()
    (cfg_dir / f"{strategy}_strategy.json").write_text(json.dumps(default_config_json(strategy)))
    opts = OptimizeOptions(strategy, root / "data", cfg_dir, trials=trials, workers=workers,
                           storage=str(root / f"{strategy}_{slug}.log"), windows=WINDOWS,
                           progress=False, write=False, simulator=simulator)  # fmt: skip
    original = study_mod.SignalCache
    import optimize.run as run_mod

    if not reuse:
        run_mod.SignalCache = _NoReuse  # type: ignore[misc]
        study_mod.SignalCache = _NoReuse  # type: ignore[misc]
    try:
        t = time.perf_counter()
        out = run_optimizer(opts, now_ms=NOW)
        return time.perf_counter() - t, out
    finally:
        run_mod.SignalCache = original  # type: ignore[misc]
        study_mod.SignalCache = original  # type: ignore[misc]


def _minutes_per_second(root: Path) -> None:
    """One run of the 20 scored sessions on computed signals, reference vs compiled (rotation)."""
    import json

    from common.config import RotationStrategyConfig, original_config_json
    from optimize.dataset import load_dataset
    from optimize.windows import Windows

    cfg_dir = root / "config_micro"
    cfg_dir.mkdir()
    (cfg_dir / "rotation_strategy.json").write_text(json.dumps(default_config_json("rotation")))
    from common.calendar import nyse

    windows: Windows = WINDOWS.latest(nyse(), NOW)
    data = load_dataset("rotation", windows, root / "data", config_dir=cfg_dir)
    ks = data.windows.scored_index
    minutes = sum(len(data.grid.session_range(k)) for k in ks)
    tunings = (("default tuning", data.base),
               ("ported tuning", RotationStrategyConfig.model_validate(original_config_json("rotation"))))  # fmt: skip
    for name, cfg in tunings:
        signals = SignalCache(data.grid).get(cfg.oes_config)
        figures = {}
        for label, sim in (("reference", REFERENCE), ("compiled (cold)", COMPILED), ("compiled", COMPILED)):
            t = time.perf_counter()
            days = list(sim.days(cfg, data.grid, signals, ks, liquidity=data.liquidity, costs=data.costs))
            figures[label] = (time.perf_counter() - t, sum(d.trades for d in days))
        ref_s, compiled_s = figures["reference"][0], figures["compiled"][0]
        print(f"rotation  {name}: {len(ks)} sessions, {minutes} minutes, "
              f"{figures['reference'][1]} round trips: reference {minutes / ref_s:,.0f} minutes/s, "
              f"compiled {minutes / compiled_s:,.0f} minutes/s "
              f"({minutes / figures['compiled (cold)'][0]:,.0f} cold: first run, fill prices "
              f"not yet memoized), {ref_s / compiled_s:.0f}x")  # fmt: skip


def main() -> None:
    trials = int(os.environ.get("BENCH_OPTIMIZE_TRIALS", "50"))
    with tempfile.TemporaryDirectory(prefix="bench_optimize_") as tmp:
        root = Path(tmp)
        write_market(root / "data" / "equities", SyntheticConfig(
            seed=7, sessions=WINDOWS.total + 1, end_date=LAST, signal_strength=0.2,
            symbols=tuple(sorted(set(ROTATION_SYMBOLS) | set(PSM_SYMBOLS)))))  # fmt: skip
        _minutes_per_second(root)
        print(f"2 phases x {trials} trials, windows {WINDOWS.warmup}/{WINDOWS.scored}/{WINDOWS.held_out} "
              f"(warm-up/scored/held-out) to {LAST}")  # fmt: skip
        for strategy, rows in ROWS.items():
            times = {}
            for row in rows:
                how = row[0]
                times[how], out = _run(root, strategy, row, trials)
                st = out.cache_stats  # type: ignore[attr-defined]
                print(f"{strategy:9} {how:30} {times[how]:8.1f} s  signals computed {st.computed}, "
                      f"reused {st.hits} (parent process)")  # fmt: skip
            plain = times["reference, plain"]
            ups = ", ".join(f"{how} {plain / s:.2f}x" for how, s in times.items() if how != "reference, plain")
            print(f"{strategy:9} speed-up over the plain reference: {ups}")
            if strategy == "rotation":
                best = min((s, how) for how, s in times.items() if how.startswith("compiled"))
                verdict = "met" if best[0] <= TARGET_S else "missed"
                print(f"rotation  2 x {trials} trials: {best[0]:.1f} s ({best[1]}) against the target "
                      f"of {TARGET_S:.0f} s for 2 x 50: {verdict}"
                      f"{'' if trials == 50 else ' (not 50 trials: indicative only)'}")  # fmt: skip


if __name__ == "__main__":
    main()

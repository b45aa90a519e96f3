"""The optimizer's wall time: 2 phases x TRIALS trials over 20 scored sessions.

Data: the synthetic market (seed 7, learnable component 0.2), rotation (12 symbols) and
PSM (4 symbols), windows 20 warm-up + 20 scored + 5 held-out sessions ending 2025-10-31,
written as CSV to a temporary directory. Each strategy is optimized three ways in the
same run, each with a fresh journal (so no study is reused):

* plain: every trial computes its signals (a cache of capacity 0 in effect: a fresh
  SignalCache per trial);
* signal reuse: one SignalCache for the run (trials that change only decision knobs
  reuse the signals; those that share the EWRLS knobs, engine_core's prediction key,
  reuse its run through engine_core's recombine);
* two workers: signal reuse, two worker processes sharing the journal.

The compiled decision loop (the :class:`optimize.simulator.Simulator` seam) is the next
step: its speed-up is to be reported here against the reference simulator.

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
from optimize.run import OptimizeOptions, run_optimizer
from optimize.signal_cache import SignalCache
from optimize.windows import WindowSpec

LAST = date(2025, 10, 31)
NOW = to_ms(ny_datetime(date(2025, 11, 3), "08:00"))
WINDOWS = WindowSpec(20, 20, 5)


class _NoReuse(SignalCache):
    """A cache that forgets: every trial computes its signals (the plain path)."""

    def get(self, oes):  # type: ignore[override]
        self._signals.clear()
        self._bases.clear()
        return super().get(oes)


def _run(root: Path, strategy: str, how: str, trials: int) -> tuple[float, object]:
    import json

    cfg_dir = root / f"config_{strategy}_{how}"
    cfg_dir.mkdir()
    (cfg_dir / f"{strategy}_strategy.json").write_text(json.dumps(default_config_json(strategy)))
    workers = 2 if how == "two workers" else 1
    opts = OptimizeOptions(strategy, root / "data", cfg_dir, trials=trials, workers=workers,
                           storage=str(root / f"{strategy}_{how.replace(' ', '_')}.log"),
                           windows=WINDOWS, progress=False, write=False)  # fmt: skip
    original = study_mod.SignalCache
    import optimize.run as run_mod

    if how == "plain":
        run_mod.SignalCache = _NoReuse  # type: ignore[misc]
        study_mod.SignalCache = _NoReuse  # type: ignore[misc]
    try:
        t = time.perf_counter()
        out = run_optimizer(opts, now_ms=NOW)
        return time.perf_counter() - t, out
    finally:
        run_mod.SignalCache = original  # type: ignore[misc]
        study_mod.SignalCache = original  # type: ignore[misc]


def main() -> None:
    trials = int(os.environ.get("BENCH_OPTIMIZE_TRIALS", "50"))
    with tempfile.TemporaryDirectory(prefix="bench_optimize_") as tmp:
        root = Path(tmp)
        write_market(root / "data" / "equities", SyntheticConfig(
            seed=7, sessions=WINDOWS.total + 1, end_date=LAST, signal_strength=0.2,
            symbols=tuple(sorted(set(ROTATION_SYMBOLS) | set(PSM_SYMBOLS)))))  # fmt: skip
        print(f"2 phases x {trials} trials, windows {WINDOWS.warmup}/{WINDOWS.scored}/{WINDOWS.held_out} "
              f"(warm-up/scored/held-out) to {LAST}, reference simulator")  # fmt: skip
        for strategy in ("rotation", "psm"):
            times = {}
            for how in ("plain", "signal reuse", "two workers"):
                times[how], out = _run(root, strategy, how, trials)
                st = out.cache_stats  # type: ignore[attr-defined]
                print(f"{strategy:9} {how:13} {times[how]:8.1f} s  signals computed {st.computed}, "
                      f"reused {st.hits} (parent process)")  # fmt: skip
            print(f"{strategy:9} speed-up: signal reuse {times['plain'] / times['signal reuse']:.2f}x, "
                  f"two workers {times['signal reuse'] / times['two workers']:.2f}x over one, "
                  f"both {times['plain'] / times['two workers']:.2f}x over plain; compiled loop: "
                  f"not built yet (the Simulator seam)")  # fmt: skip


if __name__ == "__main__":
    main()

"""Throughput of engine_core's full per-bar path (features, three horizons, probability).

Data: a seeded random grid market, 12 symbols x 20 sessions x 390 minutes (93,600
symbol-bars), with overnight gaps and flat bars. Measured in one command, side by side:

* the Cython core through its batch entry (``run_batch``) and through its live per-bar
  entry (``Ensemble.update``, one call per minute for all 12 symbols);
* the pure-Python/numpy reference (``engine_core.reference``), on the first 2 sessions of
  the same data (it runs ~100x slower; its cost per bar is flat once features are ready);
* backtrader running an empty strategy over the same 12 x 7,800 bars (its bare loop);
* the step after the EWRLS alone (``recombine``: calibration, combination, probability
  over a stored run's per-horizon forecasts), the optimizer's path for every knob that
  leaves the predictions alone, and its speed-up over the full batch.

Then the EWRLS update alone (47 features, horizons 1/5/10, one bar of one symbol): ns per
update, useful FLOPs counted from the kernel (n = 47, not the padded 48), the achieved
GFLOP/s, and two yardsticks: the FP64 peak of one core from its clock and vector ISA,
and numpy's dgemm on this machine.
Rates are the best of a few repeats (the machine is shared).
"""

from __future__ import annotations

import os
import re
from datetime import date

import numpy as np

from bench.timing import best_of
from common.calendar import nyse

SYMBOLS = 12
SESSIONS = 20
REFERENCE_SESSIONS = 2
LAST_SESSION = date(2025, 10, 31)
N_FEATURES = 47
HORIZONS = (1, 5, 10)


def _market() -> tuple[list[np.ndarray], np.ndarray]:
    cal = nyse()
    sessions = cal.sessions_before(date.fromordinal(LAST_SESSION.toordinal() + 1), SESSIONS)
    t = np.array([m for s in sessions for m in s.minutes()], dtype=np.int64)
    rng = np.random.default_rng(20251031)
    n = len(t)
    r = 0.001 * rng.standard_t(5, (SYMBOLS, n)) / np.sqrt(5 / 3)
    r[:, np.r_[0, np.flatnonzero(np.diff(t) > 60_000) + 1]] += 0.01 * rng.standard_normal((SYMBOLS, 1))
    close = np.round(rng.uniform(10, 200, (SYMBOLS, 1)) * np.exp(np.cumsum(r, axis=1)), 2)
    flat = rng.random((SYMBOLS, n)) < 0.05
    flat[:, 0] = False
    for j in np.flatnonzero(flat.any(axis=0)):
        close[flat[:, j], j] = close[flat[:, j], j - 1]
    open_ = np.c_[close[:, :1], close[:, :-1]]
    wick = np.abs(rng.standard_normal((2, SYMBOLS, n))) * 0.0005 * close
    high = np.round(np.maximum(open_, close) + wick[0], 2)
    low = np.round(np.maximum(np.minimum(open_, close) - wick[1], 0.01), 2)
    high[flat], low[flat] = close[flat], close[flat]
    volume = np.where(flat, 0.0, rng.integers(100, 10_000, (SYMBOLS, n)).astype(float))
    return [open_, high, low, close, volume], t


def _cython_batch(bars, t) -> None:
    from engine_core import EnsembleParams, run_batch

    run_batch(EnsembleParams(), *bars, t)


def _cython_per_bar(bars, t) -> None:
    from engine_core import Ensemble, EnsembleParams

    ens = Ensemble(SYMBOLS, EnsembleParams())
    o, h, lo, c, v = (np.ascontiguousarray(a.T) for a in bars)  # minute-major rows
    for j in range(len(t)):
        ens.update(int(t[j]), o[j], h[j], lo[j], c[j], v[j])


def _recombine(bars, t, run) -> None:
    from engine_core import EnsembleParams, recombine

    recombine(EnsembleParams(), run, bars[0], bars[3], bars[4], t)


def _reference(bars, t) -> None:
    from engine_core import EnsembleParams
    from engine_core.reference import ReferenceEnsemble

    ReferenceEnsemble(SYMBOLS, EnsembleParams()).run(*bars, t)


def _backtrader(bars, t) -> None:
    import backtrader as bt
    import pandas as pd

    class Empty(bt.Strategy):
        def next(self) -> None:
            pass

    index = pd.to_datetime(t, unit="ms")
    cerebro = bt.Cerebro(stdstats=False)
    for i in range(SYMBOLS):
        frame = pd.DataFrame({"open": bars[0][i], "high": bars[1][i], "low": bars[2][i],
                              "close": bars[3][i], "volume": bars[4][i]}, index=index)
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, openinterest=None))
    cerebro.addstrategy(Empty)
    cerebro.run()


def ewrls_flops(n: int = N_FEATURES, n_h: int = len(HORIZONS), ring: int = max(HORIZONS)) -> int:
    """FLOPs of one EWRLS bar as implemented (ewrls.pyx), ridge on."""
    symv = 2 * n * n
    rank2 = 5 * n * n                  # P a - p p' - q q'
    dots = 2 * (2 * n)                 # x'u, x'x
    predictions = 2 * n * n_h          # theta_h'x
    walk_back = 2 * (2 * n) * ring + 6 * (ring - 1)   # k'x and (g w)'x per ring slot
    gains = 7 * n                      # k, ub, w, g w, w sqrt(g)
    learn = 6 * n * n_h                # residual, gain, ridge pseudo-observation
    return symv + rank2 + dots + predictions + walk_back + gains + learn


def _ewrls_ns_per_update() -> float:
    from engine_core import MultiHorizonEWRLS

    rng = np.random.default_rng(1)
    N = 40_000
    X = rng.standard_normal((N, N_FEATURES))
    C = 100 * np.exp(np.cumsum(0.001 * rng.standard_normal(N)))

    def run() -> None:
        MultiHorizonEWRLS(N_FEATURES, HORIZONS, 0.98, 0.1, 10.0).run(X, C)

    return best_of(run, 5)[0] / N * 1e9


def _core_peaks() -> tuple[float, float, float]:
    """(GHz, FP64 GFLOP/s of one core with AVX2+FMA, with AVX-512 or NaN): clock x 2 FMA
    units x lanes x 2. The kernels' fast clone uses AVX2+FMA."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return float("nan"), float("nan"), float("nan")
    mhz = [float(x) for x in re.findall(r"cpu MHz\s*:\s*([\d.]+)", info)]
    found = re.search(r"flags\s*:\s*(.*)", info)
    flags = set(found.group(1).split()) if found else set()
    ghz = max(mhz) / 1000 if mhz else float("nan")
    avx2 = ghz * 2 * 4 * 2 if {"avx2", "fma"} <= flags else float("nan")
    avx512 = ghz * 2 * 8 * 2 if "avx512f" in flags else float("nan")
    return ghz, avx2, avx512


def _dgemm_gflops() -> float:
    a = np.random.default_rng(2).standard_normal((768, 768))
    a @ a
    secs = best_of(lambda: a @ a, 5)[0]
    return 2 * 768**3 / secs / 1e9


def main() -> None:
    bars, t = _market()
    n_bars = SYMBOLS * len(t)
    ref_minutes = REFERENCE_SESSIONS * 390
    ref_bars = [a[:, :ref_minutes] for a in bars]

    rows = []
    batch = best_of(lambda: _cython_batch(bars, t), 3)[0]
    per_bar = best_of(lambda: _cython_per_bar(bars, t), 2)[0]
    reference = best_of(lambda: _reference(ref_bars, t[:ref_minutes]), 1)[0]
    backtrader = best_of(lambda: _backtrader(bars, t), 1)[0]
    ref_rate = SYMBOLS * ref_minutes / reference
    rows.append(("Cython core, batch (run_batch)", n_bars / batch))
    rows.append(("Cython core, per-bar (Ensemble.update)", n_bars / per_bar))
    rows.append((f"reference, pure Python/numpy ({REFERENCE_SESSIONS} sessions)", ref_rate))
    rows.append(("backtrader, empty strategy", n_bars / backtrader))
    from engine_core import EnsembleParams, run_batch

    stored = run_batch(EnsembleParams(), *bars, t)
    recombined = best_of(lambda: _recombine(bars, t, stored), 5)[0]
    rows.append(("step after the EWRLS alone (recombine)", n_bars / recombined))

    print(f"engine_core full per-bar path: {SYMBOLS} symbols x {SESSIONS} sessions x 390 minutes"
          f" = {n_bars:,} symbol-bars, {N_FEATURES} features, horizons {HORIZONS}")
    print(f"{'path':<52} {'symbol-bars/s':>14} {'vs reference':>13} {'vs backtrader':>14}")
    bt_rate = n_bars / backtrader
    for name, rate in rows:
        print(f"{name:<52} {rate:>14,.0f} {rate / ref_rate:>12.1f}x {rate / bt_rate:>13.1f}x")

    print(f"recombine (calibration + combination + probability over stored forecasts) is "
          f"{batch / recombined:.0f}x faster than the full batch")

    ns = _ewrls_ns_per_update()
    flops = ewrls_flops()
    gflops = flops / ns
    ghz, avx2, avx512 = _core_peaks()
    dgemm = _dgemm_gflops()
    print(f"\nEWRLS update ({N_FEATURES} features, horizons {HORIZONS}, ridge on, one symbol-bar): "
          f"{ns:,.0f} ns, {flops:,} FLOP -> {gflops:.1f} GFLOP/s")
    print(f"  one core at {ghz:.2f} GHz: FP64 peak {avx2:.1f} GFLOP/s with AVX2+FMA (the kernels' "
          f"clone) -> {100 * gflops / avx2:.0f}% of it; {avx512:.1f} with AVX-512")
    print(f"  numpy dgemm 768x768 on this machine ({os.cpu_count()} cores, BLAS threads "
          f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}): {dgemm:.1f} GFLOP/s")


if __name__ == "__main__":
    main()

"""The issue's "Done when" on the synthetic market, several seeds, small windows.

- From the shipped defaults (issue 10), which the phase spaces are centred on, with the
  learnable component off there is nothing to learn: the gate keeps the defaults and
  ``best_params.json`` is not written (PSM and rotation).
- From the ported system's tuning (``config/original/``), with the learnable component on,
  the optimized parameters beat their start on the held-out sessions, net of costs.

What is NOT tested, because it does not hold: from the shipped defaults with the learnable
component on, the optimized parameters do not reliably beat the defaults held-out. The
search finds in-sample gains (phase 2 mostly lowers ``calibration_z`` and
``calibration_lambda``, which bench.edge finds worth +0.25 %/day on PSM at signal 0.2,
paired t 2.0 over seeds 400-405), but on 10-20 scored sessions they are mostly noise: on
seeds 400-403 (signal 0.2, 30 trials a phase, 10 + 10 + 8 sessions) the candidate lost
to the defaults held-out on 3 of 4 seeds, and the gate kept the defaults on all 4. The
gate is not weakened to change that.

Both are judged on sessions no trial has seen (held-out), scored by the reference
backtest with the ledger's costs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optimize.run import OptimizeOptions, run_optimizer
from optimize.windows import WindowSpec

from .conftest import NOW_MS, SMALL, config_json, make_home

SEEDS = (1, 2, 3)
TRIALS = 8
SIGNAL = 0.25
DEFAULTS_WINDOWS = WindowSpec(8, 6, 5)
"""The defaults learn for ~25 sessions (lambda 0.9999) and ask for demonstrated skill before
trading: a few warm-up sessions more than :data:`SMALL` let them trade at all."""


def _optimize(root: Path, seed: int, signal: float, *, original: bool, windows: WindowSpec,
              strategy: str = "psm"):  # fmt: skip
    home = make_home(root, strategy, seed=seed, signal=signal, sessions=windows.total + 1,
                     config=config_json(strategy, original=original))  # fmt: skip
    opts = OptimizeOptions(strategy, home.data_dir, home.config_dir, trials=TRIALS,
                           windows=windows, seed=seed, progress=False)  # fmt: skip
    return home, run_optimizer(opts, now_ms=NOW_MS)


@pytest.mark.parametrize("seed", SEEDS)
def test_from_the_ported_tuning_the_optimized_set_beats_its_start_held_out(tmp_path, seed):
    _, out = _optimize(tmp_path, seed, SIGNAL, original=True, windows=SMALL)
    cand, cur = out.verdict.candidate, out.verdict.current
    assert cand.label == cur.label == "held-out"
    assert out.candidate != out.current
    assert cand.mrd_pct > cur.mrd_pct, (
        f"seed {seed}: held-out net %/day: optimized {cand.mrd_pct:+.4f} vs start {cur.mrd_pct:+.4f}"
    )


@pytest.mark.parametrize("strategy", ["psm", "rotation"])
@pytest.mark.parametrize("seed", SEEDS)
def test_from_the_defaults_without_the_signal_the_gate_keeps_them(tmp_path, seed, strategy):
    home, out = _optimize(tmp_path, seed, 0.0, original=False, windows=DEFAULTS_WINDOWS,
                          strategy=strategy)  # fmt: skip
    assert out.current == {}  # the shipped defaults, no best_params.json
    assert out.trials == 2 * TRIALS
    assert not out.promoted and not out.verdict.promote, out.verdict.headline()
    assert out.verdict.reasons  # it says why
    assert not (home.config_dir / "best_params.json").exists()

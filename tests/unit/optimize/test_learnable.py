"""The issue's "Done when" on the synthetic market, several seeds, tiny windows:

- with the learnable component on, the optimized parameters beat the parameters it starts
  from on the held-out sessions, net of costs;
- with it off there is nothing to learn: the gate keeps the current parameters and
  ``best_params.json`` is not written.

The start is the ported system's tuning (``config/original/``, what the issue's
"defaults" were when it was written), whose neighbourhood the phase spaces of
strategy-reference.md cover. The shipped defaults (issue 10: calibrated forecasts, a
cost gate on entries) lie outside those spaces (lambda 0.9999, regularization 10, ...):
started from them, no trial of these spaces beats them in-sample and the candidate is the
current set, so the gate keeps it.

Both are judged on sessions no trial has seen (held-out), scored by the reference
backtest with the ledger's costs. Small on purpose (8 trials a phase, 4 warm-up + 4 scored
+ 3 held-out sessions of PSM's 4 symbols) so ``make test`` stays fast; it still fails if
the optimizer's choice loses to its starting point out of sample, or if the gate promotes
noise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from optimize.run import OptimizeOptions, run_optimizer

from .conftest import NOW_MS, SMALL, config_json, make_home

SEEDS = (1, 2, 3)
TRIALS = 8
SIGNAL = 0.25


def _optimize(root: Path, seed: int, signal: float):
    home = make_home(root, "psm", seed=seed, signal=signal, sessions=SMALL.total + 1,
                     config=config_json("psm", original=True))  # fmt: skip
    opts = OptimizeOptions("psm", home.data_dir, home.config_dir, trials=TRIALS, windows=SMALL,
                           seed=seed, progress=False)  # fmt: skip
    return home, run_optimizer(opts, now_ms=NOW_MS)


@pytest.mark.parametrize("seed", SEEDS)
def test_with_the_learnable_component_the_optimized_set_beats_its_start_held_out(tmp_path, seed):
    _, out = _optimize(tmp_path, seed, SIGNAL)
    cand, cur = out.verdict.candidate, out.verdict.current
    assert cand.label == cur.label == "held-out"
    assert out.candidate != out.current
    assert cand.mrd_pct > cur.mrd_pct, (
        f"seed {seed}: held-out net %/day: optimized {cand.mrd_pct:+.4f} vs start {cur.mrd_pct:+.4f}"
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_without_it_the_gate_keeps_the_current_parameters(tmp_path, seed):
    home, out = _optimize(tmp_path, seed, 0.0)
    assert not out.promoted and not out.verdict.promote, out.verdict.headline()
    assert out.verdict.reasons  # it says why
    assert not (home.config_dir / "best_params.json").exists()

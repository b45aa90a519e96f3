"""What a batch run returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class BatchResult:
    """Outputs of ``Ensemble.run`` / ``run_batch`` for S symbols x N minutes.

    Where a symbol had no bar, or its features were not ready yet, prob is 0.5, rhat and
    conf are 0 and the per-horizon arrays are 0 (``ready`` is False there). Before the
    ensemble is warm (``warm`` False) prob is 0.5 and rhat/conf are 0, while the
    per-horizon predictions, confidences and calibrated predictions are already reported.
    """

    prob: np.ndarray
    """(S, N) probability of an up move, in [0.05, 0.95]."""
    rhat: np.ndarray
    """(S, N) combined predicted return."""
    conf: np.ndarray
    """(S, N) weighted mean confidence of the horizons, in (0, 1]."""
    preds: np.ndarray
    """(H, S, N) each horizon's predicted return."""
    confs: np.ndarray
    """(H, S, N) each horizon's confidence 1/(1 + sqrt(x'P_h x))."""
    ready: np.ndarray
    """(S, N) bool: features were ready (a model step was taken)."""
    warm: np.ndarray
    """(S, N) bool: the longest horizon had learned warmup_samples pairs."""
    cal_preds: np.ndarray
    """(H, S, N) each horizon's calibrated prediction, slope x prediction (the prediction
    itself when calibration is off): what the combination averages."""
    slopes: np.ndarray
    """(H, S, N) each horizon's calibration slope in use (1 when calibration is off)."""

"""The promotion gate: new parameters replace the current ones only if they also win on
sessions no trial has seen.

The candidate (the best of both phases, in-sample) and the current parameters (the
strategy file with ``best_params.json``, as the engine would trade them) are both scored
on the held-out sessions. The candidate is promoted only if, there:

1. it differs from the current parameters;
2. it trades (at least one round trip);
3. it makes money net of costs, and not by chance: its mean daily return is above 0 by at
   least ``min_t`` standard errors of its daily returns (a set that trades little on a
   market with nothing to learn can end a few sessions slightly up; that is no reason to
   change what the engine trades);
4. it beats the current parameters by at least ``margin_pct`` per day;
5. the paired daily differences are not noise: their mean is at least ``min_t`` standard
   errors above 0.

With one held-out session the two significance tests cannot be made and are skipped.

Otherwise the current parameters stay. The verdict lists every reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimize.objective import Score

DEFAULT_MARGIN_PCT = 0.01
"""Percent per day the candidate must gain on the held-out sessions."""
DEFAULT_MIN_T = 1.0


@dataclass(frozen=True)
class Verdict:
    promote: bool
    reasons: tuple[str, ...]
    candidate: Score
    current: Score
    margin_pct: float
    t_stat: float

    def headline(self) -> str:
        what = "PROMOTED: the new parameters replace the current ones" if self.promote else \
            "KEPT: the current parameters stay"  # fmt: skip
        return (f"gate: {what} (held-out: candidate {self.candidate.mrd_pct:+.4f} %/day, "
                f"current {self.current.mrd_pct:+.4f} %/day, margin {self.margin_pct:g})")  # fmt: skip


def paired_t(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """t of the mean of ``a - b`` (NaN with fewer than 2 pairs; ±inf with no variation)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if d.size < 2:
        return math.nan
    sd = float(np.std(d, ddof=1))
    mean = float(np.mean(d))
    if sd == 0.0:
        return math.inf if mean > 0 else (-math.inf if mean < 0 else 0.0)
    return mean / (sd / math.sqrt(d.size))


def judge(
    candidate_params: Mapping[str, Any],
    current_params: Mapping[str, Any],
    candidate: Score,
    current: Score,
    *,
    margin_pct: float = DEFAULT_MARGIN_PCT,
    min_t: float = DEFAULT_MIN_T,
) -> Verdict:
    """The gate's verdict on held-out scores (module docstring)."""
    if candidate.daily_pct and len(candidate.daily_pct) != len(current.daily_pct):
        raise ValueError("candidate and current must be scored on the same held-out sessions")
    t = paired_t(candidate.daily_pct, current.daily_pct)
    diff = candidate.mrd_pct - current.mrd_pct
    fails: list[str] = []
    passes: list[str] = []
    if dict(candidate_params) == dict(current_params):
        fails.append("the candidate is the current parameter set")
    if candidate.trades < 1:
        fails.append("the candidate makes no round trip on the held-out sessions")
    if not candidate.mrd_pct > 0:
        fails.append(f"the candidate loses money net of costs on the held-out sessions "
                     f"({candidate.mrd_pct:+.4f} %/day)")  # fmt: skip
    else:
        passes.append(f"the candidate makes {candidate.mrd_pct:+.4f} %/day net of costs, held-out")
        t0 = paired_t(candidate.daily_pct, (0.0,) * len(candidate.daily_pct))
        if not math.isnan(t0) and t0 < min_t:
            fails.append(f"the candidate's held-out profit is noise: t {t0:.2f} < {min_t:g} "
                         f"({candidate.mrd_pct:+.4f} %/day)")  # fmt: skip
    if not diff >= margin_pct:
        fails.append(f"held-out gain {diff:+.4f} %/day is below the margin {margin_pct:g}")
    else:
        passes.append(f"held-out gain {diff:+.4f} %/day >= margin {margin_pct:g}")
    if math.isnan(t):
        passes.append("one held-out session: no significance test")
    elif t < min_t:
        fails.append(f"the held-out gain is noise: paired t {t:.2f} < {min_t:g}")
    else:
        passes.append(f"paired t {t:.2f} >= {min_t:g}")
    promote = not fails
    return Verdict(promote, tuple(passes if promote else fails), candidate, current, margin_pct, t)


__all__ = ["DEFAULT_MARGIN_PCT", "DEFAULT_MIN_T", "Verdict", "judge", "paired_t"]

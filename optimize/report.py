"""What the operator sees: a progress bar while trials run, then the best trials and the
gate's verdict. Every score is labelled in-sample (the scored sessions trials were chosen
on) or held-out (the sessions only the gate looks at).

Tables are rendered with rich to plain text and go through ``logging`` (the launcher's
console and its log file both get them); the progress bar is drawn on a terminal only,
and the log gets a line every ``LOG_EVERY`` trials instead.
"""

from __future__ import annotations

import io
import logging
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from optimize.gate import Verdict
from optimize.objective import Score

log = logging.getLogger("optimize")

LOG_EVERY = 10
TABLE_WIDTH = 150


@dataclass(frozen=True)
class TrialRow:
    """One of the best trials, with its backtest figures over the scored sessions."""

    phase: int
    number: int
    score: float
    """The objective (in-sample)."""
    mrd_pct: float
    trades: int
    params: dict[str, Any]
    turnover: float = math.nan
    costs: float = math.nan
    cost_share: float = math.nan
    ic_prob: float = math.nan
    ic_horizon: int = 0


class TrialProgress:
    """A rich progress bar (terminal only) plus a log line every ``LOG_EVERY`` trials."""

    def __init__(self, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = sys.stdout.isatty()
        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("best in-sample {task.fields[best]}"), TimeElapsedColumn(),
            disable=not enabled, transient=False,
        )  # fmt: skip
        self._tasks: dict[str, Any] = {}
        self._logged: dict[str, int] = {}

    def __enter__(self) -> TrialProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, label: str, finished: int, total: int, best: float | None) -> None:
        shown = "-" if best is None else f"{best:+.4f} %/day"
        if label not in self._tasks:
            self._tasks[label] = self.progress.add_task(label, total=total, best=shown)
        self.progress.update(self._tasks[label], completed=min(finished, total), best=shown)
        last = self._logged.get(label, 0)
        if finished >= total or finished - last >= LOG_EVERY:
            self._logged[label] = finished
            log.info("%s: %d/%d trials, best in-sample %s", label, finished, total, shown)


def render(table: Table) -> list[str]:
    buf = io.StringIO()
    Console(file=buf, width=TABLE_WIDTH, force_terminal=False, color_system=None).print(table)
    return buf.getvalue().rstrip("\n").splitlines()


def _f(x: float, fmt: str) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def short_params(params: dict[str, Any], keys: Sequence[str] | None = None) -> str:
    out = []
    for k, v in params.items():
        if keys is not None and k not in keys:
            continue
        name = k.split(".")[-1]
        if isinstance(v, list):
            out.append(f"{name}=[{', '.join(f'{x:g}' for x in v)}]")
        elif isinstance(v, float):
            out.append(f"{name}={v:g}")
        else:
            out.append(f"{name}={v}")
    return " ".join(out)


def best_trials_table(rows: Sequence[TrialRow], sessions: int) -> list[str]:
    t = Table(title=f"Best trials (in-sample: {sessions} scored sessions, net of costs)")
    for col in ("phase", "trial", "score in-sample %/day", "MRD in-sample %", "trades",
                "turnover x/day", "costs $", "costs/gross", "IC prob", "parameters"):  # fmt: skip
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(
            str(r.phase), str(r.number), _f(r.score, "+.4f"), _f(r.mrd_pct, "+.4f"),
            str(r.trades), _f(r.turnover, ".2f"), _f(r.costs, ",.2f"), _f(r.cost_share, ".0%"),
            f"{_f(r.ic_prob, '+.3f')} @{r.ic_horizon}m" if r.ic_horizon else "-",
            short_params(r.params),
        )  # fmt: skip
    return render(t)


def verdict_table(verdict: Verdict, cand_in: Score, cur_in: Score) -> list[str]:
    t = Table(title="Promotion gate: candidate vs current parameters")
    for col in ("parameters", "in-sample %/day", "in-sample trades", "held-out %/day",
                "held-out trades"):  # fmt: skip
        t.add_column(col)
    for name, i, h in (("candidate", cand_in, verdict.candidate), ("current", cur_in, verdict.current)):
        t.add_row(name, _f(i.mrd_pct, "+.4f"), str(i.trades), _f(h.mrd_pct, "+.4f"), str(h.trades))
    return [*render(t), verdict.headline(), *(f"  - {r}" for r in verdict.reasons)]


def emit(lines: Sequence[str]) -> None:
    for line in lines:
        log.info("%s", line)


__all__ = ["TrialProgress", "TrialRow", "best_trials_table", "emit", "render", "short_params",
           "verdict_table"]  # fmt: skip

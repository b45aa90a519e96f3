"""One optimization, start to finish: the windows, phase 1, phase 2, the gate, the file.

1. the walk-forward windows ending with the last session closed at ``now_ms``, or with
   today's partial session (``today``: the midday re-optimization) (:mod:`optimize.windows`),
   and their data (:mod:`optimize.dataset`);
2. the current parameters: the strategy file with ``best_params.json``, as the engine
   would trade them;
3. phase 1 from the current parameters, phase 2 from phase 1's best (:mod:`optimize.study`);
   the candidate is the best (in-sample) of the two phases' best trials and the current set
   itself (so a run that finds nothing better in-sample proposes no change);
4. both sets scored in-sample and held-out; the gate decides (:mod:`optimize.gate`);
5. if promoted, ``best_params.json`` is rewritten with provenance (:mod:`optimize.best_params`);
6. the report: the best trials with their diagnostics, the gate's verdict (:mod:`optimize.report`);
7. the run is recorded, whatever the verdict (:mod:`optimize.last_run`).

With ``budget_s`` the trials are time-boxed: phase 1 may use half the budget, phase 2 what
is left; then the gate judges the best trial found (scoring both sets takes seconds more).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna

from common.calendar import MINUTE_MS, TradingCalendar, from_ms, nyse
from engine.backtest import simulate
from optimize.best_params import best_params_path, current_params, provenance, write_best_params
from optimize.compiled_simulator import COMPILED
from optimize.dataset import Dataset, load_dataset
from optimize.gate import DEFAULT_MARGIN_PCT, Verdict, judge
from optimize.last_run import LastRun, write_last_run
from optimize.objective import HELD_OUT, IN_SAMPLE, Score, score
from optimize.report import TrialProgress, TrialRow, best_trials_table, emit, verdict_table
from optimize.signal_cache import SignalCache
from optimize.simulator import Simulator
from optimize.spaces import check_horizons, phases
from optimize.storage import default_storage, describe
from optimize.study import PhaseJob, best_trial, finished_trials, run_phase, study_name
from optimize.windows import DEFAULT_WINDOWS, Windows, WindowSpec

log = logging.getLogger("optimize")

DEFAULT_TRIALS = 50
DEFAULT_SEED = 42
TOP_TRIALS = 3


@dataclass(frozen=True)
class OptimizeOptions:
    strategy: str = "rotation"
    data_dir: Path = Path("data")
    config_dir: Path = Path("config")
    trials: int = DEFAULT_TRIALS
    """Trials per phase."""
    seed: int = DEFAULT_SEED
    workers: int = 1
    storage: str | None = None
    """A database URL or a journal file [default: <data_dir>/optuna/journal.log]."""
    windows: WindowSpec = DEFAULT_WINDOWS
    margin_pct: float = DEFAULT_MARGIN_PCT
    write: bool = True
    """Write best_params.json when the gate promotes (False: report only)."""
    progress: bool | None = None
    """Draw the progress bar (None: on a terminal)."""
    simulator: Simulator = field(default=COMPILED)
    """What decides and fills a trial's sessions: the compiled loop (``optimize.compiled_simulator``,
    which hands what it does not model to the reference); ``optimize.simulator.REFERENCE``
    runs the backtest's own loop instead."""
    today: bool = False
    """End the windows with today's partial session (its bars in ``tmp/todays_bars/``) when a
    session is open at ``now_ms``: the midday re-optimization (:mod:`optimize.windows`)."""
    budget_s: float | None = None
    """Wall seconds the trials may take (None: no limit); see the module docstring."""
    params_file: Path | None = None
    """The parameters file read and written [default: <config_dir>/best_params.json]."""

    def __post_init__(self) -> None:
        if self.trials < 1 or self.workers < 1:
            raise ValueError(f"trials={self.trials} and workers={self.workers} must be >= 1")
        if self.budget_s is not None and not self.budget_s >= 0:
            raise ValueError(f"budget_s={self.budget_s} must be >= 0 seconds")

    @property
    def storage_spec(self) -> str:
        return self.storage or default_storage(self.data_dir)


@dataclass(frozen=True)
class Outcome:
    promoted: bool
    verdict: Verdict
    windows: Windows
    trials: int
    """Trials finished over both phases (fewer than asked when time-boxed)."""
    candidate: dict[str, Any]
    current: dict[str, Any]
    candidate_in_sample: Score
    current_in_sample: Score
    best: tuple[TrialRow, ...]
    params_path: Path
    studies: tuple[str, ...]
    cache_stats: Any


def _top_rows(data: Dataset, cache: SignalCache, studies: list[tuple[int, optuna.Study]]) -> list[TrialRow]:
    done = [(no, t) for no, st in studies
            for t in st.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]  # fmt: skip
    done.sort(key=lambda x: (-(x[1].value or 0.0), x[0], x[1].number))
    rows = []
    for no, t in done[:TOP_TRIALS]:
        params = dict(t.user_attrs.get("params", {}))
        cfg = data.config(params)
        res = simulate(cfg, data.grid, cache.get(cfg.oes_config), data.windows.scored_index,
                       liquidity=data.liquidity, costs=data.costs, diagnostics=True)  # fmt: skip
        (summary,) = res.summaries()
        diag = res.diagnostics[0] if res.diagnostics else None
        ic = diag.by_name("prob", diag.horizon).pooled.pearson if diag else float("nan")
        rows.append(TrialRow(no, t.number, float(t.value), float(t.user_attrs.get("mrd_pct", 0.0)),
                             int(t.user_attrs.get("trades", 0)), params, summary.turnover,
                             summary.costs.total, summary.cost_share, ic,
                             diag.horizon if diag else 0))  # fmt: skip
    return rows


def run_optimizer(
    opts: OptimizeOptions,
    *,
    now_ms: int,
    calendar: TradingCalendar | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Outcome:
    """Optimize ``opts.strategy`` on the sessions closed at ``now_ms`` (module docstring)."""
    cal = calendar or nyse()
    started = time.time()
    config_path = opts.config_dir / f"{opts.strategy}_strategy.json"
    data = load_dataset(opts.strategy, opts.windows.latest(cal, now_ms, today=opts.today), opts.data_dir,
                        config_path=config_path, calendar=cal)  # fmt: skip
    windows = data.windows  # today's session cut after its last bar, when partial
    params_path = opts.params_file or best_params_path(opts.config_dir)
    current = current_params(params_path, opts.strategy)
    data.config(current, str(params_path))  # the current set must load (ConfigError names the key)
    for ph in phases(opts.strategy):
        check_horizons(data.base, ph)
    cache = SignalCache(data.grid)
    storage = opts.storage_spec
    log.info("optimizing %s: %d trials per phase, seed %d, %d worker(s), storage %s",
             opts.strategy, opts.trials, opts.seed, opts.workers, describe(storage))  # fmt: skip
    log.info("windows: %s", windows.describe())
    if opts.budget_s is not None:
        log.info("trials time-boxed: %g s in all (phase 1 up to half)", opts.budget_s)
    n_phases = len(phases(opts.strategy))
    start = dict(current)
    top: tuple[float, dict[str, Any]] | None = None  # the best trial of either phase
    studies: list[tuple[int, optuna.Study]] = []
    with TrialProgress(opts.progress) as bar:
        for no, phase in enumerate(phases(opts.strategy), start=1):
            skipped = phase.skipped(data.config(start))
            if skipped:
                log.info("phase %d: not searching %s (%s)", no, ", ".join(r.key for r in skipped),
                         "; ".join(sorted({str(r.when) + ' is false' for r in skipped})))  # fmt: skip
            name = study_name(data, no, start, opts.seed)
            job = PhaseJob(opts.strategy, opts.data_dir, config_path, windows, storage, name, no,
                           start, opts.seed, opts.simulator,
                           _phase_deadline(started, opts.budget_s, no, n_phases))  # fmt: skip
            label = f"phase {no}/{n_phases}"

            def progress(st: optuna.Study, n: int, label: str = label) -> None:
                b = best_trial(st)
                bar.update(label, n, opts.trials, None if b is None else float(b.value))

            study = run_phase(job, data, cache, trials=opts.trials, workers=opts.workers,
                              on_progress=progress)  # fmt: skip
            studies.append((no, study))
            best = best_trial(study)
            if best is None:
                then = (f"phase {no + 1} starts from the same parameters" if no < n_phases
                        else "the candidate is the best of the phases before")  # fmt: skip
                log.warning("phase %d: no trial completed (all pruned, infeasible or out of time): %s",
                            no, then)  # fmt: skip
            else:
                start = dict(best.user_attrs["params"])
                if top is None or float(best.value) > top[0]:
                    top = (float(best.value), start)
    ins, held = windows.scored_index, windows.held_out_index
    cur_cfg = data.config(current, str(params_path))
    cur_ins = score(cur_cfg, data, cache, ins, label=IN_SAMPLE, simulator=opts.simulator)
    if top is not None and not top[0] > cur_ins.value:
        log.info("no trial beats the current parameters in-sample (best %+.4f, current %+.4f "
                 "%%/day): the candidate is the current set", top[0], cur_ins.value)  # fmt: skip
    candidate = top[1] if top is not None and top[0] > cur_ins.value else current
    cand_cfg = data.config(candidate)
    sc = {
        (who, label): score(cfg, data, cache, ks, label=label, simulator=opts.simulator)
        for who, cfg in (("candidate", cand_cfg), ("current", cur_cfg))
        for label, ks in ((IN_SAMPLE, ins), (HELD_OUT, held))
        if (who, label) != ("current", IN_SAMPLE)
    }
    sc["current", IN_SAMPLE] = cur_ins
    verdict = judge(candidate, current, sc["candidate", HELD_OUT], sc["current", HELD_OUT],
                    margin_pct=opts.margin_pct)  # fmt: skip
    rows = _top_rows(data, cache, studies)
    emit(best_trials_table(rows, len(windows.scored)))
    emit(verdict_table(verdict, sc["candidate", IN_SAMPLE], sc["current", IN_SAMPLE]))
    trials_run = sum(len(finished_trials(st)) for _, st in studies)
    if verdict.promote and opts.write:
        prov = provenance(
            data_start=windows.scored[0].date, data_end=windows.last.date,
            partial_end=_partial_end(windows), held_out_start=windows.held_out[0].date,
            trials=max(1, trials_run),
            in_sample=sc["candidate", IN_SAMPLE].value, held_out=sc["candidate", HELD_OUT].value,
            baseline_in_sample=sc["current", IN_SAMPLE].value,
            baseline_held_out=sc["current", HELD_OUT].value, sessions_scored=len(windows.scored),
            sessions_held_out=len(windows.held_out), seed=opts.seed, now=clock(),
        )  # fmt: skip
        write_best_params(params_path, opts.strategy, candidate, prov)
        log.info("wrote %s (%s): the engine trades these parameters from its next start",
                 params_path, opts.strategy)  # fmt: skip
    elif verdict.promote:
        log.info("not writing %s (report only)", params_path)
    log.info("signals: %d computed, %d reused, %d recombined over %d requests",
             cache.stats.computed, cache.stats.hits, cache.stats.recombined, cache.stats.requests)  # fmt: skip
    if opts.write:
        write_last_run(opts.data_dir, opts.strategy, LastRun(
            data_end=windows.last.date, partial_end=_partial_end(windows), trials=trials_run,
            verdict="promoted" if verdict.promote else "kept", finished_at=clock(),
        ))  # fmt: skip
    return Outcome(verdict.promote and opts.write, verdict, windows, trials_run, candidate, current,
                   sc["candidate", IN_SAMPLE], sc["current", IN_SAMPLE], tuple(rows), params_path,
                   tuple(s.study_name for _, s in studies), cache.stats)  # fmt: skip


def _phase_deadline(started: float, budget_s: float | None, phase_no: int, n_phases: int) -> float | None:
    """Phase ``phase_no``'s share of the budget: phase 1 may use 1/n of it, the last what is left."""
    if budget_s is None:
        return None
    return started + budget_s * phase_no / n_phases


def _partial_end(windows: Windows) -> datetime | None:
    """The last minute of today's partial session (New York time), if the windows end with one."""
    if not windows.partial:
        return None
    return from_ms(windows.last.close_ms - MINUTE_MS)


__all__ = ["DEFAULT_SEED", "DEFAULT_TRIALS", "OptimizeOptions", "Outcome", "run_optimizer"]

"""One phase as an Optuna study: seeded TPE, a median pruner, worker processes sharing storage.

- **Sampler**: TPE with a fixed seed (worker ``i`` seeds ``seed + i``): one worker is
  reproducible to the last trial; several share the study through the storage, each
  sampling from every finished trial.
- **Pruner**: the median pruner, fed one intermediate value per scored session (the
  running mean daily return): a trial below the median of earlier trials at the same
  session is stopped, after ``PRUNER_STARTUP_TRIALS`` trials and a quarter of the sessions.
- **Workers**: ``workers`` processes (``spawn``: nothing inherited but the job), each
  loading the data itself, each running its share of the trials against the one storage.
  One worker runs in this process.
- **The start first**: a new study's first trial is the parameters the phase starts from
  (the ones its space can express), so a phase never ends knowing less than its start.
- **Resumable**: the study's name (:func:`study_name`) says what it optimizes: strategy,
  data range (ending with today's last minute when today's partial session is in it),
  phase, seed and a digest of the strategy file, the phase's starting parameters and the
  windows. A run killed half-way and started again on the same data finds its study and
  runs only the trials still missing; a finished phase is not rerun.
- **Time-boxed** (``deadline``): no trial starts after it, in any worker (the ones running
  finish); the phase's study then holds fewer trials, which a later run on the same data
  completes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from optimize.compiled_simulator import COMPILED
from optimize.dataset import Dataset, load_dataset
from optimize.objective import Objective
from optimize.signal_cache import SignalCache
from optimize.simulator import Simulator
from optimize.spaces import phases
from optimize.storage import open_storage, quiet_optuna
from optimize.windows import Windows

log = logging.getLogger(__name__)

PRUNER_STARTUP_TRIALS = 5
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
POLL_S = 0.25


def make_sampler(seed: int) -> optuna.samplers.TPESampler:
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(scored_sessions: int) -> optuna.pruners.MedianPruner:
    return optuna.pruners.MedianPruner(
        n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=max(0, scored_sessions // 4 - 1)
    )


def study_name(data: Dataset, phase_no: int, start: Mapping[str, Any], seed: int) -> str:
    w = data.windows
    digest = hashlib.sha256(json.dumps(
        {"config": data.config_json, "start": dict(start),
         "windows": [len(w.warmup), len(w.scored), len(w.held_out)], "end": w.end_label()},
        sort_keys=True).encode()).hexdigest()[:10]  # fmt: skip
    return (f"{data.strategy}-{w.sessions[0].date}-{w.end_label()}-phase{phase_no}"
            f"-seed{seed}-{digest}")  # fmt: skip


@dataclass(frozen=True)
class PhaseJob:
    """Everything a worker process needs (picklable)."""

    strategy: str
    data_dir: Path
    config_path: Path
    windows: Windows
    storage: str
    name: str
    phase_no: int
    start: dict[str, Any]
    seed: int
    simulator: Simulator = field(default=COMPILED)
    deadline: float | None = None
    """Wall-clock time (``time.time()``) after which no trial starts (None: no limit)."""

    def seconds_left(self) -> float | None:
        return None if self.deadline is None else max(0.0, self.deadline - time.time())


def _split(trials: int, workers: int) -> list[int]:
    return [trials // workers + (1 if i < trials % workers else 0) for i in range(workers)]


def _optimize(job: PhaseJob, data: Dataset, cache: SignalCache, worker: int, n_trials: int,
              callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] | None = None) -> None:  # fmt: skip
    phase = phases(job.strategy)[job.phase_no - 1]
    objective = Objective(data, phase, job.start, cache, simulator=job.simulator)
    study = optuna.load_study(study_name=job.name, storage=open_storage(job.storage),
                              sampler=make_sampler(job.seed + worker),
                              pruner=make_pruner(len(data.windows.scored)))  # fmt: skip
    left = job.seconds_left()
    if left == 0.0:
        return
    study.optimize(objective, n_trials=n_trials, timeout=left, callbacks=callbacks or [],
                   gc_after_trial=False)  # fmt: skip


def _worker(job: PhaseJob, worker: int, n_trials: int) -> None:
    """A worker process: load the data, run ``n_trials`` trials of the shared study."""
    quiet_optuna()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    data = load_dataset(job.strategy, job.windows, job.data_dir, config_path=job.config_path)
    _optimize(job, data, SignalCache(data.grid), worker, n_trials)


def finished_trials(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=FINISHED)


class WorkerFailed(RuntimeError):
    pass


def run_phase(
    job: PhaseJob,
    data: Dataset,
    cache: SignalCache,
    *,
    trials: int,
    workers: int = 1,
    on_progress: Callable[[optuna.Study, int], None] | None = None,
) -> optuna.Study:
    """Run the phase's study to ``trials`` finished trials (fewer if some already are).

    ``on_progress(study, finished)`` is called after each trial (one worker) or whenever the
    count moves (several).
    """
    if trials < 1 or workers < 1:
        raise ValueError(f"trials={trials} and workers={workers} must be >= 1")
    quiet_optuna()
    study = optuna.create_study(study_name=job.name, storage=open_storage(job.storage),
                                direction="maximize", load_if_exists=True,
                                sampler=make_sampler(job.seed),
                                pruner=make_pruner(len(data.windows.scored)))  # fmt: skip
    if not study.get_trials(deepcopy=False):
        # the phase's start is its first trial: TPE knows what it has to beat (spaces.py)
        phase = phases(job.strategy)[job.phase_no - 1]
        study.enqueue_trial(phase.start_values(data.config(job.start, "<phase start>")))
    done = len(finished_trials(study))
    remaining = trials - done
    if done:
        log.info("study %s: %d trial(s) already finished, %d to run", job.name, done, max(0, remaining))
    if remaining <= 0 or job.seconds_left() == 0.0:
        if remaining > 0:
            log.warning("study %s: no time left for its %d missing trial(s)", job.name, remaining)
        if on_progress:
            on_progress(study, done)
        return study
    if workers == 1:
        def cb(st: optuna.Study, _t: FrozenTrial) -> None:
            if on_progress:
                on_progress(st, len(finished_trials(st)))

        _optimize(job, data, cache, 0, remaining, [cb])
        return study
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(job, i, n), name=f"optimize-worker-{i}", daemon=True)
             for i, n in enumerate(_split(remaining, workers)) if n > 0]  # fmt: skip
    for p in procs:
        p.start()
    seen = -1
    try:
        while any(p.is_alive() for p in procs):
            n = len(finished_trials(study))
            if n != seen and on_progress:
                on_progress(study, n)
            seen = n
            time.sleep(POLL_S)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join()
    bad = [f"{p.name} exit code {p.exitcode}" for p in procs if p.exitcode != 0]
    if bad:
        raise WorkerFailed(f"optimizer worker(s) failed: {', '.join(bad)}")
    if on_progress:
        on_progress(study, len(finished_trials(study)))
    return study


def best_trial(study: optuna.Study) -> FrozenTrial | None:
    """The best complete trial, or None if none completed (all pruned or infeasible)."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return max(done, key=lambda t: (t.value, -t.number)) if done else None


__all__ = ["PhaseJob", "WorkerFailed", "best_trial", "finished_trials", "make_pruner",
           "make_sampler", "run_phase", "study_name"]  # fmt: skip

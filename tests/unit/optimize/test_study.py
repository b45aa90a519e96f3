"""Studies: seeded, resumable, shared by worker processes through the journal file."""

from __future__ import annotations

from optimize.run import OptimizeOptions, run_optimizer
from optimize.signal_cache import SignalCache
from optimize.storage import default_storage, describe
from optimize.study import PhaseJob, finished_trials, run_phase, study_name

from .conftest import NOW_MS, SMALL, Home


def _job(home: Home, storage: str, seed: int = 1) -> tuple[PhaseJob, object]:
    data = home.dataset()
    name = study_name(data, 1, {}, seed)
    return PhaseJob("psm", home.data_dir, home.config_dir / "psm_strategy.json", data.windows,
                    storage, name, 1, {}, seed), data  # fmt: skip


def test_a_seed_gives_the_same_trials_and_a_finished_phase_is_not_rerun(psm_market: Home, tmp_path):
    runs = []
    for k in range(2):
        job, data = _job(psm_market, str(tmp_path / f"j{k}.log"))
        study = run_phase(job, data, SignalCache(data.grid), trials=6)
        runs.append([(t.params, t.state, t.value) for t in finished_trials(study)])
    assert runs[0] == runs[1] and len(runs[0]) == 6
    again = run_phase(job, data, SignalCache(data.grid), trials=6)  # same storage, same name
    assert len(finished_trials(again)) == 6


def test_two_worker_processes_share_one_journal(psm_market: Home, tmp_path):
    job, data = _job(psm_market, str(tmp_path / "shared.log"))
    seen = []
    study = run_phase(job, data, SignalCache(data.grid), trials=6, workers=2,
                      on_progress=lambda st, n: seen.append(n))  # fmt: skip
    assert len(finished_trials(study)) == 6 and seen[-1] == 6
    assert len({t.number for t in finished_trials(study)}) == 6


def test_the_default_storage_is_a_journal_under_data_optuna(tmp_path):
    assert default_storage("data") == "data/optuna/journal.log"
    assert default_storage("data/mock") == "data/mock/optuna/journal.log"
    assert describe("postgresql://me:hunter2@127.0.0.1:5432/db") == "postgresql://me:***@127.0.0.1:5432/db"


def test_a_whole_run_reports_and_writes_only_through_the_gate(psm_market: Home, home_copy, caplog):
    home = home_copy(psm_market)
    opts = OptimizeOptions("psm", home.data_dir, home.config_dir, trials=4, windows=SMALL, progress=False)
    with caplog.at_level("INFO", logger="optimize"):
        out = run_optimizer(opts, now_ms=NOW_MS)
    text = caplog.text
    assert "Best trials (in-sample" in text and "held-out %/day" in text and "gate: " in text
    assert len(out.studies) == 2 and (home.data_dir / "optuna" / "journal.log").exists()
    assert (home.config_dir / "best_params.json").exists() == out.promoted
    # the current set competes: the candidate is never worse in-sample, and is the current
    # set itself when no trial beats it
    assert out.candidate_in_sample.value >= out.current_in_sample.value
    assert (out.candidate == out.current) or out.candidate_in_sample.value > out.current_in_sample.value

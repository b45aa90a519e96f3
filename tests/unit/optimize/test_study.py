"""Studies: seeded, resumable, shared by worker processes through the journal file."""

from __future__ import annotations

from optimize.run import OptimizeOptions, run_optimizer
from optimize.signal_cache import SignalCache
from optimize.storage import default_storage, describe
from optimize.study import PhaseJob, best_trial, finished_trials, run_phase, study_name

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


def _phase_job(data, home: Home, storage: str, no: int, start: dict, seed: int = 1) -> PhaseJob:
    return PhaseJob("psm", home.data_dir, home.config_dir / "psm_strategy.json", data.windows,
                    storage, study_name(data, no, start, seed), no, start, seed)  # fmt: skip


def test_phase_2_is_served_by_one_ewrls_run_of_phase_1s_best(psm_market: Home, tmp_path):
    data = psm_market.dataset()
    storage = str(tmp_path / "j.log")
    p1_cache = SignalCache(data.grid)
    p1 = run_phase(_phase_job(data, psm_market, storage, 1, {}), data, p1_cache, trials=12)
    assert p1_cache.stats.computed > 1  # phase 1 searches the EWRLS knobs
    start = dict(best_trial(p1).user_attrs["params"])
    cache = SignalCache(data.grid)  # nothing of phase 1's runs kept
    p2 = run_phase(_phase_job(data, psm_market, storage, 2, start), data, cache, trials=12)
    assert len(finished_trials(p2)) == 12
    assert cache.stats.computed == 1, cache.stats  # every trial recombined from one run
    assert cache.stats.recombined >= 2


def test_a_new_study_runs_its_start_first(psm_market: Home, tmp_path):
    data = psm_market.dataset()
    start = {"oes_config.calibration_z": 0.3}
    study = run_phase(_phase_job(data, psm_market, str(tmp_path / "j.log"), 2, start), data,
                      SignalCache(data.grid), trials=3)  # fmt: skip
    first = min(finished_trials(study), key=lambda t: t.number)
    cfg = data.config(start)
    assert first.params["calibration_z"] == 0.3
    assert first.params["entry_cost_margin"] == cfg.oes_config.entry_cost_margin
    assert [first.params["w_h1"], first.params["w_h5"]] == list(cfg.oes_config.horizon_weights[:2])
    assert first.user_attrs["params"]["oes_config.calibration_z"] == 0.3

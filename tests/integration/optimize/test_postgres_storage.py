"""Two optimizer worker processes share one study on a real PostgreSQL server (loopback)."""

from __future__ import annotations

from pathlib import Path

import optuna

from optimize.run import OptimizeOptions, run_optimizer
from optimize.storage import open_storage
from tests.support.postgres import postgres_server
from tests.unit.optimize.conftest import NOW_MS, SMALL, make_home


def test_two_workers_share_one_postgresql_study(tmp_path: Path):
    home = make_home(tmp_path / "home", "psm", seed=3, signal=0.25)
    with postgres_server() as url:
        opts = OptimizeOptions("psm", home.data_dir, home.config_dir, trials=6, workers=2,
                               storage=url, windows=SMALL, progress=False)  # fmt: skip
        out = run_optimizer(opts, now_ms=NOW_MS)
        storage = open_storage(url)
        for name in out.studies:
            study = optuna.load_study(study_name=name, storage=storage)
            trials = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,
                                              optuna.trial.TrialState.PRUNED))  # fmt: skip
            assert len(trials) == 6, name
            # both workers wrote trials: their samplers are seeded apart, so params differ
            assert len({tuple(sorted(t.params.items())) for t in trials}) == 6
        assert not (home.data_dir / "optuna" / "journal.log").exists()  # nothing went to the default journal

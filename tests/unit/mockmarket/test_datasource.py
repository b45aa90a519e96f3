from __future__ import annotations

import json
from datetime import date

import pytest

from common.csvfiles import history_path, history_symbols
from mockmarket import datasource
from mockmarket.datasource import MARKER, ensure_synthetic, last_session_before, prepare_store
from mockmarket.synthetic import ALL_SYMBOLS


def test_last_session_before():
    assert last_session_before(date(2025, 10, 20)) == date(2025, 10, 17)  # Monday -> Friday
    assert last_session_before(date(2025, 11, 28)) == date(2025, 11, 26)  # Thanksgiving in between


def test_ensure_synthetic_writes_then_reuses(tmp_path, monkeypatch):
    d = tmp_path / "syn"
    assert ensure_synthetic(d, seed=1, sessions=2, end_date=date(2025, 10, 16)) == date(
        2025, 10, 16
    )
    assert history_symbols(d) == sorted(ALL_SYMBOLS)
    assert json.loads((d / MARKER).read_text())["seed"] == 1
    before = history_path(d, "SPY").stat().st_mtime_ns
    calls = []
    monkeypatch.setattr(datasource, "write_market", lambda *a, **k: calls.append(a))
    ensure_synthetic(d, seed=1, sessions=2, end_date=date(2025, 10, 16))
    assert calls == [] and history_path(d, "SPY").stat().st_mtime_ns == before
    ensure_synthetic(d, seed=2, sessions=2, end_date=date(2025, 10, 16))
    assert len(calls) == 1  # another config regenerates


def test_ensure_synthetic_default_end_is_the_last_session_before_today(tmp_path):
    assert ensure_synthetic(
        tmp_path, seed=1, sessions=1, end_date=None, today=date(2025, 10, 18)
    ) == date(2025, 10, 17)


def test_synthetic_goes_to_mockmarkets_own_dir_by_default(tmp_path):
    own = tmp_path / "own"
    store, directory, synthetic = prepare_store(
        None, synthetic=True, replay_date=date(2025, 10, 16), seed=3, sessions=2, synthetic_dir=own
    )
    assert (directory, synthetic) == (own, True)
    assert store.replay_date == date(2025, 10, 16) and set(store.symbols) == set(ALL_SYMBOLS)


def test_empty_data_dir_falls_back_to_synthetic_without_writing_there(tmp_path):
    empty, own = tmp_path / "empty", tmp_path / "own"
    empty.mkdir()
    _, directory, synthetic = prepare_store(
        empty, synthetic=False, replay_date=date(2025, 10, 16), sessions=1, synthetic_dir=own
    )
    assert (directory, synthetic) == (own, True)
    assert list(empty.iterdir()) == []


def test_history_dir_is_replayed_as_is(market_dir):
    store, directory, synthetic = prepare_store(market_dir, synthetic=False, replay_date=None)
    assert (directory, synthetic) == (market_dir, False)
    assert store.replay_date == date(2025, 10, 17)


def test_bad_config_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="not an NYSE session"):
        ensure_synthetic(tmp_path, seed=1, sessions=2, end_date=date(2025, 10, 18))


def test_files_of_an_older_generator_or_another_microstructure_are_made_again(tmp_path, monkeypatch):
    d = tmp_path / "syn"
    ensure_synthetic(d, seed=1, sessions=1, end_date=date(2025, 10, 16))
    marker = json.loads((d / MARKER).read_text())
    assert marker["generator"] == datasource.GENERATOR_VERSION and marker["microstructure"] == 1.0
    calls = []
    monkeypatch.setattr(datasource, "write_market", lambda *a, **k: calls.append(a))
    old = {k: v for k, v in marker.items() if k not in ("generator", "microstructure")}
    (d / MARKER).write_text(json.dumps(old))  # what the generator before bid-ask bounce wrote
    ensure_synthetic(d, seed=1, sessions=1, end_date=date(2025, 10, 16))
    assert len(calls) == 1
    (d / MARKER).write_text(json.dumps(marker))
    ensure_synthetic(d, seed=1, sessions=1, end_date=date(2025, 10, 16), microstructure=0.0)
    assert len(calls) == 2

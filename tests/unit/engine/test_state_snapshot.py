"""state.json: atomic replacement, readable, never half written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.state_snapshot import SnapshotError, read_state_json, write_state_json


def test_round_trip_and_replace(tmp_path: Path) -> None:
    p = tmp_path / "logs" / "state.json"
    write_state_json(p, {"b": 1, "a": [1.5, None]})
    assert read_state_json(p) == {"a": [1.5, None], "b": 1}
    write_state_json(p, {"minute": 2})
    assert json.loads(p.read_text()) == {"minute": 2}
    assert sorted(x.name for x in p.parent.iterdir()) == ["state.json"]  # no temp file left


def test_missing_is_none_and_garbage_is_an_error(tmp_path: Path) -> None:
    assert read_state_json(tmp_path / "none.json") is None
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(SnapshotError, match="bad.json: not valid JSON"):
        read_state_json(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(SnapshotError, match="expected a JSON object"):
        read_state_json(tmp_path / "list.json")


def test_unserializable_state_keeps_the_old_file(tmp_path: Path) -> None:
    p = tmp_path / "state.json"
    write_state_json(p, {"ok": True})
    with pytest.raises(SnapshotError, match="equity=nan"):
        write_state_json(p, {"equity": float("nan")})
    with pytest.raises(SnapshotError, match="cannot serialize"):
        write_state_json(p, {"x": object()})
    assert read_state_json(p) == {"ok": True}


def test_a_crash_before_the_rename_keeps_the_old_snapshot(tmp_path: Path, monkeypatch) -> None:
    p = tmp_path / "state.json"
    write_state_json(p, {"minute": 1})

    def boom(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk gone"):
        write_state_json(p, {"minute": 2})
    monkeypatch.undo()
    assert read_state_json(p) == {"minute": 1}
    assert sorted(x.name for x in tmp_path.iterdir()) == ["state.json"]


def test_the_write_is_fsynced_before_the_rename(tmp_path: Path, monkeypatch) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (calls.append("replace"), real_replace(a, b))[1]
    )
    write_state_json(tmp_path / "state.json", {"a": 1})
    assert calls[:2] == ["fsync", "replace"]

"""bridge.state_file: the counters beside the bridge's log, written atomically when they change,
carried over by a bridge restarted on the same log."""

from __future__ import annotations

import json
from pathlib import Path

from bridge.state_file import COUNTERS, StateFile, counters_of, read_state, state_path_for


def test_the_state_file_sits_beside_the_log():
    assert state_path_for(Path("logs/mock_trading/bridge_20251016_093000.log")) == Path(
        "logs/mock_trading/bridge_20251016_093000.state.json"
    )


def test_written_when_something_changes_and_only_then(tmp_path):
    path = tmp_path / "bridge_x.state.json"
    sf = StateFile(path)
    assert sf.update({"connections": 1}, connected=True, wall_ms=10)
    assert not sf.update({"connections": 1}, connected=True, wall_ms=20)  # nothing new
    assert sf.update({"connections": 1}, connected=False, wall_ms=30)
    assert sf.update({"connections": 2, "reconnects": 1}, connected=True, wall_ms=40)
    state = json.loads(path.read_text())
    assert {k: state[k] for k in COUNTERS} == {**dict.fromkeys(COUNTERS, 0), "connections": 2, "reconnects": 1}
    assert state["connected"] is True and state["updated_ms"] == 40 and isinstance(state["pid"], int)
    assert [p.name for p in tmp_path.iterdir()] == ["bridge_x.state.json"]  # no temporary left


def test_a_restarted_bridge_adds_to_what_the_file_holds(tmp_path):
    path = tmp_path / "bridge_x.state.json"
    StateFile(path).update({"connections": 3, "reconnects": 2, "batches": 50}, connected=False, wall_ms=1)
    again = StateFile(path)
    again.update({"connections": 1, "batches": 5}, connected=True, wall_ms=2)
    state = read_state(path)
    assert (state["connections"], state["reconnects"], state["batches"]) == (4, 2, 55)


def test_a_damaged_file_reads_as_nothing_and_is_replaced(tmp_path):
    path = tmp_path / "bridge_x.state.json"
    path.write_text("{not json")
    assert read_state(path) is None and read_state(tmp_path / "missing.json") is None
    assert counters_of({"reconnects": -1, "connections": True, "batches": 7}) == {
        **dict.fromkeys(COUNTERS, 0), "batches": 7}  # fmt: skip
    sf = StateFile(path)
    assert sf.base == dict.fromkeys(COUNTERS, 0)
    sf.update({"reconnects": 1}, connected=True, wall_ms=1)
    assert read_state(path)["reconnects"] == 1

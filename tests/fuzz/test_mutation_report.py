"""The mutation report sorts survivors honestly: only a change confined to a message, or a
case change SQLite cannot see, is explained mechanically; an entry of the equivalents file
explains its mutant only while its line still matches; the kill rate counts every survivor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fuzz import mutation_report as report

ORIGINAL = '''
def x_f__mutmut_orig(db, row, a):
    log.info("sent %s", a)
    if a > 1:
        raise ValueError(f"bad {a}")
    return db.execute("SELECT v FROM t WHERE k='key'"), row["qty"] + a
'''
MUTANTS = {
    1: ('log.info("sent %s", a)', 'log.info("XXsent %sXX", a)'),  # message text
    2: ('log.info("sent %s", a)', "log.info(None, a)"),  # message arguments
    3: ('log.info("sent %s", a)', 'log.warning("sent %s", a)'),  # level
    4: ('raise ValueError(f"bad {a}")', "raise ValueError(None)"),  # exception message
    5: ("SELECT v FROM t WHERE k='key'", "select v from t where k='key'"),  # SQL case
    6: ("SELECT v FROM t WHERE k='key'", "SELECT V FROM T WHERE K='KEY'"),  # a literal's case: real
    7: ('row["qty"]', 'row["QTY"]'),  # a Row key's case
    8: ("if a > 1:", "if a >= 1:"),  # behaviour
    9: ("if a > 1:", "if a > 2:"),  # behaviour, explained in the file
    10: ('row["qty"] + a', 'row["qty"] - a'),  # behaviour, with a stale entry
    11: ('log.info("sent %s", a)', 'log.info("sent %s", a); a = 0'),  # a message and behaviour
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    body = ORIGINAL
    for n, (old, new) in MUTANTS.items():
        body += ORIGINAL.replace("__mutmut_orig", f"__mutmut_{n}").replace(old, new)
    root = tmp_path / "mutants"
    (root / "engine").mkdir(parents=True)
    (root / "engine" / "x.py").write_text(body)
    codes = {f"engine.x.x_f__mutmut_{n}": 0 for n in MUTANTS} | {"engine.x.x_f__mutmut_12": 1,
                                                                "engine.x.x_f__mutmut_13": 33}  # fmt: skip
    (root / "engine" / "x.py.meta").write_text(json.dumps({"exit_code_by_key": codes}))
    (tmp_path / "equivalent.toml").write_text('''
[[row_keys]]
module = "engine/x.py"
names = ["row"]
reason = "rows of sqlite3"

[[equivalent]]
mutant = "engine.x.x_f__mutmut_9"
line = "if a > 2:"
reason = "a is 1 or 3"

[[kept]]
mutant = "engine.x.x_f__mutmut_11"
line = "log.info(\\"sent %s\\", a); a = 0"
reason = "left alive on purpose"

[[equivalent]]
mutant = "engine.x.x_f__mutmut_10"
line = "return db.execute(\\"SELECT v FROM t WHERE k='key'\\"), row[\\"qty\\"] * a"
reason = "written for an older mutant"
''')
    return root


def test_survivors_are_sorted_into_message_only_equivalent_and_unexplained(root: Path) -> None:
    mutated = report.MutatedModule(root / "engine" / "x.py")
    eq = report.load_equivalents(root.parent / "equivalent.toml")
    rows = report.load_row_names(root.parent / "equivalent.toml")
    got = {n: report.classify(f"engine.x.x_f__mutmut_{n}", mutated.mutant(f"engine.x.x_f__mutmut_{n}"), eq,
                              "engine/x.py", rows) for n in MUTANTS}  # fmt: skip
    assert {n: (s.verdict, s.why) for n, s in got.items() if s.verdict not in (report.UNEXPLAINED, report.KEPT)} == {
        1: ("message only", "log message"),
        2: ("message only", "log message"),
        3: ("message only", "log level"),
        4: ("message only", "exception message"),
        5: ("equivalent", "SQL text case"),
        7: ("equivalent", "sqlite3.Row key case"),
        9: ("equivalent", "a is 1 or 3"),
    }
    assert sorted(n for n, s in got.items() if s.verdict == report.UNEXPLAINED) == [6, 8, 10]
    assert (got[11].verdict, got[11].why) == (report.KEPT, "left alive on purpose")
    assert got[10].why.startswith("stale entry")
    assert got[8].mutant is not None and got[8].mutant.diff == ("-if a > 1:", "+if a >= 1:")


def test_the_kill_rate_counts_every_survivor_and_the_second_rate_leaves_out_the_explained(root: Path, capsys) -> None:
    assert report.main(root, root.parent / "equivalent.toml") == 0
    out = capsys.readouterr().out
    assert "kill rate: 8.3% (killed 1 of 12 mutants that ran: 11 survived, 0 timed out; 1 reached by no selected test" in out
    assert ("kill rate without the explained survivors: 20.0% (4 message only, 3 equivalent; 1 kept with a reason, "
            "3 unexplained)") in out
    assert "engine.x.x_f__mutmut_9: a is 1 or 3" in out and "+if a >= 1:" in out
    assert "reached by no selected test in engine/x.py: f 1" in out
    assert "match no survivor" not in out


def test_an_entry_without_a_reason_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "e.toml"
    path.write_text('[[equivalent]]\nmutant = "m"\nline = "x"\nreason = " "\n')
    with pytest.raises(ValueError, match="equivalent entry 1 lacks reason"):
        report.load_equivalents(path)


def test_a_change_inside_a_log_argument_s_expression_is_not_explained(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text('''
def x_g__mutmut_orig(t):
    log.info("at %s", iso(t + 1))
def x_g__mutmut_1(t):
    log.info("at %s", iso(None))
def x_g__mutmut_2(t):
    log.info("at %s", None)
''')
    mutated = report.MutatedModule(path)
    assert report.message_only(mutated.mutant("m.x_g__mutmut_1")) is None  # it could raise
    assert report.message_only(mutated.mutant("m.x_g__mutmut_2")) == "log message"


def test_an_entry_for_a_mutant_that_no_longer_survives_is_reported(root: Path, capsys) -> None:
    meta = root / "engine" / "x.py.meta"
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    meta.write_text(json.dumps({"exit_code_by_key": {**codes, "engine.x.x_f__mutmut_9": 1}}))
    report.main(root, root.parent / "equivalent.toml")
    assert "that match no survivor (killed now, or renamed): engine.x.x_f__mutmut_9" in capsys.readouterr().out

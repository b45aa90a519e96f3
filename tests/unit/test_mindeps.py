"""tests/mindeps.py: the constraints ``make mindeps`` installs, and the source copy it builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mindeps import MinDepsError, constraints, copy_tree, setup_lists

REPO = Path(__file__).resolve().parents[2]


def project(tmp_path: Path, runtime: list[str], test: list[str], build: list[str]) -> Path:
    (tmp_path / "setup.py").write_text(
        f"from setuptools import setup\nRUNTIME = {runtime!r}\nTEST = {test!r}\nsetup(install_requires=RUNTIME)\n"
    )
    (tmp_path / "pyproject.toml").write_text(f"[build-system]\nrequires = {build!r}\n")
    return tmp_path


def test_every_declared_dependency_is_pinned_at_its_lower_bound():
    lists = setup_lists(REPO / "setup.py")
    pins = constraints(REPO)
    declared = lists["RUNTIME"] + lists["TEST"]
    assert len(pins) == len({r.split(">=")[0].strip() for r in declared}) + 2  # + setuptools, Cython
    for req in declared:
        name, _, rest = req.partition(">=")
        assert f"{name.strip()}=={rest.split(',')[0].strip()}" in pins
    assert any(p.lower().startswith("optuna==") for p in pins)  # the optimizer uses it


def test_lower_bounds_are_read_without_running_setup_py(tmp_path):
    root = project(tmp_path, ["numpy>=1.23.2", "requests[socks] >= 2.30, <3"], ["pytest>=8.0"],
                   ["setuptools>=68", "wheel", "numpy>=1.23.2"])
    assert constraints(root) == ["numpy==1.23.2", "pytest==8.0", "requests==2.30", "setuptools==68"]


@pytest.mark.parametrize(("runtime", "build", "match"), [
    (["numpy"], [], r"setup.py RUNTIME: 'numpy' has no '>=' lower bound"),
    (["numpy<2"], [], "'numpy<2' has no"),
    (["numpy>=1.23.2"], ["numpy>=1.26"], "disagrees with setup.py's numpy==1.23.2"),
])
def test_a_dependency_without_a_usable_bound_is_named(tmp_path, runtime, build, match):
    with pytest.raises(MinDepsError, match=match):
        constraints(project(tmp_path, runtime, ["pytest>=8.0"], build))


def test_the_copy_leaves_out_builds_venvs_data_and_compiled_files(tmp_path):
    src = tmp_path / "src"
    for rel in ("setup.py", "engine_core/ewrls.pyx", "engine_core/ewrls.c", "engine_core/ewrls.so",
                "engine_core/reference/x.py", ".venv/bin/python", ".venv-mindeps/x", "build/lib/x",
                "data/equities/SPY.csv", "logs/x.log", ".git/HEAD", "common/__pycache__/x.pyc",
                "tests/unit/test_x.py", "mockmarket/vendor.c"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text("x")
    dest = tmp_path / "dest"
    copy_tree(src, dest)
    copied = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert copied == ["engine_core/ewrls.pyx", "engine_core/reference/x.py", "mockmarket/vendor.c",
                      "setup.py", "tests/unit/test_x.py"]

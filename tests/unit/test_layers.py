"""The import layers hold in the project, and the checker catches every way to break them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.layers import check_layers, packages_present

REPO = Path(__file__).resolve().parents[2]


def test_the_project_respects_its_layers():
    violations = check_layers(REPO)
    assert not violations, "imports that break the layers:\n" + "\n".join(map(str, violations))


def test_the_checker_reads_the_real_packages():
    present = packages_present(REPO)
    assert {"common", "ledger", "engine_core", "bridge", "engine", "mockmarket"} <= present


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def found(root: Path) -> set[tuple[str, int, str]]:
    return {(str(v.path), v.line, v.imported) for v in check_layers(root)}


def test_engine_importing_mockmarket_is_reported_with_file_line_and_import(tmp_path):
    root = tree(tmp_path, {
        "engine/__init__.py": "",
        "engine/app.py": "import json\n\nfrom common.bars import Bar\nfrom mockmarket.broker import PaperBroker\n",
        "mockmarket/broker.py": "from ledger.money import fmt\n",
        "common/bars.py": "",
    })
    violations = check_layers(root)
    assert [str(v) for v in violations] == [
        "engine/app.py:4: engine imports mockmarket.broker "
        "(engine may import only common, engine_core, ledger)"
    ]


@pytest.mark.parametrize(("path", "source", "line", "imported"), [
    ("engine/feed.py", "def f():\n    import mockmarket\n", 2, "mockmarket"),
    ("engine/feed.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from launch import app\n", 3, "launch"),
    ("engine/strategies/psm.py", "from ...mockmarket import harness\n", 1, "mockmarket"),
    ("engine/strategies/psm.py", "from .. import app\nfrom ... import bridge\n", 2, "bridge"),
    ("engine/x.py", "import importlib\nm = importlib.import_module('mockmarket.app')\n", 2, "mockmarket.app"),
    ("common/fifo.py", "from engine.app import X\n", 1, "engine.app"),
    ("common/fifo.py", "import ledger.money as m, json\n", 1, "ledger.money"),
    ("ledger/money.py", "from engine_core import Ensemble\n", 1, "engine_core"),
    ("engine_core/params.py", "from ledger import money\n", 1, "ledger"),
    ("bridge/app.py", "from engine import signals\n", 1, "engine"),
    ("mockmarket/broker.py", "from engine.sim_fills import x\n", 1, "engine.sim_fills"),
    ("mockmarket/broker.py", "from bench import bench_bridge\n", 1, "bench"),
    ("engine/app.py", "from tests.support.processes import Proc\n", 1, "tests.support.processes"),
    ("launch/app.py", "from mockmarket.harness import run_market\n", 1, "mockmarket.harness"),
    ("optimize/study.py", "import mockmarket.synthetic\n", 1, "mockmarket.synthetic"),
    ("engine_core/ewrls.pyx", "cimport cython\nfrom engine.app cimport X\n", 2, "engine.app"),
    ("engine_core/ewrls.pxd", "from mockmarket.synthetic import generate\n", 1, "mockmarket.synthetic"),
    ("engine_core/ensemble.pyx", "def f():\n    import bridge.stream\n", 2, "bridge.stream"),
])
def test_each_kind_of_forbidden_import_is_reported(tmp_path, path, source, line, imported):
    root = tree(tmp_path, {path: source})
    assert found(root) == {(path, line, imported)}


@pytest.mark.parametrize(("path", "source"), [
    ("engine/app.py", "from common import bars\nfrom ledger.money import fmt\nimport engine_core\nfrom . import x\n"),
    ("engine/strategies/psm.py", "from ..signals import s\nfrom .base import Strategy\n"),
    ("mockmarket/broker.py", "from common.calendar import nyse\nfrom ledger.portfolio import Portfolio\n"),
    ("launch/app.py", "from engine import app\nfrom bridge import cli\nfrom optimize import study\n"),
    ("launch/mock.py", "from mockmarket.harness import run_market\n"),
    ("launch/mock_mode.py", "import mockmarket\n"),
    ("launch/mock/market.py", "from mockmarket.harness import run_market\n"),
    ("optimize/study.py", "from engine.backtest import run\nfrom launch import config\n"),
    ("engine_core/ewrls.pyx", '"""Example::\n\n    from engine import app\n"""\ncimport cython\nfrom libc.math cimport sqrt\n'),
    ("engine_core/ensemble.pyx", "from engine_core.ewrls cimport Ewrls  # engine_core only\nfrom common.calendar import MINUTE_MS\n"),
    ("common/calendar.py", "import exchange_calendars\nimport engineering_units\ns = 'from engine import x'\n"),
])
def test_allowed_imports_are_not_reported(tmp_path, path, source):
    assert found(tree(tmp_path, {path: source})) == set()


def test_a_tree_without_launch_or_optimize_is_checked_all_the_same(tmp_path):
    root = tree(tmp_path, {"engine/app.py": "import mockmarket\n"})
    assert packages_present(root) == {"engine"}
    assert found(root) == {("engine/app.py", 1, "mockmarket")}

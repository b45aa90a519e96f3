"""The launcher's layer: it may use common, ledger, engine_core and engine; only its mock-mode
module may touch mockmarket, and nothing may import bridge (a process, reached by its CLI)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ALLOWED = {"common", "ledger", "engine_core", "engine", "launch"}
MOCK_MODULES = {"mock_market.py"}


def imported_packages(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_launch_imports_only_the_layers_below_it():
    project = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} | {"optimize"}
    for path in sorted((ROOT / "launch").glob("*.py")):
        ours = imported_packages(path) & project
        allowed = ALLOWED | ({"mockmarket"} if path.name in MOCK_MODULES else set())
        assert ours <= allowed, f"{path.name} imports {sorted(ours - allowed)}"


def test_the_history_download_is_common_plumbing():
    ours = imported_packages(ROOT / "common" / "history_download.py")
    assert ours & {"engine", "launch", "mockmarket", "bridge"} == set()

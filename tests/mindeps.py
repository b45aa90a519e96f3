"""Support for ``make mindeps``: prove that the lower bounds in setup.py are enough.

    python tests/mindeps.py constraints      # name==lower for every declared dependency
    python tests/mindeps.py copy DEST        # the project's source tree, without builds or venvs

``constraints`` reads ``RUNTIME`` and ``TEST`` from setup.py and the build requirements
from pyproject.toml (without running either) and prints one ``name==lower`` line per
requirement: a pip constraints file that installs every dependency at the oldest version
the project claims to work with. A runtime or test requirement without a ``>=`` lower
bound is an error naming it. ``copy`` gives ``make mindeps`` its own source tree, so the
extensions it compiles against the old numpy never replace the ones of ``.venv``.
"""

from __future__ import annotations

import ast
import re
import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOWER = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*>=\s*(?P<version>[^,;\s]+)")
NAME = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)")
SKIP_DIRS = {".git", "build", "dist", "data", "logs", "__pycache__", ".hypothesis", ".pytest_cache", ".ruff_cache"}
SKIP_SUFFIXES = (".so", ".pyc", ".html")


class MinDepsError(ValueError):
    pass


def setup_lists(setup_py: Path) -> dict[str, list[str]]:
    """The literal lists assigned to module-level names in setup.py (RUNTIME, TEST, ...)."""
    tree = ast.parse(setup_py.read_text(encoding="utf-8"), filename=str(setup_py))
    out: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                out[node.targets[0].id] = value
    return out


def lower_bound(requirement: str, where: str) -> tuple[str, str]:
    """``"numpy>=1.23.2"`` -> ``("numpy", "1.23.2")``; MinDepsError if there is no lower bound."""
    m = LOWER.match(requirement)
    if m is None:
        raise MinDepsError(f"{where}: {requirement!r} has no '>=' lower bound")
    return m.group("name"), m.group("version")


def constraints(root: Path = ROOT) -> list[str]:
    """``name==lower`` for every runtime, test and (bounded) build requirement, sorted by name."""
    lists = setup_lists(root / "setup.py")
    pins: dict[str, str] = {}
    for list_name in ("RUNTIME", "TEST"):
        if list_name not in lists:
            raise MinDepsError(f"setup.py: no {list_name} list")
        for req in lists[list_name]:
            name, version = lower_bound(req, f"setup.py {list_name}")
            pins[name.lower()] = f"{name}=={version}"
    build = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["build-system"]["requires"]
    for req in build:
        m = LOWER.match(req)
        name = (m or NAME.match(req)).group("name")  # type: ignore[union-attr]
        if m is None:
            continue  # unbounded build tools (wheel): any version
        if name.lower() in pins and pins[name.lower()] != f"{name}=={m.group('version')}":
            raise MinDepsError(
                f"pyproject.toml build requirement {req!r} disagrees with setup.py's {pins[name.lower()]}"
            )
        pins[name.lower()] = f"{name}=={m.group('version')}"
    return [pins[k] for k in sorted(pins)]


def copy_tree(src: Path, dest: Path) -> None:
    """The source tree under ``dest`` without VCS data, builds, virtualenvs, data or logs."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        return {
            n for n in names
            if n in SKIP_DIRS or n.startswith(".venv") or n.endswith(SKIP_SUFFIXES)
            or (Path(directory).name == "engine_core" and n.endswith(".c"))
        }

    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=ignore)


def main(argv: list[str]) -> int:
    try:
        if argv == ["constraints"]:
            print("\n".join(constraints()))
            return 0
        if len(argv) == 2 and argv[0] == "copy":
            copy_tree(ROOT, Path(argv[1]))
            return 0
    except MinDepsError as e:
        print(f"mindeps: {e}", file=sys.stderr)
        return 2
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

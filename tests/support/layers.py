"""The project's import layers, and a checker that finds every import that breaks them.

Dependencies point inward (design: ``common`` <- ``ledger`` <- ``engine_core`` <- ``engine``
<- ``launch`` / ``optimize``; ``bridge`` beside the engine on ``common`` alone; ``mockmarket``
a tool beside them, on ``common`` and ``ledger``). Only the launcher's mock mode may start
mockmarket, so only launch modules whose name says so (``launch/mock*.py``, a
``launch/mock*/`` package) may import it. No package imports ``tests`` or ``bench``.

Every ``.py`` is read with :mod:`ast` (imports inside functions and ``TYPE_CHECKING``
blocks count; relative imports are resolved); ``.pyx``/``.pxd`` files are scanned line by
line for ``import``, ``cimport`` and ``from ... (c)import`` outside string literals. A
literal ``importlib.import_module("...")`` or ``__import__("...")`` counts too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("common", "ledger", "engine_core", "bridge", "engine", "mockmarket", "launch", "optimize")
"""The project's packages, innermost first; ``launch`` and ``optimize`` may not exist yet."""
NOT_PACKAGES = ("tests", "bench")
"""Project directories no package may import."""
_EVERYTHING_BUT_THE_MARKET = frozenset(PACKAGES) - {"mockmarket"}
ALLOWED: dict[str, frozenset[str]] = {
    "common": frozenset(),
    "ledger": frozenset({"common"}),
    "engine_core": frozenset({"common"}),
    "bridge": frozenset({"common"}),
    "engine": frozenset({"common", "ledger", "engine_core"}),
    "mockmarket": frozenset({"common", "ledger"}),
    "launch": _EVERYTHING_BUT_THE_MARKET,
    "optimize": _EVERYTHING_BUT_THE_MARKET,
}
"""Which other project packages each package may import (its own is always allowed)."""
MOCK_MODE = re.compile(r"^mock")
"""A launch module or subpackage named like this is the mock mode: it may import mockmarket."""

SOURCE_SUFFIXES = (".py", ".pyx", ".pxd")
_CYTHON_IMPORT = re.compile(
    r"^\s*(?:from\s+(?P<from>[.\w]+)\s+c?import\b|c?import\s+(?P<names>[\w.][^;]*))"
)
_TRIPLE_QUOTED = re.compile(r'""".*?"""|\'\'\'.*?\'\'\'', re.S)


@dataclass(frozen=True)
class Violation:
    path: Path
    """Relative to the checked root."""
    line: int
    package: str
    imported: str

    def __str__(self) -> str:
        allowed = sorted(self.rule())
        may = f"may import only {', '.join(allowed)}" if allowed else "may import no other project package"
        return f"{self.path}:{self.line}: {self.package} imports {self.imported} ({self.package} {may})"

    def rule(self) -> frozenset[str]:
        allowed = ALLOWED[self.package]
        if self.package == "launch" and is_mock_mode(self.path):
            allowed = allowed | {"mockmarket"}
        return allowed


def is_mock_mode(rel_path: Path) -> bool:
    """Whether a file under ``launch/`` belongs to the launcher's mock mode."""
    return any(MOCK_MODE.match(Path(part).stem) for part in rel_path.parts[1:])


def _module_name(rel_path: Path) -> list[str]:
    """``engine/strategies/psm.py`` -> ``["engine", "strategies", "psm"]`` (a package's
    ``__init__`` is the package itself)."""
    parts = list(rel_path.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return parts


def _resolve(rel_path: Path, level: int, module: str | None) -> str:
    """The absolute name of a relative import in ``rel_path``."""
    package = _module_name(rel_path)
    if rel_path.stem != "__init__":
        package = package[:-1]  # a module's relative imports start from its package
    base = package[: len(package) - (level - 1)] if level > 1 else package
    return ".".join([*base, *([module] if module else [])])


def _literal_import(node: ast.Call) -> str | None:
    """The module of ``importlib.import_module("x")`` / ``import_module("x")`` / ``__import__("x")``."""
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
    if name not in ("import_module", "__import__") or not node.args:
        return None
    arg = node.args[0]
    return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None


def python_imports(source: str, rel_path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in a Python file."""
    tree = ast.parse(source, filename=str(rel_path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve(rel_path, node.level, node.module)
                if node.module is None:  # from . import a, b: each may be a module
                    for alias in node.names:
                        yield node.lineno, f"{base}.{alias.name}" if base else alias.name
                    continue
                yield node.lineno, base
            else:
                yield node.lineno, node.module or ""
        elif isinstance(node, ast.Call):
            target = _literal_import(node)
            if target is not None:
                yield node.lineno, target


def _blank_strings(source: str) -> str:
    """``source`` with triple-quoted strings blanked out, line numbers kept."""
    return _TRIPLE_QUOTED.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), source)


def cython_imports(source: str, rel_path: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import and cimport in a ``.pyx``/``.pxd``."""
    for lineno, line in enumerate(_blank_strings(source).splitlines(), 1):
        m = _CYTHON_IMPORT.match(line.split("#", 1)[0])
        if m is None:
            continue
        if m.group("from") is not None:
            name = m.group("from")
            level = len(name) - len(name.lstrip("."))
            yield lineno, _resolve(rel_path, level, name[level:] or None) if level else name
        else:
            for name in m.group("names").split(","):  # import a.b as c, d
                yield lineno, name.split()[0] if name.split() else ""


def packages_present(root: Path) -> set[str]:
    """The project's packages that exist under ``root``."""
    return {p for p in PACKAGES if (root / p).is_dir()}


def source_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(package, path relative to ``root``) of every source file of the packages present."""
    for package in PACKAGES:
        top = root / package
        if not top.is_dir():
            continue
        for path in sorted(top.rglob("*")):
            if path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts and path.is_file():
                yield package, path.relative_to(root)


def imports_of(root: Path, rel_path: Path) -> Iterator[tuple[int, str]]:
    source = (root / rel_path).read_text(encoding="utf-8")
    if rel_path.suffix == ".py":
        return python_imports(source, rel_path)
    return cython_imports(source, rel_path)


def check_layers(root: Path) -> list[Violation]:
    """Every import under ``root`` that its package's layer forbids."""
    project = set(PACKAGES) | set(NOT_PACKAGES)
    found: list[Violation] = []
    for package, rel_path in source_files(root):
        for line, module in imports_of(root, rel_path):
            top = module.split(".", 1)[0]
            if top not in project or top == package:
                continue
            v = Violation(rel_path, line, package, module)
            if top not in v.rule():
                found.append(v)
    return found


__all__ = [
    "ALLOWED",
    "PACKAGES",
    "Violation",
    "check_layers",
    "cython_imports",
    "packages_present",
    "python_imports",
]

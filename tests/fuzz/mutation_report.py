"""The mutation run's figures (``make chaos-fuzz``): mutants per module and outcome, the kill
rate, and every survivor with what explains it, or with its diff when nothing does.

Reads mutmut's per-file results (``mutants/<file>.meta``, its exit code per mutant: 1 or 3
killed, 0 survived, 33/5 no test reaches the function, None not run) and the mutated files
themselves (``mutants/<file>``: each function's original and its mutants side by side).

The kill rate is killed / (killed + survived + timeouts): every survivor counts against it,
explained or not. The survivors are then sorted into

- *message only*, recognised mechanically by comparing the mutant's syntax tree with the
  original's: every difference is an argument of a logging call (``log.info(...)``) dropped
  or replaced whole, or a text in one, or the level of a logging call, or the message of a
  raised exception (a text in its arguments, or the text argument replaced);
- *equivalent*: recognised mechanically where only the letter case of SQL text changes
  outside its quoted literals (SQLite reads keywords, table and column names in any case),
  or of a key read from a ``sqlite3.Row`` (case-insensitive) under a rule of
  ``mutation_equivalent.toml`` beside this file (``[[row_keys]]``: module and the names
  that hold rows there); else listed one by one in that file (``[[equivalent]]``: mutant
  name, the mutated line, why behaviour cannot differ); an entry whose line no longer
  matches its mutant is stale and explains nothing;
- *kept*: not equivalent, but listed one by one in that file with the reason they are left
  alive (``[[kept]]``, same fields); they count as survivors in both rates;
- *unexplained*: listed with their diff.

A second rate leaves the explained ones out: killed / (killed + unexplained + timeouts).
Mutants no selected test reaches are listed apart (not killed; they say which functions the
fast unit tests leave to the slower ones). Run from the repository root after ``mutmut run``.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import sys
import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KILLED = {1, 3, 37}
SURVIVED = {0}
NO_TESTS = {5, 33}
TIMEOUTS = {24, -24, 36, 152, 255}

EQUIVALENT_FILE = Path(__file__).with_name("mutation_equivalent.toml")
LOGGERS = {"log", "logger", "logging"}
LOG_LEVELS = {"debug", "info", "warning", "warn", "error", "exception", "critical", "log"}
MESSAGE_ONLY = "message only"
EQUIVALENT = "equivalent"
UNEXPLAINED = "unexplained"
KEPT = "kept"


def outcome(code: int | None) -> str:
    if code is None:
        return "not run"
    if code in KILLED:
        return "killed"
    if code in SURVIVED:
        return "survived"
    if code in NO_TESTS:
        return "no test"
    if code in TIMEOUTS:
        return "timeout"
    return "suspicious"


# ---------------------------------------------------------------- reading the mutated files


@dataclass(frozen=True)
class Mutant:
    key: str  # mutmut's name: module.function__mutmut_N
    original: ast.FunctionDef | ast.AsyncFunctionDef
    mutated: ast.FunctionDef | ast.AsyncFunctionDef
    diff: tuple[str, ...]  # the -/+ lines, stripped

    @property
    def function(self) -> str:
        return function_of(self.key)


def function_of(key: str) -> str:
    """The mutated function's name (``Class.method`` for a method) from a mutant's name."""
    name = key.rsplit(".", 1)[-1].rsplit("__mutmut_", 1)[0]
    return name.replace("\u01c1", ".").removeprefix("x_").removeprefix("x.")


class MutatedModule:
    """One file of ``mutants/``: its functions by name, and their source lines."""

    def __init__(self, path: Path) -> None:
        self.source = path.read_text()
        self.lines = self.source.splitlines()
        tree = ast.parse(self.source)
        self.functions = {
            n.name: n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        }

    def _lines(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
        """The function's lines, stripped, its generated name read as ``f`` (so that only
        the mutation differs between an original and its mutant, its signature included)."""
        start = fn.decorator_list[0].lineno - 1 if fn.decorator_list else fn.lineno - 1
        return [line.strip().replace(f"def {fn.name}(", "def f(", 1) for line in self.lines[start : fn.end_lineno]]

    def mutant(self, key: str) -> Mutant | None:
        name = key.rsplit(".", 1)[-1]
        orig = self.functions.get(name.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
        mut = self.functions.get(name)
        if orig is None or mut is None:
            return None
        diff = tuple(
            line
            for line in difflib.unified_diff(self._lines(orig), self._lines(mut), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        )
        return Mutant(key, orig, mut, diff)


# ---------------------------------------------------------------- recognising message-only mutants

Step = tuple[ast.AST, str]  # (node of the original tree, the field the path goes down)


def differences(a: Any, b: Any, path: tuple[Step, ...] = ()) -> Iterator[tuple[tuple[Step, ...], Any, Any]]:
    """Where two syntax trees differ: (path from the root in the original tree, a, b)."""
    if type(a) is not type(b):
        yield path, a, b
    elif isinstance(a, ast.AST):
        for name in a._fields:
            yield from differences(getattr(a, name), getattr(b, name), (*path, (a, name)))
    elif isinstance(a, list):
        if len(a) != len(b):
            yield path, a, b
        else:
            for x, y in zip(a, b, strict=True):
                yield from differences(x, y, path)
    elif a != b:
        yield path, a, b


def _function_differences(m: Mutant) -> Iterator[tuple[tuple[Step, ...], Any, Any]]:
    """Where a mutant differs from its original: its signature (defaults) and its body."""
    yield from differences(m.original.args, m.mutated.args)
    yield from differences(m.original.body, m.mutated.body)


def _is_log_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return False
    owner = node.func.value
    name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
    return name in LOGGERS and node.func.attr in LOG_LEVELS


def _message_only(path: tuple[Step, ...], a: Any, b: Any) -> str | None:
    """Why this one difference only changes a message, or None."""
    for i in range(len(path) - 1, -1, -1):
        node, field = path[i]
        if _is_log_call(node):
            if field in ("args", "keywords"):
                # an argument dropped or replaced whole, or a text changed: only the message
                # differs; a change inside an argument's expression could raise, and survives
                # then only where no test runs it, so it is not explained here
                whole = i == len(path) - 1 or (i == len(path) - 2 and isinstance(path[-1][0], ast.Constant))
                return "log message" if whole or (isinstance(a, str) and isinstance(b, str)) else None
            if field == "func" and i + 1 < len(path) and path[i + 1][1] == "attr" and b in LOG_LEVELS:
                return "log level"
            return None
        if isinstance(node, ast.Raise):
            if field != "exc" or i + 1 >= len(path):
                return None
            call, call_field = path[i + 1]
            if not (isinstance(call, ast.Call) and call_field == "args"):
                return None
            texts = [n for n, _ in path[i + 2 :] if isinstance(n, ast.JoinedStr)]
            replaced = isinstance(a, ast.JoinedStr) or (isinstance(a, ast.Constant) and isinstance(a.value, str))
            if texts or replaced or (isinstance(a, str) and isinstance(b, str)):
                return "exception message"
            return None
    return None


SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|PRAGMA|CREATE|WITH)\b", re.IGNORECASE)
QUOTED = re.compile(r"'[^']*'")


def _case_only(a: Any, b: Any) -> bool:
    return isinstance(a, str) and isinstance(b, str) and a != b and a.lower() == b.lower()


def _is_sql(path: tuple[Step, ...], text: str) -> bool:
    """Whether the string at the end of ``path`` is SQL text: it starts with a statement,
    is part of an f-string that does, or is added to a variable named ``sql``."""
    if SQL_START.match(text):
        return True
    for node, field in reversed(path):
        if isinstance(node, ast.JoinedStr):
            first = node.values[0] if node.values else None
            return isinstance(first, ast.Constant) and isinstance(first.value, str) and bool(SQL_START.match(first.value))
        if isinstance(node, ast.AugAssign) and field == "value":
            return isinstance(node.target, ast.Name) and node.target.id == "sql"
        if isinstance(node, ast.BinOp) and field == "right":
            return isinstance(node.left, ast.Name) and node.left.id == "sql"
    return False


def _equivalent(path: tuple[Step, ...], a: Any, b: Any, module: str, row_names: dict[str, set[str]]) -> str | None:
    """Why this one difference cannot change behaviour, when that is mechanical, or None."""
    if not _case_only(a, b):
        return None
    if _is_sql(path, a) and QUOTED.findall(a) == QUOTED.findall(b):
        return "SQL text case"
    names = row_names.get(module, set())
    for node, field in reversed(path):
        if isinstance(node, ast.Subscript):
            if field == "slice" and isinstance(node.value, ast.Name) and node.value.id in names:
                return "sqlite3.Row key case"
            return None
    return None


def equivalent(m: Mutant, module: str, row_names: dict[str, set[str]]) -> str | None:
    """Why the mutant cannot change behaviour, when every difference is a mechanical case."""
    kinds = set()
    for path, a, b in _function_differences(m):
        kind = _equivalent(path, a, b, module, row_names)
        if kind is None:
            return None
        kinds.add(kind)
    return ", ".join(sorted(kinds)) or None


def message_only(m: Mutant) -> str | None:
    """What kind of message-only change the mutant makes (``log message``, ``log level``,
    ``exception message``), or None if any of its differences can change behaviour."""
    kinds = set()
    found = False
    for path, a, b in _function_differences(m):
        found = True
        kind = _message_only(path, a, b)
        if kind is None:
            return None
        kinds.add(kind)
    return ", ".join(sorted(kinds)) if found else None


# ---------------------------------------------------------------- the explained-equivalent list


@dataclass(frozen=True)
class Explanation:
    mutant: str
    line: str
    reason: str
    equivalent: bool = True


def load_row_names(path: Path = EQUIVALENT_FILE) -> dict[str, set[str]]:
    """Module → the names that hold ``sqlite3.Row`` objects there (``[[row_keys]]``)."""
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text())
    out: dict[str, set[str]] = {}
    for i, entry in enumerate(data.get("row_keys", [])):
        if not entry.get("module") or not entry.get("names") or not str(entry.get("reason", "")).strip():
            raise ValueError(f"{path.name}: row_keys entry {i + 1} needs module, names and reason")
        out.setdefault(entry["module"], set()).update(entry["names"])
    return out


def load_equivalents(path: Path = EQUIVALENT_FILE) -> dict[str, Explanation]:
    if not path.exists():
        return {}
    data = tomllib.loads(path.read_text())
    out: dict[str, Explanation] = {}
    for table in ("equivalent", "kept"):
        for i, entry in enumerate(data.get(table, [])):
            missing = [k for k in ("mutant", "line", "reason") if not str(entry.get(k, "")).strip()]
            if missing:
                raise ValueError(f"{path.name}: {table} entry {i + 1} lacks {', '.join(missing)}")
            out[entry["mutant"]] = Explanation(entry["mutant"], entry["line"].strip(), entry["reason"].strip(),
                                               equivalent=table == "equivalent")  # fmt: skip
    return out


def explains(e: Explanation, m: Mutant) -> bool:
    """Whether an entry still describes this mutant: its line is one the mutant adds (or,
    for a mutant that only drops lines, one it drops)."""
    added = [line for line in m.diff if line.startswith("+")] or list(m.diff)
    return any(line[1:].strip() == e.line for line in added)


# ---------------------------------------------------------------- the report


@dataclass
class Survivor:
    mutant: Mutant | None
    key: str
    verdict: str
    why: str


def classify(key: str, m: Mutant | None, equivalents: dict[str, Explanation], module: str = "",
             row_names: dict[str, set[str]] | None = None) -> Survivor:  # fmt: skip
    if m is None:
        return Survivor(m, key, UNEXPLAINED, "its function is not in the mutated file")
    kind = message_only(m)
    if kind is not None:
        return Survivor(m, key, MESSAGE_ONLY, kind)
    same = equivalent(m, module, row_names or {})
    if same is not None:
        return Survivor(m, key, EQUIVALENT, same)
    e = equivalents.get(key)
    if e is not None:
        if explains(e, m):
            return Survivor(m, key, EQUIVALENT if e.equivalent else KEPT, e.reason)
        return Survivor(m, key, UNEXPLAINED, f"stale entry in {EQUIVALENT_FILE.name}: {e.line!r} is not its line")
    return Survivor(m, key, UNEXPLAINED, "")


def rate(killed: int, ran: int) -> str:
    return f"{100.0 * killed / ran:.1f}%" if ran else "n/a"


def main(root: Path = Path("mutants"), equivalents_path: Path = EQUIVALENT_FILE) -> int:
    metas = sorted(root.rglob("*.py.meta"))
    if not metas:
        print(f"no mutation results under {root}/: run `mutmut run` first", file=sys.stderr)
        return 2
    equivalents = load_equivalents(equivalents_path)
    row_names = load_row_names(equivalents_path)
    total: Counter[str] = Counter()
    survivors: list[Survivor] = []
    no_test: dict[str, Counter[str]] = defaultdict(Counter)
    print(f"{'module':<22} {'mutants':>7} {'killed':>6} {'survived':>8} {'msg-only':>8} {'equiv':>5} {'kept':>4} "
          f"{'unexpl':>6} {'timeout':>7} {'no test':>7} {'not run':>7} {'kill rate':>9} {'excl.':>6}")  # fmt: skip
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        module_path = meta.with_suffix("")
        module = str(module_path.relative_to(root))
        mutated = MutatedModule(module_path) if module_path.exists() else None
        c = Counter(outcome(code) for code in codes.values())
        for key, code in codes.items():
            result = outcome(code)
            m = mutated.mutant(key) if mutated is not None else None
            if result == "survived":
                s = classify(key, m, equivalents, module, row_names)
                survivors.append(s)
                c[s.verdict] += 1
            elif result == "no test":
                no_test[module][function_of(key)] += 1
        total.update(c)
        ran = c["killed"] + c["survived"] + c["timeout"]
        print(f"{module:<22} {len(codes):>7} {c['killed']:>6} {c['survived']:>8} {c[MESSAGE_ONLY]:>8} "
              f"{c[EQUIVALENT]:>5} {c[KEPT]:>4} {c[UNEXPLAINED]:>6} {c['timeout']:>7} {c['no test']:>7} {c['not run']:>7} "
              f"{rate(c['killed'], ran):>9} {rate(c['killed'], ran - c[MESSAGE_ONLY] - c[EQUIVALENT]):>6}")  # fmt: skip
    ran = total["killed"] + total["survived"] + total["timeout"]
    explained = total[MESSAGE_ONLY] + total[EQUIVALENT]
    print(f"kill rate: {rate(total['killed'], ran)} (killed {total['killed']} of {ran} mutants that ran: "
          f"{total['survived']} survived, {total['timeout']} timed out; {total['no test']} reached by no "
          f"selected test, {total['not run']} not run)")  # fmt: skip
    print(f"kill rate without the explained survivors: {rate(total['killed'], ran - explained)} "
          f"({total[MESSAGE_ONLY]} message only, {total[EQUIVALENT]} equivalent; {total[KEPT]} kept with a "
          f"reason, {total[UNEXPLAINED]} unexplained)")  # fmt: skip
    by_verdict: dict[str, list[Survivor]] = defaultdict(list)
    for s in survivors:
        by_verdict[s.verdict].append(s)
    if by_verdict[MESSAGE_ONLY]:
        print(f"\nmessage only ({len(by_verdict[MESSAGE_ONLY])}), by function:")
        kinds: dict[str, Counter[str]] = defaultdict(Counter)
        for s in by_verdict[MESSAGE_ONLY]:
            kinds[function_of(s.key)][s.why] += 1
        for function, counts in sorted(kinds.items()):
            print(f"  {function}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    if by_verdict[EQUIVALENT]:
        print(f"\nequivalent ({len(by_verdict[EQUIVALENT])}):")
        rules: Counter[str] = Counter()
        for s in by_verdict[EQUIVALENT]:
            if s.key in equivalents:
                print(f"  {s.key}: {s.why}")
            else:
                rules[s.why] += 1
        for why, n in sorted(rules.items()):
            print(f"  {n} where only the {why} changes")
    if by_verdict[KEPT]:
        print(f"\nkept, with a reason (not equivalent: they count as survivors) ({len(by_verdict[KEPT])}):")
        for s in by_verdict[KEPT]:
            print(f"  {s.key}: {s.why}")
            for line in s.mutant.diff if s.mutant else ():
                print(f"      {line}")
    if by_verdict[UNEXPLAINED]:
        print(f"\nunexplained ({len(by_verdict[UNEXPLAINED])}):")
        for s in by_verdict[UNEXPLAINED]:
            print(f"  {s.key}" + (f" ({s.why})" if s.why else ""))
            for line in s.mutant.diff if s.mutant else ():
                print(f"      {line}")
    unused = sorted(set(equivalents) - {s.key for s in survivors})
    if unused:
        print(f"\nentries of {EQUIVALENT_FILE.name} that match no survivor (killed now, or renamed): "
              + ", ".join(unused))  # fmt: skip
    for module, functions in sorted(no_test.items()):
        print(f"\nreached by no selected test in {module}: " + ", ".join(f"{f} {n}" for f, n in sorted(functions.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())

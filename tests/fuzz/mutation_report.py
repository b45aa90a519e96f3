"""The mutation run's figures (``make chaos-fuzz``): mutants per module and outcome, the kill
rate over the mutants that ran, and the survivors by function.

Reads mutmut's per-file results (``mutants/<file>.meta``, its exit code per mutant: 1 or 3
killed, 0 survived, 33/5 no test reaches the function, None not run). The kill rate counts
killed / (killed + survived + timeouts); mutants no selected test reaches are listed apart
(they are not killed, and say which functions the fast unit tests leave to the slower ones).
Run from the repository root after ``mutmut run``.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

KILLED = {1, 3, 37}
SURVIVED = {0}
NO_TESTS = {5, 33}
TIMEOUTS = {24, -24, 36, 152, 255}


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


def main(root: Path = Path("mutants")) -> int:
    metas = sorted(root.rglob("*.py.meta"))
    if not metas:
        print(f"no mutation results under {root}/: run `mutmut run` first", file=sys.stderr)
        return 2
    total: Counter[str] = Counter()
    survivors: dict[str, Counter[str]] = defaultdict(Counter)
    print(f"{'module':<24} {'mutants':>8} {'killed':>7} {'survived':>9} {'timeout':>8} {'no test':>8} {'not run':>8}")
    for meta in metas:
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        c = Counter(outcome(code) for code in codes.values())
        total.update(c)
        module = str(meta.relative_to(root)).removesuffix(".meta")
        print(f"{module:<24} {len(codes):>8} {c['killed']:>7} {c['survived']:>9} {c['timeout']:>8} "
              f"{c['no test']:>8} {c['not run']:>8}")  # fmt: skip
        for key, code in codes.items():
            if outcome(code) == "survived":
                function = key.rsplit("__mutmut_", 1)[0].split(".", 2)[-1].replace("\u01c1", ".")
                survivors[module][function.removeprefix("x_").removeprefix("x.")] += 1
    ran = total["killed"] + total["survived"] + total["timeout"]
    rate = 100.0 * (total["killed"] + total["timeout"]) / ran if ran else 0.0
    print(f"kill rate: {rate:.1f}% ({total['killed'] + total['timeout']} of {ran} mutants that ran; "
          f"{total['no test']} reached by no selected test, {total['not run']} not run)")  # fmt: skip
    for module, functions in sorted(survivors.items()):
        top = ", ".join(f"{f} {n}" for f, n in functions.most_common())
        print(f"survivors in {module}: {top}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``make chaos``'s table: the outcomes the chaos sessions saved, one row per scenario.

    python -m tests.support.chaos_table DIR   # DIR/outcomes.jsonl, written by tests.support.chaos

Columns: sessions, kills survived (and by process), duplicate orders, lost fills, sessions
flat at the close, sessions order-identical to the uninterrupted run ("-" where a scenario
has no reference: the clock ran, or a fault changes what is sent). Exit status 1 when a row
breaks the promise (a duplicate, a lost fill, a journal unequal to the broker, a session
not flat, a pinned session not identical), so a script can rely on it.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

HEADER = ("scenario", "sessions", "kills survived", "duplicate orders", "lost fills",
          "flat at the close", "order-identical")  # fmt: skip


def load(path: Path) -> list[dict]:
    f = path / "outcomes.jsonl"
    if not f.exists():
        return []
    return [json.loads(line) for line in f.read_text().splitlines() if line.strip()]


def rows(outcomes: list[dict]) -> tuple[list[tuple[str, ...]], bool, Counter[str]]:
    """The table's rows, whether every session kept the promise, kills by process."""
    by: dict[str, list[dict]] = defaultdict(list)
    for o in outcomes:
        by[o["scenario"]].append(o)
    out: list[tuple[str, ...]] = []
    ok = True
    procs: Counter[str] = Counter()
    for name in sorted(by):
        group = by[name]
        kills = sum(sum(o["kills"].values()) for o in group)
        for o in group:
            for k, n in o["kills"].items():
                procs[k.split("@")[0]] += n
        dup = sum(o["duplicates"] for o in group)
        lost = sum(o["lost_fills"] for o in group)
        flat = sum(o["flat"] for o in group)
        pinned = [o for o in group if o["identical"] is not None]
        same = sum(o["identical"] for o in pinned)
        equal = all(o["journal_equals_broker"] for o in group)
        ok = ok and dup == 0 and lost == 0 and flat == len(group) and same == len(pinned) and equal
        ident = f"{same}/{len(pinned)}" if pinned else "-"
        out.append((name + ("" if equal else " (journal != broker!)"), str(len(group)), str(kills), str(dup),
                    str(lost), f"{flat}/{len(group)}", ident))  # fmt: skip
    return out, ok, procs


def render(table: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in [HEADER, *table]) for i in range(len(HEADER))]
    line = "+-" + "-+-".join("-" * w for w in widths) + "-+"

    def fmt(r: tuple[str, ...]) -> str:
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        return "| " + " | ".join(cells) + " |"

    return "\n".join([line, fmt(HEADER), line, *(fmt(r) for r in table), line])


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.support.chaos_table DIR", file=sys.stderr)
        return 2
    outcomes = load(Path(argv[0]))
    if not outcomes:
        print(f"no chaos outcomes in {argv[0]}", file=sys.stderr)
        return 1
    table, ok, procs = rows(outcomes)
    total = sum(int(r[2]) for r in table)
    table.append(("total", str(sum(int(r[1]) for r in table)), str(total),
                  str(sum(int(r[3]) for r in table)), str(sum(int(r[4]) for r in table)), "", ""))  # fmt: skip
    print(render(table))
    print("kills by process: " + ", ".join(f"{k} {n}" for k, n in sorted(procs.items())))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""``python -m bench.edge table|compare|sweep``: see :mod:`bench.edge`."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench.edge.study import Row, Study, paired, specs
from common.config import (
    STRATEGIES,
    StrategyConfig,
    apply_params,
    original_config_json,
    validate_strategy_config,
)

DEFAULT_CACHE = Path("data/research/edge")
SELECTION_SEEDS = range(100, 120)
"""The seeds the shipped defaults were chosen on (in-sample); any other seed is held-out."""
HEADER = (
    "| strategy | config | signal | seeds | set | days | mean day % net | t | round trips / day | "
    "turnover × equity / day | gross % | costs % | hold % net (t) | IC |"
)


def seed_list(text: str) -> list[int]:
    """``"1-3,7"`` → [1, 2, 3, 7]."""
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def seed_text(seeds: list[int]) -> str:
    """[1, 2, 3, 7] → ``"1-3,7"`` (the inverse of :func:`seed_list`)."""
    parts: list[str] = []
    start = prev = None
    for s in [*seeds, None]:
        if start is not None and s == prev + 1:
            prev = s
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = s
    return ",".join(parts)


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def load(strategy: str, config: Path | None, original: bool,
         overrides: dict[str, Any]) -> StrategyConfig:  # fmt: skip
    if original:
        data = original_config_json(strategy)
    else:
        path = config or Path("config") / f"{strategy}_strategy.json"
        data = json.loads(path.read_text(encoding="utf-8"))
    if overrides:
        data = apply_params(data, overrides, source="--set/--variant", strategy=strategy)
    return validate_strategy_config(strategy, data, source=str(config or "config"))


def parse_sets(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, _, value = item.partition("=")
        out[key] = json.loads(value)
    return out


def sample_label(seeds: list[int]) -> str:
    """"in-sample" (every seed among :data:`SELECTION_SEEDS`), "held-out" (none) or "mixed"."""
    chosen = sum(s in SELECTION_SEEDS for s in seeds)
    return "in-sample" if chosen == len(seeds) else "held-out" if chosen == 0 else "mixed"


def row_line(strategy: str, label: str, signal: float, seeds: str, sample: str, r: Row) -> str:
    return (
        f"| {strategy} | {label} | {signal:g} | {seeds} | {sample} | {r.days} | {r.net:+.3f} | {r.t:+.1f} | "
        f"{r.round_trips:.1f} | {r.turnover:.1f} | {r.gross:+.3f} | {r.costs:.3f} | "
        f"{r.hold:+.3f} ({r.hold_t:+.1f}) | {r.ic:+.3f} |"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.edge", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("table", "compare", "sweep"):
        s = sub.add_parser(name)
        s.add_argument("--strategy", choices=STRATEGIES, required=True)
        s.add_argument("--config", type=Path, default=None,
                       help="strategy config file [default: config/<strategy>_strategy.json]")
        s.add_argument("--original", action="store_true",
                       help="the ported system's tuning (config/original/) instead")
        s.add_argument("--set", dest="sets", action="append", default=[],
                       help="dotted override KEY=JSON, e.g. oes_config.calibration_z=1.0")
        s.add_argument("--seeds", type=seed_list, required=True, help="e.g. 100-119 or 1-3,7")
        s.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
        s.add_argument("--label", default=None, help="the config column of the table")
    sub.choices["table"].add_argument("--signals", type=floats, default=[0.2, 0.0])
    sub.choices["compare"].add_argument("--signals", type=floats, default=[0.2, 0.0])
    sub.choices["compare"].add_argument("--variant", action="append", default=[],
                                        help="JSON object of dotted overrides of the base")
    sub.choices["sweep"].add_argument("--strengths", type=floats, required=True)
    args = p.parse_args(argv)
    seeds_text = seed_text(args.seeds)
    base = parse_sets(args.sets)
    cfg = load(args.strategy, args.config, args.original, base)
    label = args.label or ("original" if args.original else "default") + (
        f" {base}" if base else ""
    )
    study = Study(args.cache)
    started = time.perf_counter()
    if args.command in ("table", "sweep"):
        strengths = args.signals if args.command == "table" else args.strengths
        print(HEADER)
        for signal in strengths:
            row = Row.of(study.metrics(cfg, specs(args.seeds, signal)))
            print(row_line(args.strategy, label, signal, seeds_text, sample_label(args.seeds), row),
                  flush=True)  # fmt: skip
            study.forget()
    else:
        for signal in args.signals:
            ref = study.metrics(cfg, specs(args.seeds, signal))
            r = Row.of(ref)
            print(f"signal {signal:g}, base {label}: net {r.net:+.3f} % (t {r.t:+.1f}), "
                  f"{r.round_trips:.1f} round trips/day", flush=True)  # fmt: skip
            for text in args.variant:
                change = json.loads(text)
                other_cfg = load(args.strategy, args.config, args.original, {**base, **change})
                other = study.metrics(other_cfg, specs(args.seeds, signal))
                d, t = paired(ref, other)
                o = Row.of(other)
                print(f"  {text}: net {o.net:+.3f} % (t {o.t:+.1f}), {o.round_trips:.1f} "
                      f"round trips/day; minus base {d:+.3f} % (paired t {t:+.1f})", flush=True)  # fmt: skip
            study.forget()
    print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

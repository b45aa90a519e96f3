"""``serve``'s cost options: one per knob of a strategy config's ``costs`` section.

The options are generated from :class:`common.config.CostsConfig`, so the command line
and the configs have the same knobs (``--slippage-bps`` is ``costs.slippage_bps``...),
the same defaults (defined there, once) and the same validation. ``--legacy-fills``
selects the pre-cost fill rule (``CostModel.legacy``): no half-spread, no regulatory
fees, and a market order in a minute without a bar filled at the last close; only
``--slippage-bps`` and ``--fee-per-share`` apply then, and they default to 0.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from common.config import CostsConfig
from ledger.costs import CostModel
from ledger.money import fmt

F = TypeVar("F", bound=Callable[..., Any])

LEGACY_KNOBS = ("slippage_bps", "fee_per_share")
HELP = {
    "slippage_bps": "slippage against the taker on top of the half-spread, bp",
    "fee_per_share": "commission per share (Alpaca charges none)",
    "sec_fee_per_million": "SEC fee on sells, $ per $1M of principal",
    "taf_per_share": "FINRA TAF on sells, $ per share",
    "taf_max_per_trade": "cap of the TAF per trade, $",
    "cat_fee_per_share": "CAT fee on buys and sells, $ per share",
    "half_spread_bps_at_reference": "half-spread at the reference dollar volume, bp",
    "reference_minute_dollar_volume": "dollar volume per minute of the reference half-spread",
    "max_half_spread_bps": "cap of the half-spread (and its value without history), bp",
    "liquidity_sessions": "sessions before the traded one that measure liquidity",
}


def option_name(knob: str) -> str:
    return "--" + knob.replace("_", "-")


def cost_options(fn: F) -> F:
    """Add ``--legacy-fills`` and one option per ``CostsConfig`` knob to a click command."""
    fields = CostsConfig.model_fields
    for knob in reversed(list(fields)):
        default = fields[knob].default
        kind = int if isinstance(default, int) and not isinstance(default, bool) else float
        shown = fmt(Decimal(repr(default)))
        if knob in LEGACY_KNOBS and default:
            shown += "; 0 with --legacy-fills"
        fn = click.option(
            option_name(knob),
            knob,
            type=kind,
            default=None,
            help=f"{HELP.get(knob, knob)} [default: {shown}]",
        )(fn)
    return click.option(
        "--legacy-fills",
        is_flag=True,
        help="the pre-cost fill rule: no half-spread or regulatory fees, a minute without "
        "a bar fills at the last close (only --slippage-bps and --fee-per-share apply)",
    )(fn)


def cost_model(legacy_fills: bool, knobs: dict[str, float | int | None]) -> CostModel:
    """The model the options ask for; click.BadParameter names a bad option and value."""
    given = {k: v for k, v in knobs.items() if v is not None}
    if legacy_fills:
        other = sorted(option_name(k) for k in given if k not in LEGACY_KNOBS)
        if other:
            raise click.UsageError(
                f"--legacy-fills takes only --slippage-bps and --fee-per-share, not {', '.join(other)}"
            )
    try:
        cfg = CostsConfig(**given)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
        loc = err["loc"]
        knob = str(loc[0]) if loc else ""
        msg = err["msg"].removeprefix("Value error, ")
        for k in CostsConfig.model_fields:
            msg = re.sub(rf"\b{k}=", f"{option_name(k)}=", msg)
        where = f"{option_name(knob)}={given[knob]!r}" if knob in given else "cost options"
        raise click.BadParameter(msg, param_hint=where) from None
    if legacy_fills:
        return CostModel.legacy(cfg.slippage_bps if "slippage_bps" in given else 0.0,
                                cfg.fee_per_share if "fee_per_share" in given else 0.0)
    return CostModel.from_config(cfg)


__all__ = ["cost_model", "cost_options", "option_name"]

"""The README's configuration reference, generated from the config models (``make docs``).

::

    python -m launch.config_reference                  # print it
    python -m launch.config_reference --write README.md  # replace the README's section
    python -m launch.config_reference --check README.md  # exit 1 if the section is stale

It covers ``config.env`` (the Alpaca variables of :mod:`common.env`, the alert variables of
:class:`launch.alert_config.AlertConfig`) and the strategy files (every section of
:class:`common.config.RotationStrategyConfig` and :class:`common.config.PsmStrategyConfig`:
key, type, allowed values, each strategy's default, and the description where the model
has one). The section sits between :data:`BEGIN` and :data:`END` in the README; a test
fails when it differs from what this module renders.
"""

from __future__ import annotations

import inspect
import json
import sys
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import annotated_types as at
from pydantic import BaseModel, SecretStr

from common.config import PsmStrategyConfig, RotationStrategyConfig
from common.env import DATA_URL_VAR, DEFAULTS, KEY_VAR, SECRET_VAR, STREAM_URL_VAR, TRADING_URL_VAR
from launch.alert_config import AlertConfig, AlertKind, variable

BEGIN = "<!-- BEGIN config-reference: generated from the config models by `make docs`; do not edit by hand -->"
END = "<!-- END config-reference -->"
ALPACA = (
    (KEY_VAR, None, "API key id of the account (paper or live)."),
    (SECRET_VAR, None, "Its secret key (never logged)."),
    (TRADING_URL_VAR, DEFAULTS[TRADING_URL_VAR], "Trading API; Alpaca's real-money API is "
     "`https://api.alpaca.markets` and needs `--i-understand-real-money`."),
    (DATA_URL_VAR, DEFAULTS[DATA_URL_VAR], "Market-data REST API."),
    (STREAM_URL_VAR, DEFAULTS[STREAM_URL_VAR], "Market-data websocket (`/v2/iex` on the free plan, `/v2/sip` "
     "with a subscription)."),
)  # fmt: skip
STRATEGY_MODELS = (("rotation", RotationStrategyConfig), ("psm", PsmStrategyConfig))


def _type(t: Any) -> str:
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin is Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (types.UnionType, typing.Union):
        parts = [_type(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" or null" if type(None) in args else "")
    if origin is tuple:
        return f"list of {_type(args[0])}" if len(args) == 2 and args[1] is Ellipsis else \
            "list of " + ", ".join(_type(a) for a in args)  # fmt: skip
    if origin is dict:
        return f"map of {_type(args[0])} to {_type(args[1])}"
    if inspect.isclass(t) and issubclass(t, AlertKind):
        return "alert kind"
    names = {bool: "true/false", int: "integer", float: "number", str: "text", Path: "file path",
             SecretStr: "text (secret)"}  # fmt: skip
    return names.get(t, getattr(t, "__name__", str(t)))


def _range(metadata: Sequence[Any]) -> str:
    out = []
    for m in metadata:
        for cls, sym, attr in ((at.Gt, ">", "gt"), (at.Ge, "≥", "ge"), (at.Lt, "<", "lt"), (at.Le, "≤", "le")):
            if isinstance(m, cls):
                out.append(f"{sym} {getattr(m, attr):g}")
        if isinstance(m, at.MinLen) and m.min_length:
            out.append(f"at least {m.min_length}")
        if isinstance(m, at.MaxLen) and m.max_length is not None:
            out.append(f"at most {m.max_length}")
    return ", ".join(out)


def _value(v: Any) -> str:
    if isinstance(v, BaseModel):
        return "(section)"
    if isinstance(v, tuple) and v and all(isinstance(x, AlertKind) for x in v):
        return "all" if set(v) == set(AlertKind) else ",".join(map(str, v))
    if isinstance(v, tuple | list | dict):
        return f"`{json.dumps(v if not isinstance(v, tuple) else list(v), separators=(',', ':'))}`"
    if v is None:
        return "null"
    return f"`{json.dumps(v)}`"


def _first_paragraph(doc: str | None) -> str:
    text = inspect.cleandoc(doc or "").split("\n\n")[0]
    return " ".join(text.split()).replace("``", "`")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_env_section() -> list[str]:
    lines = [
        "### `config.env`",
        "",
        "Read by every process; a variable in the environment wins over the file. Keep the file "
        "to yourself (`chmod 600 config.env`): it holds keys.",
        "",
        "| variable | default | what |",
        "|---|---|---|",
    ]
    for name, default, what in ALPACA:
        lines.append(f"| `{name}` | {'required' if default is None else f'`{default}`'} | {_cell(what)} |")
    for fname, f in AlertConfig.model_fields.items():
        allowed = _range(f.metadata)
        what = (f.description or "") + (f" Allowed: {allowed}." if allowed else "")
        default = "unset" if f.default is None or f.default == () else _value(f.default)
        lines.append(f"| `{variable(fname)}` | {default} | {_cell(what)} |")
    kinds = ", ".join(f"`{k}`" for k in AlertKind)
    lines += ["", f"Alert kinds (`ALERT_EVENTS`): {kinds}.", ""]
    for k in AlertKind:
        doc = _kind_doc(k)
        if doc:
            lines.append(f"- `{k}`: {doc}")
    return lines


def _kind_doc(kind: AlertKind) -> str:
    """The attribute docstring of an AlertKind member (read from the source)."""
    src = inspect.getsource(AlertKind)
    marker = f'{kind.name} = "{kind.value}"'
    i = src.find(marker)
    if i < 0:
        return ""
    rest = src[i + len(marker):].lstrip()
    if not rest.startswith('"""'):
        return ""
    return " ".join(rest[3:rest.index('"""', 3)].split())


def strategy_section() -> list[str]:
    lines = [
        "### Strategy files: `config/rotation_strategy.json`, `config/psm_strategy.json`",
        "",
        "Strict: an unknown key, a wrong type or an out-of-range value is an error naming the file and "
        "the key. `config/best_params.json` (the optimizer's output) overrides keys by their dotted name "
        "(`section.key`). Defaults differ between the strategies where two columns say so.",
        "",
    ]
    tops: dict[str, dict[str, Any]] = {}
    for strat, model in STRATEGY_MODELS:
        for name, f in model.model_fields.items():
            tops.setdefault(name, {})[strat] = f
    plain = [n for n, by in tops.items() if not any(_section_model(f) for f in by.values())]
    lines += ["#### top level", "", "| key | type | allowed | rotation | psm |", "|---|---|---|---|---|"]
    for name in plain:
        by = tops[name]
        f = next(iter(by.values()))
        kinds = " / ".join(dict.fromkeys(_type(x.annotation) for x in by.values()))
        lines.append(f"| `{name}` | {_cell(kinds)} | {_cell(_range(f.metadata))} | "
                     f"{_cell(_default(by.get('rotation')))} | {_cell(_default(by.get('psm')))} |")  # fmt: skip
    for name, by in tops.items():
        sections = {s: f for s, f in by.items() if _section_model(f)}
        if not sections:
            continue
        model = _section_model(next(iter(sections.values())))
        assert model is not None
        who = " and ".join(sorted(sections, key=["rotation", "psm"].index))
        described = any(kf.description for kf in model.model_fields.values())
        head = "| key | type | allowed | rotation | psm |" + (" what |" if described else "")
        lines += ["", f"#### `{name}` ({who})", "", _first_paragraph(model.__doc__), "",
                  head, "|---" * head.count(" |") + "|"]  # fmt: skip
        defaults = {s: f.default for s, f in sections.items()}
        for key, kf in model.model_fields.items():
            cols = []
            for s in ("rotation", "psm"):
                cols.append(_value(getattr(defaults[s], key)) if s in defaults else "—")
            lines.append(f"| `{key}` | {_cell(_type(kf.annotation))} | {_cell(_range(kf.metadata))} | "
                         f"{_cell(cols[0])} | {_cell(cols[1])} |"
                         + (f" {_cell(kf.description or '')} |" if described else ""))  # fmt: skip
    return lines


def _section_model(f: Any) -> type[BaseModel] | None:
    t = f.annotation
    return t if inspect.isclass(t) and issubclass(t, BaseModel) else None


def _default(f: Any) -> str:
    return "—" if f is None else _value(f.default)


def render_reference() -> str:
    """The section, markers included."""
    return "\n".join([BEGIN, "", *config_env_section(), "", *strategy_section(), "", END]) + "\n"


def replace_section(text: str, section: str) -> str:
    """``text`` with its generated section replaced by ``section``; ValueError without markers."""
    i, j = text.find(BEGIN), text.find(END)
    if i < 0 or j < i:
        raise ValueError(f"the README has no generated section ({BEGIN!r} ... {END!r})")
    return text[:i] + section.rstrip("\n") + text[j + len(END):]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    section = render_reference()
    if not args:
        sys.stdout.write(section)
        return 0
    if len(args) != 2 or args[0] not in ("--write", "--check"):
        print("usage: python -m launch.config_reference [--write|--check README.md]", file=sys.stderr)
        return 2
    path = Path(args[1])
    text = path.read_text(encoding="utf-8")
    new = replace_section(text, section)
    if args[0] == "--check":
        if new != text:
            print(f"{path}: the configuration reference is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    if new != text:
        path.write_text(new, encoding="utf-8")
        print(f"{path}: configuration reference updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared pieces of the parser fuzzers: the two hypothesis profiles, the input counter and
the strategies that build what the outside world might send.

Profiles (``FUZZ_PROFILE``, default ``quick``):

- ``quick`` (``make test``): a few hundred examples per parser, derandomized (the same
  inputs on every run), no deadline: never flaky, a few seconds per parser;
- ``long`` (``make chaos-fuzz``): at least 100,000 inputs per parser, still derandomized
  so that a failure replays with the same command.

Every fuzz test counts the inputs it fed to its parser with :func:`count`; the session's
summary prints the count per parser (``tests/fuzz/conftest.py``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROFILES = {
    "quick": 300,
    "long": 100_000,
}
_common = {
    "derandomize": True,
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": list(HealthCheck),
}
for _name, _n in PROFILES.items():
    settings.register_profile(f"fuzz-{_name}", max_examples=_n, **_common)

PROFILE = os.environ.get("FUZZ_PROFILE", "quick")
if PROFILE not in PROFILES:
    raise ValueError(f"FUZZ_PROFILE={PROFILE!r}: expected one of {', '.join(PROFILES)}")
MAX_EXAMPLES = PROFILES[PROFILE]


def fuzz(fn: Callable) -> Callable:
    """The active profile's settings, applied to one fuzz test."""
    return settings(settings.get_profile(f"fuzz-{PROFILE}"))(fn)


COUNTS: Counter[str] = Counter()
"""Inputs fed to each parser in this session."""


def count(parser: str, n: int = 1) -> None:
    COUNTS[parser] += n


# -- strategies: JSON values, and valid objects bent out of shape

texts = st.text(max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
    | st.sampled_from(["", "0", "-1", "1e400", "NaN", "inf", "12.5", "true", "True", " 7 "])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=8,
)


def _as_string(v: Any) -> Any:
    return repr(v) if isinstance(v, float) else str(v) if isinstance(v, int | bool) else v


@st.composite
def bent(draw: st.DrawFn, obj: dict, extra_keys: tuple[str, ...] = ()) -> dict:
    """``obj`` with some fields dropped, some numbers turned to strings (or back), some
    replaced by any JSON value, and perhaps unknown keys added."""
    out = dict(obj)
    keys = sorted(out)
    for k in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
        out.pop(k)
    for k in draw(st.lists(st.sampled_from(keys), max_size=3, unique=True)):
        if k in out:
            out[k] = _as_string(out[k])
    for k in draw(st.lists(st.sampled_from(keys + list(extra_keys)), max_size=3, unique=True)):
        out[k] = draw(json_values)
    if draw(st.booleans()):
        out.update(draw(st.dictionaries(texts, json_values, max_size=2)))
    return out


def maybe_bent(obj: dict, extra_keys: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    """Mostly ``obj`` bent, sometimes ``obj`` as it is, sometimes anything at all."""
    return st.one_of(bent(obj, extra_keys), bent(obj, extra_keys), st.just(obj), json_values)


__all__ = ["COUNTS", "MAX_EXAMPLES", "PROFILE", "bent", "count", "fuzz", "json_values", "maybe_bent", "scalars", "texts"]

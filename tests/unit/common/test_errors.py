"""common.errors: every error belongs to exactly one category, by what the caller does; catch
clauses in common/, engine/ and bridge/ never list a class beside one of its subclasses."""

from __future__ import annotations

import ast
import builtins
import importlib
from pathlib import Path

import pytest

from common.errors import (
    AlpacaAPIError,
    ConfigError,
    NetworkError,
    OperationalError,
    RefusedError,
    ResponseFormatError,
    TemporaryError,
    error_for_status,
)

ROOT = Path(__file__).resolve().parents[3]
CATEGORIES = (TemporaryError, OperationalError, RefusedError)


def category(err: BaseException) -> type[Exception]:
    (cat,) = [c for c in CATEGORIES if isinstance(err, c)]  # exactly one
    return cat


@pytest.mark.parametrize(
    ("statuses", "cat"),
    [
        ((400, 403, 404, 422), RefusedError),
        ((402, 405, 409, 410, 413, 418, 451), RefusedError),  # any other 4xx: refused too
        ((401,), OperationalError),
        ((301, 302, 307, 308, 100), OperationalError),  # never followed: a wrong endpoint URL
        ((429, 500, 502, 503, 504, 599), TemporaryError),
    ],
)
def test_each_http_status_maps_to_one_category(statuses, cat) -> None:
    for status in statuses:
        err = error_for_status(status, None, "x", method="GET", path="/v2/x")
        assert isinstance(err, AlpacaAPIError) and category(err) is cat, status
        assert err.status == status


def test_every_status_has_a_category() -> None:
    for status in range(100, 600):
        category(error_for_status(status, None, "x"))


def test_errors_raised_without_a_status_have_their_category() -> None:
    assert category(NetworkError("no answer")) is TemporaryError
    assert category(ResponseFormatError("not JSON")) is TemporaryError
    assert category(ConfigError("bad key")) is OperationalError


def test_a_duplicate_client_order_id_is_a_refusal_callers_can_tell_apart() -> None:
    err = error_for_status(422, 40010001, "client_order_id must be unique")
    assert category(err) is RefusedError and type(err).__name__ == "DuplicateClientOrderIdError"


# ------------------------------------------------------------------ catch clauses


def _handlers(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Tuple):
            yield node


def _resolve(module: object, node: ast.expr) -> object:
    if isinstance(node, ast.Name):
        return getattr(module, node.id, None) or getattr(builtins, node.id, None)
    if isinstance(node, ast.Attribute):
        base = _resolve(module, node.value)
        return None if base is None else getattr(base, node.attr, None)
    return None


def test_no_catch_clause_lists_a_subclass_of_a_class_it_catches() -> None:
    found = []
    checked = 0
    for pkg in ("common", "engine", "bridge"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            handlers = list(_handlers(path))
            if not handlers:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            module = importlib.import_module(name)
            for h in handlers:
                assert isinstance(h.type, ast.Tuple)
                classes = [_resolve(module, e) for e in h.type.elts]
                assert all(isinstance(c, type) for c in classes), (path, h.lineno, classes)
                checked += 1
                for a in classes:
                    for b in classes:
                        if a is not b and issubclass(a, b):  # type: ignore[arg-type]
                            found.append(f"{path.relative_to(ROOT)}:{h.lineno}: {a} is a {b}")
    assert checked > 10
    assert found == []

"""Config files (design.md §4): strategy configs and best_params.json as a user or a broken
disk might leave them — keys missing, unknown or of the wrong type, values out of range,
not JSON, not UTF-8, nested without end. The only error is :class:`ConfigError`, naming the
file (and the key when there is one)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.config import (
    PsmStrategyConfig,
    RotationStrategyConfig,
    default_config_json,
    load_strategy_config,
)
from common.errors import ConfigError
from tests.fuzz.fuzzing import bent, count, fuzz, json_values

DEFAULTS = {s: default_config_json(s) for s in ("rotation", "psm")}
PROVENANCE = {"data_start": "2025-09-01", "data_end": "2025-10-15", "trials": 100, "score": 0.001,
              "created_at": "2025-10-16T08:00:00-04:00", "held_out_score": 0.0005, "seed": 7}  # fmt: skip
PARAMS = {"oes_config.buy_threshold": 0.56, "oes_config.horizon_weights": [0.2, 0.5, 0.3],
          "signal_aggregator_config.leverage_boosts.TQQQ": 1.1}  # fmt: skip


@st.composite
def configs(draw: st.DrawFn, strategy: str) -> object:
    base = json.loads(json.dumps(DEFAULTS[strategy]))
    sections = sorted(k for k, v in base.items() if isinstance(v, dict))
    for section in draw(st.lists(st.sampled_from(sections), max_size=2, unique=True)):
        base[section] = draw(bent(base[section], ("unknown_knob",)))
    if draw(st.booleans()):
        base = draw(bent(base, ("strategy", "symbols")))
    return base


@st.composite
def best_params(draw: st.DrawFn, strategy: str) -> object:
    entry = {"params": draw(st.one_of(st.just(PARAMS), bent(PARAMS, ("oes_config", "nope.knob", "oes_config.x.y.z")))),
             "provenance": draw(st.one_of(st.just(PROVENANCE), bent(PROVENANCE)))}  # fmt: skip
    return draw(st.one_of(st.just({strategy: entry}), bent({strategy: entry}, ("other",)), json_values))


def file_bytes(value: st.SearchStrategy[object]) -> st.SearchStrategy[bytes]:
    return st.one_of(
        value.map(lambda v: json.dumps(v).encode()),
        value.map(lambda v: json.dumps(v).encode()),
        st.binary(max_size=80),
        st.sampled_from([b"[" * 100_000, b'{"a":' * 50_000, b"\xff\xfe{}", b"NaN", b'{"oes_config": Infinity}', b""]),
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("config")
    return d / "strategy.json", d / "best_params.json"


@fuzz
@given(st.sampled_from(["rotation", "psm"]), st.data(), st.booleans())
def test_config_files_load_or_name_what_is_wrong(files: tuple[Path, Path], strategy: str, data: st.DataObject, with_params: bool) -> None:
    count("config file: common.config.load_strategy_config (+ best_params.json)")
    cfg_path, params_path = files
    cfg_path.write_bytes(data.draw(file_bytes(configs(strategy))))
    if with_params:
        params_path.write_bytes(data.draw(file_bytes(best_params(strategy))))
    try:
        cfg = load_strategy_config(strategy, cfg_path, params_path if with_params else None)
    except ConfigError as e:
        text = str(e)
        assert str(cfg_path) in text or str(params_path) in text, text
        return
    assert isinstance(cfg, RotationStrategyConfig | PsmStrategyConfig)


@pytest.mark.parametrize(
    ("content", "says"),
    [(b"[" * 100_000, "nested too deeply"), (b'\xff\xfe{"strategy": "rotation"}', "not UTF-8")],
)
def test_regression_deep_or_non_utf8_config_files_are_config_errors(tmp_path: Path, content: bytes, says: str) -> None:
    """Found by the fuzzer: RecursionError and UnicodeDecodeError escaped the config loader."""
    path = tmp_path / "rotation_strategy.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=says) as err:
        load_strategy_config("rotation", path)
    assert str(path) in str(err.value)
    params = tmp_path / "best_params.json"
    params.write_bytes(content)
    path.write_text(json.dumps(DEFAULTS["rotation"]))
    with pytest.raises(ConfigError, match=says) as err:
        load_strategy_config("rotation", path, params)
    assert str(params) in str(err.value)

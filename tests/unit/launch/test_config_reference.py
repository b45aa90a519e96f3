"""The README's configuration reference is the one the config models render (``make docs``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.config import PsmStrategyConfig, RotationStrategyConfig, default_config_json
from common.env import DEFAULTS, KEY_VAR, SECRET_VAR
from launch.alert_config import AlertConfig, variable
from launch.config_reference import BEGIN, END, main, render_reference, replace_section

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_holds_the_reference_the_models_render():
    text = README.read_text(encoding="utf-8")
    i, j = text.index(BEGIN), text.index(END) + len(END)
    assert text[i:j] + "\n" == render_reference(), "the README's configuration reference is stale: run `make docs`"


def test_the_reference_names_every_variable_section_and_key():
    ref = render_reference()
    for var in (KEY_VAR, SECRET_VAR, *DEFAULTS):
        assert f"| `{var}` |" in ref
    for f in AlertConfig.model_fields:
        assert f"| `{variable(f)}` |" in ref
    for model in (RotationStrategyConfig, PsmStrategyConfig):
        for name, f in model.model_fields.items():
            section = f.annotation
            if isinstance(section, type) and hasattr(section, "model_fields"):
                assert f"#### `{name}`" in ref
                for key in section.model_fields:
                    assert f"| `{key}` |" in ref
            else:
                assert f"| `{name}` |" in ref
    # each strategy's own default, in its column
    rot, psm = (default_config_json(s)["oes_config"]["buy_threshold"] for s in ("rotation", "psm"))
    assert rot != psm and f"| `buy_threshold` | number | ≥ 0.5, < 0.95 | `{rot}` | `{psm}` |" in ref


def test_write_replaces_only_the_section_and_check_says_when_it_is_stale(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n\n{BEGIN}\nold\n{END}\n\nafter\n")
    assert main(["--check", str(readme)]) == 1
    assert "stale: run `make docs`" in capsys.readouterr().err
    assert main(["--write", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# title\n\nbefore\n\n" + BEGIN) and text.endswith(END + "\n\nafter\n")
    assert main(["--check", str(readme)]) == 0
    with pytest.raises(ValueError, match="no generated section"):
        replace_section("no markers", render_reference())

"""The layers hold: only raygan.engine imports Ray, and only its compat module touches
private attributes of Ray Tune, Ray and Optuna (or of anything else: outside compat, an
object's private attributes are its own class's business)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import raygan

PACKAGE = Path(raygan.__file__).parent
# The private attributes raygan uses, each named in raygan.engine.compat's docstrings.
PRIVATE = (
    "_ot_trials",
    "_ot_study",
    "_sampler",
    "_storage",
    "_trial_id",
    "_n_steps",
    "metric_analysis",
    "metric_n_steps",
    "invalidate_json_state",
    "_logged",
    "malloc_trim",
    "_experiment",
    "storage_fs_path",
)


def _modules():
    return sorted(p for p in PACKAGE.rglob("*.py"))


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_engine_imports_ray():
    outside = [
        str(p.relative_to(PACKAGE))
        for p in _modules()
        if "ray" in _imported(p) and p.parent.name != "engine"
    ]
    assert outside == []


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _is_own(node: ast.expr) -> bool:
    """``self``, ``cls`` or ``super()``: where a class reaches its own private names."""
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


def test_private_attributes_only_in_compat():
    found = []
    for path in _modules():
        if path.name == "compat.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Attribute):
                continue
            named = node.attr in PRIVATE  # Tune's and Optuna's, public-looking or not
            if named or (_is_private(node.attr) and not _is_own(node.value)):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} .{node.attr}")
    assert found == []


def test_no_module_imports_another_modules_private_names():
    found = [
        f"{path.relative_to(PACKAGE)}:{node.lineno} {node.module}.{alias.name}"
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if _is_private(alias.name)
    ]
    assert found == []


def test_compat_says_once_when_versions_differ(monkeypatch):
    from raygan.engine import compat

    monkeypatch.setattr(compat, "_checked", [])
    monkeypatch.setattr(compat, "TESTED", {"ray": "0.1", "optuna": compat.TESTED["optuna"]})
    said: list[str] = []
    lines = compat.check_versions(said.append)
    assert len(lines) == 1 and said == lines
    assert lines[0].startswith("[raygan] ray ") and "tested with 0.1.x" in lines[0]
    assert compat.check_versions(said.append) == [] and len(said) == 1  # once per process


def test_compat_is_quiet_on_the_tested_versions(monkeypatch):
    from raygan.engine import compat

    monkeypatch.setattr(compat, "_checked", [])
    assert compat.check_versions(pytest.fail) == []


def test_a_required_private_attribute_that_is_gone_is_one_line():
    from raygan.engine import compat

    with pytest.raises(compat.IncompatibleVersion) as e:
        compat.optuna_trial_number(object(), "t0")
    message = str(e.value)
    assert message.startswith("object has no _ot_trials: raygan needs it")
    assert f"optuna {compat.TESTED['optuna']}.x" in message and "\n" not in message


def test_no_module_is_over_about_400_lines():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 420
    }
    assert long == {}

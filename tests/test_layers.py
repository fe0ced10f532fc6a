"""The layers hold: only raygan.engine imports Ray, and only its compat module touches
private attributes of Ray Tune, Ray and Optuna."""

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


def test_private_attributes_only_in_compat():
    found = []
    for path in _modules():
        if path.name == "compat.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in PRIVATE:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} .{node.attr}")
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


def test_no_module_is_over_about_400_lines():
    long = {
        str(p.relative_to(PACKAGE)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 420
    }
    assert long == {}

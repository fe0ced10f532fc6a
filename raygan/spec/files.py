"""Study files: where they are, reading one, and laying a profile and ``--set`` overrides
over its document (see :mod:`raygan.spec` for the rules)."""

from __future__ import annotations

import copy
import os
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from raygan.names import NAME_RE

BARE_WORD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
KEY_PATH_RE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")


class SpecError(ValueError):
    """One line: '<file>: <field>: <problem>'."""


def default_studies_dir() -> Path:
    """$RAYGAN_STUDIES if set; else the studies/ folder of the source tree raygan runs from
    (an editable install or a checkout); else ./studies (a non-editable install, run from
    a checkout or a folder that holds the study files)."""
    env = os.environ.get("RAYGAN_STUDIES")
    if env:
        return Path(env)
    source = Path(__file__).resolve().parents[2] / "studies"
    return source if source.is_dir() else Path("studies").absolute()


def available(studies_dir: Path) -> list[str]:
    if not studies_dir.is_dir():
        return []
    return sorted(p.stem for p in studies_dir.glob("*.toml") if p.is_file())


def display(path: Path | str) -> str:
    """The path as the user would type it: relative to cwd when it lies below it."""
    if isinstance(path, str):  # a location (maybe a URI) already as the user knows it
        return path
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def find(study: str | Path, studies_dir: Path) -> Path:
    """A study name (looked up in studies_dir) or a path to a .toml file -> the path."""
    text = str(study)
    is_path = isinstance(study, Path) or text.endswith(".toml") or "/" in text or os.sep in text
    if is_path:
        path = Path(study)
        if not NAME_RE.match(path.stem):
            raise SpecError(
                f"{text}: study name {path.stem!r} must match {NAME_RE.pattern} "
                "(letters, digits, '_', '.', '-')"
            )
        return path
    if not NAME_RE.match(text):
        raise SpecError(
            f"study name {text!r} must match {NAME_RE.pattern} (letters, digits, '_', '.', '-')"
        )
    path = studies_dir / f"{text}.toml"
    if not path.is_file():
        names = available(studies_dir)
        raise SpecError(
            f"unknown study {text!r}; available: {', '.join(names) or '(none)'} (in {studies_dir})"
        )
    return path


def read(path: Path, where: str) -> dict:
    """Parse a TOML file; every failure becomes a SpecError naming the file."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise SpecError(f"{where}: cannot read: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8-sig")  # tolerate a BOM that some editors write
    except UnicodeDecodeError as e:
        raise SpecError(
            f"{where}: not UTF-8: byte 0x{raw[e.start]:02x} at offset {e.start}"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{where}: TOML syntax error: {e}") from None


def deep_merge(base: dict, top: dict, *, replace: Sequence[str] = ()) -> dict:
    """base with top's keys laid over it; tables merge recursively except `replace`."""
    out = copy.deepcopy(base)
    for key, value in top.items():
        if key not in replace and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def leaf_paths(table: dict, prefix: str = "") -> list[str]:
    paths = []
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            paths += leaf_paths(value, path + ".")
        else:
            paths.append(path)
    return paths


def parse_value(item: str, text: str) -> Any:
    """A --set value: TOML syntax, or a bare word taken as a string."""
    try:
        parsed = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        parsed = None
    if parsed is not None and list(parsed) == ["v"]:
        return parsed["v"]
    if BARE_WORD_RE.match(text):
        return text
    raise SpecError(
        f'--set {item}: cannot parse {text!r} (use TOML syntax: 3, 0.5, true, "text", [1, 2])'
    )


def apply_override(document: dict, item: str) -> None:
    """Set one 'dotted.key=value' in place."""
    key, sep, text = item.partition("=")
    key, text = key.strip(), text.strip()
    if not sep:
        raise SpecError(f"--set {item}: expected KEY=VALUE, e.g. budget.num_samples=4")
    if not KEY_PATH_RE.match(key):
        raise SpecError(f"--set {item}: {key!r} is not a dotted key like budget.num_samples")
    if key.split(".")[0] == "profiles":
        raise SpecError(f"--set {item}: profiles cannot be set; choose one with the profile option")
    value = parse_value(item, text)
    *parents, last = key.split(".")
    table = document
    for i, part in enumerate(parents):
        child = table.setdefault(part, {})
        if not isinstance(child, dict):
            at = ".".join(parents[: i + 1])
            raise SpecError(f"--set {item}: {at} is {child!r}, not a table")
        table = child
    table[last] = value

"""The entry points: :func:`load_spec` (find, read, merge, validate) and
:func:`list_studies`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from raygan.spec.files import (
    SpecError,
    apply_override,
    available,
    deep_merge,
    default_studies_dir,
    display,
    find,
    leaf_paths,
    read,
)
from raygan.spec.model import StudySpec
from raygan.spec.tables import Where, check_keys, table_at
from raygan.spec.validate import PROFILE_KEYS, validate

# Tables a profile replaces instead of merging into (see the package docstring).
REPLACED_BY_PROFILE = ("search", "objectives")


def load_spec(
    study: str | Path,
    *,
    profile: str = "default",
    overrides: Sequence[str | tuple[str, str]] = (),
    studies_dir: Path | None = None,
) -> StudySpec:
    """Find, read, merge (profile, then overrides) and validate one study.

    ``study``: a name in ``studies_dir`` (default :func:`default_studies_dir`) or a path
    to a .toml file. ``overrides``: "dotted.key=value" items, or (item, label) where the
    label names what the user typed. Raises SpecError (one line) on any bad input."""
    studies_dir = Path(studies_dir) if studies_dir is not None else default_studies_dir()
    path = find(study, studies_dir)
    file = display(path)
    base = read(path, file)
    where = Where(file)

    # The profiles table: every profile a table of known keys (all checked, so a typo in
    # 'smoke' shows up even when running 'paper').
    profiles = table_at(where, base, "profiles")
    for pname, ptable in profiles.items():
        if not isinstance(ptable, dict):
            raise where.error(f"profiles.{pname}", f"{ptable!r} must be a table")
        check_keys(where, f"profiles.{pname}", ptable, PROFILE_KEYS)
    if profile not in profiles and profile != "default":
        names = sorted(set(profiles) | {"default"})
        raise where.error("profiles", f"unknown profile {profile!r}; available: {', '.join(names)}")

    doc = {k: v for k, v in base.items() if k != "profiles"}
    chosen = profiles.get(profile, {})
    doc = deep_merge(doc, chosen, replace=REPLACED_BY_PROFILE)
    if "search" in chosen and "start" not in chosen:
        doc.pop("start", None)  # written for the base's search space, not the profile's
    where.sources += [(p, f"profile {profile!r}") for p in leaf_paths(chosen)]

    set_tables = set()
    for override in overrides:
        # "key=value", or ("key=value", label) where a CLI flag stands for the --set
        item, label = (override, f"--set {override}") if isinstance(override, str) else override
        apply_override(doc, item)
        key = item.partition("=")[0].strip()
        where.sources.append((key, label))
        set_tables.add(key.split(".")[0])
    if "search" in set_tables and "start" not in set_tables:
        doc.pop("start", None)  # as for a profile: written for a search space now changed

    return validate(doc, where, name=path.stem, path=path.resolve(), profile=profile)


def list_studies(studies_dir: Path | None = None) -> list[tuple[str, str]]:
    """(name, description) of every study file, sorted by name.

    Only reads each file (no experiment import); a file that cannot be read or parsed
    shows its error in place of the description.
    """
    studies_dir = Path(studies_dir) if studies_dir is not None else default_studies_dir()
    out = []
    for name in available(studies_dir):
        path = studies_dir / f"{name}.toml"
        try:
            doc = read(path, display(path))
            description = doc.get("description", "")
            if not isinstance(description, str):
                raise SpecError(f"{display(path)}: description: {description!r} must be a string")
        except SpecError as e:
            description = f"error: {e}"
        out.append((name, description))
    return out

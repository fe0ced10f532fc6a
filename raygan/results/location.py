"""Locations of run directories as a user gives and reads them: a path, or a URI whose
``?query`` (pyarrow's options: ``s3://b/runs?region=x``) stays last."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def join_location(location: str, relpath: str) -> str:
    """``relpath`` inside the folder ``location`` (a path or a URI): in a URI, appended to
    its path, before any ``?query`` (``gs://b/runs?scheme=http`` and ``x`` give
    ``gs://b/runs/x?scheme=http``); an empty ``relpath`` gives the folder with a slash."""
    if "://" not in location:
        return f"{location.rstrip('/')}/{relpath}"
    scheme, netloc, path, query, fragment = urlsplit(location)
    return urlunsplit((scheme, netloc, f"{path.rstrip('/')}/{relpath}", query, fragment))


def split_location(location: str) -> tuple[str, str]:
    """(the folder holding it, its name) of the folder at ``location``, the inverse of
    ``join_location``: ``s3://b/runs/r1?region=x`` gives (``s3://b/runs?region=x``, ``r1``)."""
    if "://" not in location:
        folder, _, name = location.rstrip("/").rpartition("/")
        return folder, name
    scheme, netloc, path, query, fragment = urlsplit(location)
    folder, _, name = path.rstrip("/").rpartition("/")
    return urlunsplit((scheme, netloc, folder, query, fragment)), name

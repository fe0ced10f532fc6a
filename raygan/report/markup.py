"""The HTML pieces every section of the page is made of: cells, tables, inline figures.
Everything that came from data is escaped here (kaomoji hold < > and &)."""

from __future__ import annotations

import base64
import html
from pathlib import Path
from typing import Any

import numpy as np

from raygan.report.figures import Plot


def fmt(value: Any) -> str:
    """A cell's text: '-' for None or NaN, booleans in lower case, floats to 4 figures."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    if isinstance(value, bool | np.bool_):
        return str(bool(value)).lower()
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)


def table(
    header: list[str],
    rows: list[list],
    *,
    text_columns: tuple[int, ...] = (),
    left: tuple[int, ...] = (),
) -> str:
    """A table of escaped cells, numbers aligned right. The columns in ``text_columns``
    (0-based) hold samples of text and get the ``k`` class (the font stack with the
    glyphs, whitespace kept); they and the columns in ``left`` are aligned left."""

    def cell(tag: str, i: int, text: str) -> str:
        css = " class='k'" if i in text_columns and tag == "td" else ""
        css = css or (" class='l'" if i in text_columns or i in left else "")
        return f"<{tag}{css}>{html.escape(text)}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(cell("td", i, fmt(v)) for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    # the wrapper scrolls a table wider than the page instead of letting it run off the edge
    return f"<div class='wide'><table><tr>{head}</tr>{body}</table></div>"


def figure(out: Path, plot: Plot, *, level: int = 2) -> str:
    """A heading of ``level`` and the PNG ``out/plot.file`` inlined as a data URI, with
    its caption."""
    data = base64.b64encode((out / plot.file).read_bytes()).decode("ascii")
    return (
        f"<h{level}>{html.escape(plot.title)}</h{level}><figure>"
        f'<img alt="{html.escape(plot.file)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(plot.file)}: {html.escape(plot.caption)}</figcaption></figure>"
    )

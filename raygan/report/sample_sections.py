"""The page's "Samples" part: one section per front configuration, in the front table's
order, showing what its generator made (text: text_samples; images: image_samples)."""

from __future__ import annotations

import html
from pathlib import Path

from raygan.report.image_samples import image_summary, plot_grid, plot_nearest
from raygan.report.markup import figure
from raygan.report.run import Run
from raygan.report.samples import pooling, search_samples
from raygan.report.text_samples import text_samples
from raygan.results import front_rows, mean_std


def samples_sections(run: Run, out: Path) -> str:
    """The HTML of the Samples part (figures written into ``out``); '' when the run
    stored no samples of its front (an earlier raygan, or a family that makes none)."""
    if run.samples.empty:
        return ""
    front = front_rows(run.spec, run.front.to_dict("records"))
    sections = []
    for r in front.rows:
        rows = search_samples(run.samples, r.row["trial_id"])
        scores = ", ".join(
            f"{o.metric} {mean_std(*s)}" for o, s in zip(front.objectives, r.scores, strict=True)
        )
        title = f"<h3>trial {r.trial_index}: {html.escape(scores)}</h3>"
        if rows.empty:
            sections.append(f"{title}<p>No samples stored for this trial.</p>")
            continue
        intro = f"<p>{html.escape(pooling(rows))}.</p>"
        kinds = set(rows["kind"].dropna())
        if kinds == {"image"}:
            number = int(r.trial_index)
            grid, nearest = plot_grid(rows, number, out), plot_nearest(rows, number, out)
            body = (
                f"<p>{html.escape(image_summary(rows))}</p>"
                + figure(out, grid, level=4)
                + figure(out, nearest, level=4)
            )
        else:
            body = text_samples(rows)
        sections.append(title + intro + body)
    kind = "images" if set(run.samples["kind"].dropna()) == {"image"} else "text"
    lead = (
        "<p>What each front configuration generated, at the round that stands for it (the "
        "kept step); a configuration trained with several seeds shows their samples "
        f"pooled. Judgements as stored with the samples ({kind}); validation runs not "
        "included.</p>"
    )
    return "<h2>Samples of the front configurations</h2>" + lead + "".join(sections)

"""The samples of one image configuration as the page shows them, each a PNG of its own::

    samples_trial<N>.png   a grid of its generated images, by class
    nearest_trial<N>.png   its closest generated images, each above its nearest training
                           image with their distance: the memorization literature's
                           nearest-neighbour figure

Images come from samples.parquet as PNG bytes (8-bit greyscale), the nearest training
image too (``nearest_image``), so the figures need nothing but the run directory.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.image import imread

from raygan.report.figures import Plot, save_figure
from raygan.results.front import known

GRID = 64  # images in the grid
COLUMNS = 8
PAIRS = 8  # pairs in the nearest-neighbour figure


def decode(png: bytes) -> np.ndarray:
    """(height, width) float array in [0, 1] of a greyscale PNG (the first channel of a
    colour one). Raises ValueError for bytes that are no PNG."""
    if not isinstance(png, bytes | bytearray) or not png:
        raise ValueError("a sample's image is empty")
    # matplotlib's reader (Pillow underneath): no other image library for one call
    image = imread(io.BytesIO(png), format="png")
    return image if image.ndim == 2 else image[..., 0]


def _show(ax, png: bytes | None) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    if png is None or not known(png):
        ax.text(0.5, 0.5, "none", ha="center", va="center", fontsize=7, transform=ax.transAxes)
        return
    # pixel values as stored: white strokes on black, no rescaling per image
    ax.imshow(decode(png), cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")


def _grid_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """Up to GRID images, the replicates taking turns (sample 0 of each, then 1, ...),
    shown by class."""
    turns = rows.sort_values(["sample_index", "replicate"], kind="stable").head(GRID)
    return turns.sort_values(["label", "sample_index", "replicate"], kind="stable")


def plot_grid(rows: pd.DataFrame, trial_index: int, out: Path) -> Plot:
    """out/samples_trial<N>.png: up to GRID of the configuration's generated images
    (``rows``: its samples, pooled), each titled with its class."""
    shown = _grid_rows(rows)
    columns = min(COLUMNS, max(len(shown), 1))
    lines = max(math.ceil(len(shown) / columns), 1)
    fig = Figure(figsize=(0.85 * columns + 0.3, 0.95 * lines + 0.5), layout="constrained")
    axes = fig.subplots(lines, columns, squeeze=False)
    for ax, r in zip(axes.flat, shown.itertuples(), strict=False):
        _show(ax, r.image)
        if known(r.label):
            ax.set_title(str(int(r.label)), fontsize=7, pad=2)
    for ax in axes.flat[len(shown) :]:
        ax.set_axis_off()
    fig.suptitle(f"trial {trial_index}: generated samples", fontsize=10)
    name = f"samples_trial{trial_index}.png"
    save_figure(fig, out / name)
    caption = (
        f"{len(shown)} of its {len(rows)} stored samples, sorted by class (the number above "
        "each); pixel values as generated, black 0 to white 1."
    )
    return Plot(name, f"trial {trial_index}: generated samples", caption)


def closest(rows: pd.DataFrame, k: int = PAIRS) -> pd.DataFrame:
    """The ``k`` generated images nearest to a training image, closest first (one of
    identical images; ties by replicate and order)."""
    ranked = rows.dropna(subset=["distance"]).sort_values(
        ["distance", "replicate", "sample_index"], kind="stable"
    )
    return ranked.drop_duplicates("image").head(k)


def plot_nearest(rows: pd.DataFrame, trial_index: int, out: Path) -> Plot:
    """out/nearest_trial<N>.png: each of the configuration's closest generated images
    (top) above its nearest training image (bottom), their Euclidean distance (pixels in
    [0, 1], the distance DCR uses) written under the pair."""
    pairs = closest(rows)
    columns = max(len(pairs), 1)
    fig = Figure(figsize=(1.05 * columns + 0.9, 2.9), layout="constrained")
    axes = fig.subplots(2, columns, squeeze=False)
    for j, r in enumerate(pairs.itertuples()):
        _show(axes[0, j], r.image)
        _show(axes[1, j], r.nearest_image)
        if known(r.label):
            axes[0, j].set_title(f"class {int(r.label)}", fontsize=7, pad=2)
        copy = "\nexact copy" if known(r.exact_copy) and r.exact_copy else ""
        axes[1, j].set_xlabel(f"d = {r.distance:.3f}{copy}", fontsize=8)
    if pairs.empty:
        for ax in axes.flat:
            ax.set_axis_off()
        axes[0, 0].text(
            0.5, 0.5, "no distances stored", ha="center", transform=axes[0, 0].transAxes
        )
    else:
        axes[0, 0].set_ylabel("generated", fontsize=8)
        axes[1, 0].set_ylabel("nearest\ntraining", fontsize=8)
    fig.suptitle(
        f"trial {trial_index}: closest generated images and their nearest training images",
        fontsize=10,
    )
    name = f"nearest_trial{trial_index}.png"
    save_figure(fig, out / name)
    distances = ", ".join(f"{d:.3f}" for d in pairs["distance"])
    caption = (
        f"The {len(pairs)} generated images closest to a training image, closest first, each "
        "above its nearest training image; d: Euclidean distance in pixel space (values in "
        f"[0, 1]), the distance DCR uses. Distances: {distances or 'none'}."
    )
    return Plot(name, f"trial {trial_index}: nearest training images", caption)


def image_summary(rows: pd.DataFrame) -> str:
    """One line of facts: classes, exact copies, median distance (plain text)."""
    labels = rows["label"].dropna().astype(int).value_counts().sort_index()
    classes = ", ".join(f"{c}: {n}" for c, n in labels.items()) or "-"
    exact = rows["exact_copy"].dropna().astype(bool)
    distance = rows["distance"].dropna()
    median = f"{distance.median():.3f}" if len(distance) else "-"
    copies = f"{int(exact.sum())} of {len(exact)}" if len(exact) else "-"
    return (
        f"Samples per class {classes}; exact copies of a training image {copies}; "
        f"median distance to the nearest training image {median}."
    )

"""The report's samples (kaomoji and digit images, from samples.parquet or its parts) and
the page of a study still running: run directories built by hand (no Ray), samples judged
by raygan's real emoticon rules and real scikit-learn digits."""

from __future__ import annotations

import base64
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from matplotlib.image import imread
from PIL import Image
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from sklearn.datasets import load_digits

from raygan.data.kaomoji import kaomoji_corpus
from raygan.experiments import get_declaration
from raygan.metrics.emoticon_rules import EmoticonRules, copy_key
from raygan.report import write_report
from raygan.report.image_samples import decode
from raygan.report.text_samples import DRAW, draw
from raygan.results import (
    SAMPLES_FILE,
    RunStore,
    history_schema,
    pareto_mask,
    sample_schema,
    trial_schema,
)
from raygan.spec import dump_toml, load_spec

CREATED = "2026-01-02T03:04:05+00:00"


# --- run directories ---------------------------------------------------------------------


def _trial_rows(spec, values: dict[int, tuple], study: str) -> list[dict]:
    """trials.parquet rows: ``values`` maps trial_index -> its two objectives' values."""
    rows = []
    for i, scores in values.items():
        row = {"study": study, "run": "run1", "trial_id": f"t{i}", "trial_index": i}
        row |= {"status": "completed", "seed": 1000 + i, "kept_step": 1, "n_replicates": 2}
        row |= {f"param_{p.name}": p.low if p.type != "categorical" else p.choices[0]
                for p in spec.search}  # fmt: skip
        row |= {o.metric: v for o, v in zip(spec.objectives, scores, strict=True)}
        row["finished_at"] = datetime(2026, 1, 2, 3, 5, i, tzinfo=UTC)
        rows.append(row)
    values_ = np.array([[r[o.metric] for o in spec.objectives] for r in rows], dtype=float)
    values_ = values_.reshape(len(rows), len(spec.objectives))  # (0, k) without trials
    for r, front in zip(rows, pareto_mask(values_, [o.mode for o in spec.objectives]), strict=True):
        r["pareto"], r["validated_front"] = bool(front), False
    return rows


def make_run(root: Path, study: str, values: dict[int, tuple], *, parts_only: bool = False):
    """A run directory of ``study`` (smoke profile): study.toml, run.json and the trials
    (as trials.parquet and history.parquet, or as part files only: a running study)."""
    run_dir = root / "run1"
    (run_dir / "parts").mkdir(parents=True)
    document = load_spec(study, profile="smoke").document
    (run_dir / "study.toml").write_text(dump_toml(document), encoding="utf-8")
    meta = {"study": study, "profile": "smoke", "run": "run1", "created": CREATED}
    (run_dir / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    spec = load_spec(run_dir / "study.toml")
    metrics = get_declaration(spec.experiment).metrics
    trials = _trial_rows(spec, values, study)
    history = [
        {k: t[k] for k in ("study", "run", "trial_id", "trial_index")}
        | {"step": s} | {o.metric: t[o.metric] for o in spec.objectives}
        for t in trials for s in (0, 1)
    ]  # fmt: skip
    if parts_only:
        store = RunStore(str(root), "run1")
        for t in trials:
            del t["pareto"], t["validated_front"]  # the engine knows the front only at the end
            store.write_part("trial", t["trial_id"], [t], trial_schema(spec, metrics))
            mine = [h for h in history if h["trial_id"] == t["trial_id"]]
            store.write_part("history", t["trial_id"], mine, history_schema(spec, metrics))
    else:
        pq.write_table(
            pa.Table.from_pylist(trials, schema=trial_schema(spec, metrics)),
            run_dir / "trials.parquet",
        )
        pq.write_table(
            pa.Table.from_pylist(history, schema=history_schema(spec, metrics)),
            run_dir / "history.parquet",
        )
    return run_dir


def write_samples(run_dir: Path, rows: list[dict], *, parts: bool = False) -> None:
    if parts:
        store = RunStore(str(run_dir.parent), run_dir.name)
        for key in dict.fromkeys(
            (r["trial_id"], r["replicate"], r["validation_run"]) for r in rows
        ):
            mine = [r for r in rows if (r["trial_id"], r["replicate"], r["validation_run"]) == key]
            name = f"{key[0]}-r{key[1]}-v{key[2]}-s{mine[0]['step']}"
            store.write_part("samples", key[0], mine, sample_schema(), key=name)
        return
    pq.write_table(pa.Table.from_pylist(rows, schema=sample_schema()), run_dir / SAMPLES_FILE)


def _identity(study: str, i: int, replicate: int, validation_run=None) -> dict:
    return {"study": study, "run": "run1", "trial_id": f"t{i}", "trial_index": i,
            "replicate": replicate, "validation_run": validation_run, "step": 1}  # fmt: skip


def _numbered(rows: list[dict]) -> list[dict]:
    counter: dict[tuple, int] = {}
    for r in rows:
        key = (r["trial_id"], r["replicate"], r["validation_run"])
        r["sample_index"] = counter[key] = counter.get(key, -1) + 1
    return rows


# --- kaomoji -----------------------------------------------------------------------------

CORPUS = kaomoji_corpus(size=95, seed=0)  # seqgan_tradeoff's training faces
RULES = EmoticonRules.from_training(CORPUS.train)
TRAIN_KEYS = {copy_key(t, RULES) for t in CORPUS.train}
HELDOUT_KEYS = {copy_key(t, RULES) for t in CORPUS.heldout}
FACE = CORPUS.train[4]  # (ノ・∀・)ノ
# the collapsed configuration: three strings, 600 / 300 / 100 of every 1000
COLLAPSED = [(FACE, 600), (FACE + "=3", 300), ("(ノ◕∀◕)ノ", 100)]
ESCAPED = "<b>&(^_^)"  # a near copy whose characters are HTML's own


def judge(text: str) -> dict:
    """A text sample's judgement as the seqgan family stores it (contract, issue 19)."""
    valid = RULES.is_emoticon(text)
    key = copy_key(text, RULES)
    nearest, distance, index = process.extractOne(
        text, CORPUS.train, scorer=Levenshtein.normalized_distance
    )
    return {"kind": "text", "text": text, "valid": valid,
            "novel_valid": valid and key not in TRAIN_KEYS, "exact_copy": text in CORPUS.train,
            "near_copy": key in TRAIN_KEYS, "heldout_hit": key in HELDOUT_KEYS,
            "nearest": nearest, "nearest_index": index, "distance": float(distance)}  # fmt: skip


def diverse_texts() -> list[str]:
    """1000 samples of a diverse generator: new faces, near and exact copies, junk."""
    eyes = ["^", "≧", "・", "´", "◕", "ﾟ", "＾", "•", ">", "<", "T", "o", "ˆ", "￣", "°"]
    mouths = ["▽", "∀", "ω", "_", "‿", "ｰ", "з", "◡", "o", "ヮ", "∇", "ڡ"]
    new = [f"({e}{m}{e})" for e in eyes for m in mouths]
    near = [t + "♪" for t in CORPUS.train[:20]] + ["ヽ" + t for t in CORPUS.train[20:30]]
    pool = new + near + [ESCAPED, "))^^(", "&(^_^)&"] + list(CORPUS.train[:10])
    rng = np.random.default_rng(7)
    return [pool[i] for i in rng.integers(0, len(pool), size=1000)]


def text_samples() -> list[dict]:
    study = "seqgan_tradeoff"
    judged: dict[str, dict] = {}

    def rows(i: int, replicate: int, texts: list[str], validation_run=None) -> list[dict]:
        for t in set(texts) - judged.keys():
            judged[t] = judge(t)
        return [_identity(study, i, replicate, validation_run) | judged[t] for t in texts]

    collapsed = [t for t, n in COLLAPSED for _ in range(n)]
    out = rows(0, 0, diverse_texts())
    out += rows(0, 0, ["VALIDATION (o_o)"] * 5, validation_run=0)  # not a search replicate
    out += rows(1, 0, collapsed) + rows(1, 1, collapsed)
    out += rows(2, 0, ["OFF THE FRONT (x_x)"] * 5)
    return _numbered(out)


TEXT_VALUES = {0: (0.30, 0.20), 1: (0.003, 0.05), 2: (0.02, 0.30)}  # front: 0 and 1


@pytest.fixture(scope="module")
def text_report(tmp_path_factory) -> tuple[Path, str, list[dict]]:
    run_dir = make_run(tmp_path_factory.mktemp("text"), "seqgan_tradeoff", TEXT_VALUES)
    rows = text_samples()
    write_samples(run_dir, rows)
    return run_dir, write_report(run_dir).read_text(encoding="utf-8"), rows


def _trial_section(page: str, index: int) -> str:
    start = page.index(f"<h3>trial {index}:")
    end = page.find("<h3>", start + 1)
    return page[start : end if end > 0 else None]


def _cells(section: str, css: str = "td class='k'") -> list[str]:
    import html

    return [html.unescape(c) for c in re.findall(rf"<{css}>(.*?)</", section, flags=re.S)]


def test_collapse_shows_its_three_strings_pooled_over_replicates(text_report):
    _, page, _ = text_report
    section = _trial_section(page, 1)
    assert "2000 samples of its 2 replicates (seeds), pooled, at step 1" in section
    assert "the top 3 of 3 distinct strings cover 100.0% of the 2000 samples" in section
    frequent = section[: section.index("New valid emoticons")]
    assert _cells(frequent) == [t for t, _ in COLLAPSED]
    counts = re.findall(r"<td class='k'>.*?</td><td>(\d+)</td><td>([\d.]+%)</td>", frequent)
    assert counts == [("1200", "60.0%"), ("600", "30.0%"), ("200", "10.0%")]
    assert (
        "<td class='l'>exact copy</td>" in frequent and "<td class='l'>near copy</td>" in frequent
    )


def test_diverse_configuration_draws_new_valid_faces(text_report):
    _, page, rows = text_report
    section = _trial_section(page, 0)
    novel = sorted({r["text"] for r in rows if r["trial_id"] == "t0" and r["novel_valid"]
                    and r["validation_run"] is None})  # fmt: skip
    assert len(novel) > DRAW
    drawn = _cells(section, "span class='k'")
    assert drawn == draw(novel) and len(drawn) == DRAW == len(set(drawn))
    assert set(drawn) <= set(novel)
    assert f"{DRAW} drawn at random (seed 0) of its {len(novel)} distinct ones" in section
    # the most frequent table covers its share honestly: 10 of many strings, far from all
    cover = re.search(r"cover ([\d.]+)% of the 1000 samples", section)
    assert cover is not None and float(cover.group(1)) < 10


def test_near_copies_beside_their_nearest_training_face(text_report):
    _, page, rows = text_report
    section = _trial_section(page, 0)
    near = section[section.index("<h4>Near copies") :]
    lines = re.findall(
        r"<tr><td class='k'>(.*?)</td><td>(\d+)</td><td class='k'>(.*?)</td><td>([\d.]+)</td>",
        near,
    )
    assert len(lines) == 8
    import html

    judged = {r["text"]: r for r in rows if r["trial_id"] == "t0"}
    for text, _, nearest, distance in lines:
        r = judged[html.unescape(text)]
        assert r["near_copy"] and not r["exact_copy"]
        assert html.unescape(nearest) == r["nearest"] and nearest != text
        assert float(distance) == pytest.approx(r["distance"], abs=1e-3)
    counts = [int(n) for _, n, _, _ in lines]
    assert counts == sorted(counts, reverse=True)  # the most frequent first


def test_everything_escaped_and_only_front_search_samples(text_report):
    _, page, _ = text_report
    assert ESCAPED not in page and "&lt;b&gt;&amp;(^_^)" in page
    assert "VALIDATION (o_o)" not in page  # validation runs are not pooled in
    assert "OFF THE FRONT" not in page and "<h3>trial 2:" not in page
    assert re.findall(r"<h3>trial (\d+):", page) == ["0", "1"]  # the front table's order
    assert '"Noto Sans CJK JP"' in page  # a font stack with the kaomoji's glyphs
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_no_samples_section_without_samples_parquet(tmp_path):
    run_dir = make_run(tmp_path, "seqgan_tradeoff", TEXT_VALUES)
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert "Samples" not in page and "<h3>" not in page
    assert "still running" not in page and "http-equiv" not in page


# --- digit images ------------------------------------------------------------------------

DIGITS = load_digits()
TRAIN = DIGITS.images[:300] / 16.0  # the training images, pixels in [0, 1]


def png(image: np.ndarray) -> bytes:
    """An image in [0, 1] as the contract stores it: 8-bit greyscale PNG."""
    buffer = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8), mode="L").save(buffer, "PNG")
    return buffer.getvalue()


def image_rows(i: int, replicate: int, images: list[np.ndarray], labels) -> list[dict]:
    out = []
    flat = (np.round(TRAIN * 255) / 255).reshape(len(TRAIN), -1)  # as their PNGs hold them
    for image, label in zip(images, labels, strict=True):
        stored = np.round(image * 255) / 255  # what the PNG holds
        distances = np.linalg.norm(flat - stored.reshape(1, -1), axis=1)
        j = int(np.argmin(distances))
        out.append(_identity("cluster_gan", i, replicate) | {
            "kind": "image", "image": png(image), "label": int(label),
            "exact_copy": bool(np.array_equal(np.round(TRAIN[j] * 255), np.round(stored * 255))),
            "nearest_image": png(TRAIN[j]), "nearest_index": j, "distance": float(distances[j]),
        })  # fmt: skip
    return out


def generated(seed: int, n: int) -> tuple[list[np.ndarray], list[int]]:
    """n digits a generator might make: training digits plus noise of growing size, three
    of them copied exactly."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(TRAIN), size=n, replace=False)
    scales = np.linspace(0.0, 0.5, n)
    scales[:3] = 0.0
    images = [np.clip(TRAIN[p] + s * rng.standard_normal((8, 8)), 0, 1)
              for p, s in zip(picks, scales, strict=True)]  # fmt: skip
    return images, [int(DIGITS.target[p]) for p in picks]


@pytest.fixture(scope="module")
def image_report(tmp_path_factory) -> tuple[Path, str, list[dict]]:
    run_dir = make_run(tmp_path_factory.mktemp("images"), "cluster_gan", {0: (0.9, 0.3),
                       1: (0.5, 0.1), 2: (0.4, 0.5)})  # fmt: skip
    rows = image_rows(0, 0, *generated(0, 40)) + image_rows(0, 1, *generated(1, 40))
    rows += image_rows(1, 0, *generated(2, 20))
    write_samples(run_dir, _numbered(rows))
    return run_dir, write_report(run_dir).read_text(encoding="utf-8"), rows


def test_png_bytes_decode_to_the_digit():
    assert np.allclose(decode(png(TRAIN[5])), np.round(TRAIN[5] * 255) / 255, atol=1e-6)


def test_grid_per_front_configuration_embedded(image_report):
    run_dir, page, _ = image_report
    for index, shown, stored in ((0, 64, 80), (1, 20, 20)):
        data = (run_dir / f"samples_trial{index}.png").read_bytes()
        assert f'src="data:image/png;base64,{base64.b64encode(data).decode()}"' in page
        section = _trial_section(page, index)
        assert f"{shown} of its {stored} stored samples, sorted by class" in section
        grid = imread(io.BytesIO(data))
        ratio = grid.shape[1] / grid.shape[0]  # 8 columns: 8 rows square, 3 rows wide
        assert 0.7 < ratio < 1.2 if index == 0 else ratio > 1.8
        assert grid[..., :3].std() > 0.1  # images drawn, not an empty canvas
    assert "<h3>trial 2:" not in page


def test_nearest_neighbour_figure_closest_first(image_report):
    run_dir, page, rows = image_report
    section = _trial_section(page, 0)
    mine = [r for r in rows if r["trial_id"] == "t0"]
    expected = sorted(r["distance"] for r in mine)[:8]
    shown = re.search(r"Distances: ([\d., ]+)\.", section)
    assert shown is not None
    assert [float(d) for d in shown.group(1).split(", ")] == pytest.approx(expected, abs=1e-3)
    assert expected[:3] == [0.0, 0.0, 0.0]  # the three exact copies lead
    data = (run_dir / "nearest_trial0.png").read_bytes()
    assert f'src="data:image/png;base64,{base64.b64encode(data).decode()}"' in page
    # exact copies of a training image, out of 80 samples: the facts line counts them
    copies = sum(r["exact_copy"] for r in mine)
    assert f"exact copies of a training image {copies} of 80" in section


# --- a study still running ---------------------------------------------------------------


def _banner_time(page: str) -> datetime:
    found = re.search(
        r"This study is still running: (\d+) trials? finished so far "
        r"\(at (\d\d:\d\d:\d\d) UTC\); this page reloads every 10 s\.",
        page,
    )
    assert found is not None
    return datetime.strptime(found.group(2), "%H:%M:%S")


def test_running_page_from_parts_only(tmp_path):
    run_dir = make_run(tmp_path, "seqgan_tradeoff", TEXT_VALUES, parts_only=True)
    # a retried trial: the earlier, failed attempt of t2 must not count twice
    spec = load_spec(run_dir / "study.toml")
    failed = {"study": "seqgan_tradeoff", "run": "run1", "trial_id": "t2", "trial_index": 2,
              "status": "failed", "finished_at": datetime(2026, 1, 2, 3, 4, tzinfo=UTC)}  # fmt: skip
    metrics = get_declaration(spec.experiment).metrics
    RunStore(str(tmp_path), "run1").write_part(
        "trial", "t2", [failed], trial_schema(spec, metrics), key="t2-attempt0"
    )
    rows = text_samples()
    # a part of a round before the kept one, as a running trial leaves: not shown
    earlier = [
        r | {"step": 0, "text": "EARLIER ROUND (o_o)"} for r in rows if r["trial_id"] == "t1"
    ]
    write_samples(run_dir, earlier[:5], parts=True)
    write_samples(run_dir, rows, parts=True)
    assert not (run_dir / "trials.parquet").exists()
    before = datetime.now(UTC)
    page = write_report(run_dir, running=True).read_text(encoding="utf-8")
    head = page[: page.index("</head>")]
    assert '<meta http-equiv="refresh" content="10">' in head
    assert "still running: 3 trials finished so far" in page
    at = _banner_time(page)
    seconds = (at.hour * 3600 + at.minute * 60 + at.second) - (
        before.hour * 3600 + before.minute * 60 + before.second
    )
    assert 0 <= seconds % 86400 <= 120
    assert page.index("still running") < page.index("<h2>")  # near the top
    # the front computed from the parts, and its samples read from their parts
    table = page[page.index("<h2>Pareto front (") :]
    assert re.findall(r"<tr><td>(\d+)</td>", table)[:2] == ["0", "1"]
    assert "<h2>Pareto front (2 trials)</h2>" in page
    assert "2000 samples of its 2 replicates (seeds), pooled, at step 1" in _trial_section(page, 1)
    assert "EARLIER ROUND" not in page
    # the same directory, not running: the same content without banner and reload
    page = write_report(run_dir).read_text(encoding="utf-8")
    assert "still running" not in page and "http-equiv" not in page
    assert "<h2>Pareto front (2 trials)</h2>" in page and "<h3>trial 1:" in page


def test_running_page_before_any_trial_finished(tmp_path):
    run_dir = make_run(tmp_path, "cluster_gan", {}, parts_only=True)
    page = write_report(run_dir, running=True).read_text(encoding="utf-8")
    assert "still running: 0 trials finished so far" in page
    assert "<h2>Pareto front (0 trials)</h2>" in page and "Samples" not in page
    assert (run_dir / "pareto.png").read_bytes().startswith(b"\x89PNG")

"""raygan.spec: study files -> validated specs. Pure and fast: no Ray, no training."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from pathlib import Path

import pytest

from raygan.spec import (
    Objective,
    PaperReference,
    Param,
    SpecError,
    StudySpec,
    dump_toml,
    list_studies,
    load_spec,
)

STUDIES = Path(__file__).resolve().parent.parent / "studies"

# A small valid study; bad inputs below are made from it by one text substitution.
BASE = """\
description = "test study"
experiment = "seqgan"
seed = 0
sampler = "tpe"

[data]
size = 20

[fixed]
mle_epochs = 1

[search.duplication]
type = "int"
low = 1
high = 5

[search.temperature]
type = "float"
low = 0.5
high = 1.5

[objectives]
validity = "max"
memorization = "min"

[budget]
num_samples = 4
max_concurrent = 2

[resources]
cpus = 1
gpus = 0
"""


def write(tmp_path: Path, text: str, name: str = "x") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def sub(old: str, new: str) -> str:
    assert old in BASE, old  # guards the test table itself, not user input
    return BASE.replace(old, new, 1)


# -----------------------------------------------------------------------------
# the real study


def test_seqgan_tradeoff_default():
    spec = load_spec("seqgan_tradeoff")
    assert spec.name == "seqgan_tradeoff"
    assert spec.profile == "default"
    assert spec.path == STUDIES / "seqgan_tradeoff.toml"
    assert spec.experiment == "seqgan"
    assert spec.sampler == "auto"
    assert spec.seed == 0
    assert spec.data == {"source": "kaomoji", "emotion": ["laugh"], "size": 95}
    assert spec.fixed["d_pretrain_epochs"] == 2
    names = [p.name for p in spec.search]
    assert names == ["duplication", "copy_penalty", "mle_epochs", "top_p", "rounds"]
    assert spec.search[0] == Param("duplication", "int", 1, 10)
    assert spec.search[3] == Param("top_p", "float", 0.7, 1.0)
    # temperature changes only how a trained model is sampled: swept, not searched
    assert spec.sweep == {"temperature": (0.7, 1.0, 1.3)}
    assert (spec.fixed["g_lr"], spec.fixed["d_lr"], spec.fixed["mle_duplicate"]) == (
        0.01,
        1e-3,
        False,
    )
    assert spec.objectives == (
        Objective("novel_valid_distinct", "max", reference=0.0),
        Objective("memorization", "min", reference=1.0),
    )
    assert spec.result_round == "best"
    assert (spec.replicates, spec.aggregate, spec.validate) == (2, "mean", 3)
    assert (spec.num_samples, spec.max_concurrent, spec.max_failures) == (32, 2, 1)
    assert spec.time_budget_s == 0.0
    assert (spec.cpus, spec.gpus) == (1.0, 0.25)
    assert spec.grid_size() is None
    assert "profiles" not in spec.document


def test_seqgan_tradeoff_paper():
    spec = load_spec("seqgan_tradeoff", profile="paper")
    assert spec.sampler == "grid"
    assert spec.search == (Param("duplication", "int", 1, 10),)
    assert spec.search[0].grid_values() == list(range(1, 11))
    assert spec.grid_size() == 10
    assert spec.num_samples == 10
    assert spec.max_concurrent == 2  # budget deep-merged: the base's value stays
    # fixed deep-merged: the profile's values over the base's
    assert spec.fixed["mle_epochs"] == 50
    assert spec.fixed["rounds"] == 20
    assert spec.fixed["rollouts"] == 16
    assert spec.document["sampler"] == "grid"
    assert spec.result_round == "last"  # the paper scores each model where training ends
    assert spec.fixed["mle_duplicate"] is True  # the paper pre-trains on the duplicated data
    # the paper's own objectives: validity and its "regenerated" ratio, one seed, no validation
    assert [(o.metric, o.mode) for o in spec.objectives] == [
        ("validity", "max"),
        ("exact_copy", "min"),
    ]
    assert (spec.replicates, spec.validate) == (1, 0)


def test_seqgan_tradeoff_smoke():
    spec = load_spec("seqgan_tradeoff", profile="smoke")
    assert spec.num_samples == 2
    assert spec.fixed["emb_dim"] == 16
    assert spec.fixed["mle_epochs"] == 1
    assert [p.name for p in spec.search] == ["duplication", "rounds"]
    assert spec.search[0].high == 3
    assert spec.sampler == "auto"


def test_list_studies_real():
    studies = dict(list_studies())
    assert studies["seqgan_tradeoff"].startswith("SeqGAN kaomoji")


# -----------------------------------------------------------------------------
# finding files


def test_load_by_path_and_env(tmp_path, monkeypatch):
    path = write(tmp_path, BASE, "mine")
    assert load_spec(path).name == "mine"
    assert load_spec(str(path)).name == "mine"
    assert load_spec("mine", studies_dir=tmp_path).path == path.resolve()
    monkeypatch.setenv("RAYGAN_STUDIES", str(tmp_path))
    assert load_spec("mine").description == "test study"
    assert list_studies() == [("mine", "test study")]


def test_error_uses_path_relative_to_cwd(tmp_path, monkeypatch):
    write(tmp_path, sub("num_samples = 4", "num_samples = 0"), "rel")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SpecError) as e:
        load_spec("rel.toml")
    assert str(e.value) == "rel.toml: budget.num_samples: 0 must be an integer >= 1"


def test_unknown_study_lists_available(tmp_path):
    write(tmp_path, BASE, "alpha")
    write(tmp_path, BASE, "beta")
    with pytest.raises(SpecError, match="unknown study 'foo'; available: alpha, beta"):
        load_spec("foo", studies_dir=tmp_path)


def test_list_studies_survives_broken_file(tmp_path):
    write(tmp_path, BASE, "good")
    write(tmp_path, "description = ", "broken")
    (tmp_path / "latin1.toml").write_bytes(b'description = "caf\xe9"\n')
    studies = dict(list_studies(tmp_path))
    assert studies["good"] == "test study"
    assert studies["broken"].startswith("error: ") and "broken.toml" in studies["broken"]
    assert "not UTF-8" in studies["latin1"]
    assert list_studies(tmp_path / "missing") == []


def test_non_utf8_and_unreadable(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(b'description = "caf\xe9"\n')
    with pytest.raises(SpecError, match=r"bad\.toml: not UTF-8: byte 0xe9"):
        load_spec(path)
    with pytest.raises(SpecError, match=r"nothere\.toml: cannot read"):
        load_spec(tmp_path / "nothere.toml")


# -----------------------------------------------------------------------------
# profiles


PROFILED = (
    BASE
    + """
[profiles.narrow]
fixed = { rollouts = 2 }
data = { max_len = 30 }
budget = { num_samples = 1 }
search = { temperature = { type = "float", low = 0.8, high = 0.9 } }
objectives = { novel_validity = "max" }

[profiles.nosearch_conflict]
fixed = { duplication = 7 }
search = { rounds = { type = "int", low = 1, high = 2 } }
"""
)


def test_profile_deep_merge_and_replacement(tmp_path):
    spec = load_spec(write(tmp_path, PROFILED), profile="narrow")
    assert spec.profile == "narrow"
    assert spec.fixed == {"mle_epochs": 1, "rollouts": 2}  # merged
    assert spec.data == {"size": 20, "max_len": 30}  # merged
    assert (spec.num_samples, spec.max_concurrent) == (1, 2)  # merged
    assert spec.search == (Param("temperature", "float", 0.8, 0.9),)  # replaced
    assert spec.objectives == (Objective("novel_validity", "max"),)  # replaced


def test_searched_in_base_fixed_in_profile(tmp_path):
    # duplication is searched in the base; the profile fixes it and searches rounds instead
    spec = load_spec(write(tmp_path, PROFILED), profile="nosearch_conflict")
    assert [p.name for p in spec.search] == ["rounds"]
    config = spec.trial_config({"rounds": 2})
    assert config["duplication"] == 7
    assert config["temperature"] == 1.0  # searched in the base, now the Config default


def test_default_profile_without_table(tmp_path):
    spec = load_spec(write(tmp_path, PROFILED))
    assert spec.profile == "default"
    assert [p.name for p in spec.search] == ["duplication", "temperature"]


# -----------------------------------------------------------------------------
# overrides


def test_overrides_on_real_study():
    spec = load_spec(
        "seqgan_tradeoff",
        overrides=[
            "budget.num_samples=4",
            "fixed.emb_dim=32",
            "search.duplication.high=20",
            "sampler=tpe",
            "objectives.validity=max",
            "result.reference.validity=0",  # the study keeps each trial's best round
        ],
    )
    assert spec.num_samples == 4
    assert spec.fixed["emb_dim"] == 32
    assert spec.search[0] == Param("duplication", "int", 1, 20)
    assert spec.sampler == "tpe"
    assert [o.metric for o in spec.objectives] == [
        "novel_valid_distinct",
        "memorization",
        "validity",
    ]
    assert spec.document["budget"]["num_samples"] == 4


def test_overrides_apply_after_profile():
    spec = load_spec(
        "seqgan_tradeoff",
        profile="paper",
        overrides=["budget.num_samples=5", "search.duplication.high=5", "resources.gpus=0.5"],
    )
    assert (spec.num_samples, spec.grid_size(), spec.gpus) == (5, 5, 0.5)


def test_override_value_syntax(tmp_path):
    path = write(tmp_path, BASE)
    spec = load_spec(
        path,
        overrides=[
            'description="two words"',
            "data.emotion=['laugh', 'joy']",
            "fixed.mle_duplicate=false",
            "fixed.g_lr=1e-2",
            "data.source=my_faces.txt",  # a bare word with dots: a string
            "budget.time_budget_s = 60",  # spaces around '=' are fine
        ],
    )
    assert spec.description == "two words"
    assert spec.data["emotion"] == ["laugh", "joy"]
    assert spec.fixed["mle_duplicate"] is False
    assert spec.fixed["g_lr"] == 0.01
    # a path: made absolute against the current directory (trials run elsewhere)
    assert spec.data["source"] == str(Path.cwd() / "my_faces.txt")
    assert spec.time_budget_s == 60.0


# -----------------------------------------------------------------------------
# trial_config


def test_trial_config(tmp_path):
    spec = load_spec(write(tmp_path, BASE))
    config = spec.trial_config({"duplication": 3, "temperature": 0.7})
    assert config["duplication"] == 3
    assert config["temperature"] == 0.7
    assert config["mle_epochs"] == 1  # from [fixed]
    assert config["rollouts"] == 16  # Config default
    assert isinstance(config, dict)
    # params win over fixed; ints become floats where the setting is a float
    config = spec.trial_config({"mle_epochs": 5, "g_lr": 1})
    assert config["mle_epochs"] == 5
    assert config["g_lr"] == 1.0 and isinstance(config["g_lr"], float)
    with pytest.raises(SpecError, match=r"trial\.duplication: 0 must be >= 1"):
        spec.trial_config({"duplication": 0})
    with pytest.raises(SpecError, match=r"trial\.nope: unknown setting"):
        spec.trial_config({"nope": 1})


def test_trial_config_accepts_numpy_scalars(tmp_path):
    np = pytest.importorskip("numpy")
    spec = load_spec(write(tmp_path, BASE))
    config = spec.trial_config({"duplication": np.int64(4), "temperature": np.float64(0.9)})
    assert config["duplication"] == 4 and type(config["duplication"]) is int


def test_param_grid_values():
    assert Param("n", "int", 1, 10, step=3).grid_values() == [1, 4, 7, 10]
    assert Param("n", "int", 1, 10, step=3).grid_count() == 4
    assert Param("c", "categorical", choices=(True, False)).grid_values() == [True, False]
    with pytest.raises(ValueError):
        Param("x", "float", 0.0, 1.0).grid_values()


def test_grid_with_categorical_and_step(tmp_path):
    text = sub('sampler = "tpe"', 'sampler = "grid"').replace(
        '[search.temperature]\ntype = "float"\nlow = 0.5\nhigh = 1.5',
        '[search.mle_duplicate]\ntype = "categorical"\nchoices = [true, false]',
    )
    text = text.replace("high = 5", "high = 5\nstep = 2")
    spec = load_spec(write(tmp_path, text))
    assert spec.search[0].grid_values() == [1, 3, 5]
    assert spec.grid_size() == 6


def test_spec_is_frozen(tmp_path):
    spec = load_spec(write(tmp_path, BASE))
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.seed = 1  # type: ignore[misc]


# -----------------------------------------------------------------------------
# dump_toml


@pytest.mark.parametrize("profile", ["default", "smoke", "paper"])
def test_dump_toml_round_trips_real_study(profile, tmp_path):
    spec = load_spec("seqgan_tradeoff", profile=profile, overrides=["seed=7"])
    text = dump_toml(spec.document)
    assert tomllib.loads(text) == spec.document
    # the document as run, saved and loaded again, is the same study
    again = load_spec(write(tmp_path, text, "seqgan_tradeoff"))
    same = {f.name for f in dataclasses.fields(StudySpec)} - {"path", "profile"}
    for name in same:
        assert getattr(again, name) == getattr(spec, name), name


def test_dump_toml_round_trips_awkward_values():
    doc = {
        "s": 'quote " backslash \\ tab \t newline \n bell \x07 del \x7f (^_^) ＼(^o^)／',
        "i": -3,
        "f": 1e-5,
        "big": 1e16,
        "whole": 2.0,
        "inf": math.inf,
        "b": True,
        "list": [1, 2.5, "x", False, [1, 2]],
        "start": [{"duplication": 3, "key with space": 0.5}, {"n": [1, {"x": "y"}]}],
        "empty": {},
        "key with space": 1,
        "outer": {"inner": {"deep": 1, "deeper": {}}, "x": "y"},
        "only_tables": {"a": {"v": 1}, "b": {"v": 2}},
    }
    back = tomllib.loads(dump_toml(doc))
    assert back == doc
    assert isinstance(back["whole"], float)
    assert math.isnan(tomllib.loads(dump_toml({"n": math.nan}))["n"])


def test_dump_toml_rejects_unsupported():
    import datetime

    with pytest.raises(TypeError, match="date"):
        dump_toml({"d": datetime.date(2024, 1, 1)})
    with pytest.raises(TypeError, match="time"):
        dump_toml({"l": [{"a": datetime.time(1, 2)}]})


# -----------------------------------------------------------------------------
# bad inputs: every error is a SpecError whose one line names the field and the value

BAD = [
    # (id, study text, load_spec options, substrings the message must contain)
    ("syntax_error", sub("seed = 0", "seed = = 0"), {}, ["x.toml", "TOML syntax", "line 3"]),
    ("unknown_top_key", sub("seed = 0", 'seed = 0\nsampeler = "tpe"'), {}, ["sampeler", "unknown key", "allowed: description"]),
    ("unknown_budget_key", sub("max_concurrent = 2", "max_concurrent = 2\nnum_sample = 3"), {}, ["budget.num_sample:", "unknown key", "num_samples"]),
    ("seed_string", sub("seed = 0", 'seed = "zero"'), {}, ["seed:", "'zero'"]),
    ("seed_negative", sub("seed = 0", "seed = -1"), {}, ["seed:", "-1"]),
    ("num_samples_string", sub("num_samples = 4", 'num_samples = "4"'), {}, ["budget.num_samples:", "'4'"]),
    ("num_samples_zero", sub("num_samples = 4", "num_samples = 0"), {}, ["budget.num_samples: 0 must be an integer >= 1"]),
    ("num_samples_negative", sub("num_samples = 4", "num_samples = -3"), {}, ["budget.num_samples: -3"]),
    ("max_failures_negative", sub("max_concurrent = 2", "max_concurrent = 2\nmax_failures = -1"), {}, ["budget.max_failures: -1"]),
    ("time_budget_negative", sub("max_concurrent = 2", "max_concurrent = 2\ntime_budget_s = -5"), {}, ["budget.time_budget_s: -5"]),
    ("table_not_table", sub("[fixed]\nmle_epochs = 1", "").replace("seed = 0", "seed = 0\nfixed = 3"), {}, ["fixed:", "3 must be a table"]),
    ("low_gt_high", sub("low = 1\nhigh = 5", "low = 5\nhigh = 2"), {}, ["search.duplication: low (5) must be <= high (2)"]),
    ("int_float_bound", sub("low = 1\nhigh = 5", "low = 1.5\nhigh = 5"), {}, ["search.duplication.low:", "1.5 must be an integer"]),
    ("bound_string", sub("low = 0.5", 'low = "0.5"'), {}, ["search.temperature.low:", "'0.5'"]),
    ("bound_breaks_setting", sub("low = 0.5", "low = 0.001"), {}, ["search.temperature.low:", "0.001 must be >= 0.01"]),
    ("logfloat_low_zero", BASE + '[search.g_lr]\ntype = "logfloat"\nlow = 0\nhigh = 0.1\n', {}, ["search.g_lr.low:", "0 must be > 0"]),
    ("unknown_param_type", sub('type = "int"', 'type = "uniform"'), {}, ["search.duplication.type:", "'uniform'"]),
    ("type_does_not_fit", sub('type = "int"', 'type = "float"'), {}, ["search.duplication.type:", "'float'", "'int'"]),
    ("step_on_float", sub("high = 1.5", "high = 1.5\nstep = 1"), {}, ["search.temperature.step:", "unknown key"]),
    ("step_zero", sub("high = 5", "high = 5\nstep = 0"), {}, ["search.duplication.step:", "0 must be an integer >= 1"]),
    ("missing_high", sub("low = 1\nhigh = 5", "low = 1"), {}, ["search.duplication:", "'high'"]),
    ("missing_type", sub('[search.duplication]\ntype = "int"', "[search.duplication]"), {}, ["search.duplication:", "'type'"]),
    ("empty_choices", BASE + '[search.mle_duplicate]\ntype = "categorical"\nchoices = []\n', {}, ["search.mle_duplicate.choices:", "[]"]),
    ("duplicate_choices", BASE + '[search.mle_duplicate]\ntype = "categorical"\nchoices = [true, false, true]\n', {}, ["search.mle_duplicate.choices:", "True", "more than once"]),
    ("duplicate_float_choices", BASE + '[search.g_lr]\ntype = "categorical"\nchoices = [0.01, 1]\n[search.d_lr]\ntype = "categorical"\nchoices = [1, 1.0]\n', {}, ["search.d_lr.choices:", "1.0", "more than once"]),
    ("choice_not_scalar", BASE + '[search.rollouts]\ntype = "categorical"\nchoices = [4, [8]]\n', {}, ["search.rollouts.choices:", "[8] must be a string, number or boolean"]),
    ("choice_breaks_setting", BASE + '[search.rollouts]\ntype = "categorical"\nchoices = [4, 0]\n', {}, ["search.rollouts.choices:", "0 must be >= 1"]),
    ("gpus_too_big", sub("gpus = 0", "gpus = 1.5"), {}, ["resources.gpus:", "1.5", "0 <= gpus <= 1"]),
    ("gpus_negative", sub("gpus = 0", "gpus = -0.1"), {}, ["resources.gpus:", "-0.1"]),
    ("cpus_zero", sub("cpus = 1", "cpus = 0"), {}, ["resources.cpus: 0 must be a number > 0"]),
    ("unknown_sampler", sub('sampler = "tpe"', 'sampler = "cmaes"'), {}, ["sampler: 'cmaes' must be one of 'auto', 'gp', 'tpe', 'nsga2', 'random', 'grid'"]),
    ("unknown_metric", sub('validity = "max"', 'fidelity = "max"'), {}, ["objectives.fidelity:", "unknown metric", "validity"]),
    ("mode_maximize", sub('validity = "max"', 'validity = "maximize"'), {}, ["objectives.validity:", "'maximize'", "'max' or 'min'"]),
    ("no_objectives", sub('validity = "max"\nmemorization = "min"', ""), {}, ["objectives:", "at least one"]),
    ("param_not_in_config", BASE + '[search.learning_rate]\ntype = "float"\nlow = 0.1\nhigh = 0.2\n', {}, ["search.learning_rate:", "unknown key", "duplication"]),
    ("fixed_and_searched", sub("mle_epochs = 1", "mle_epochs = 1\nduplication = 2"), {}, ["search.duplication:", "duplication = 2", "[fixed]"]),
    ("fixed_out_of_range", sub("mle_epochs = 1", "duplication = 0"), {}, ["fixed.duplication: 0 must be >= 1"]),
    ("fixed_unknown", sub("mle_epochs = 1", "epochs = 1"), {}, ["fixed.epochs:", "unknown key", "mle_epochs"]),
    ("fixed_wrong_type", sub("mle_epochs = 1", 'mle_epochs = "many"'), {}, ["fixed.mle_epochs:", "'many' must be an integer"]),
    ("data_size_out_of_range", sub("size = 20", "size = 1"), {}, ["data.size: 1 must be >= 2"]),
    ("data_list_not_list", sub("size = 20", 'emotion = "laugh"'), {}, ["data.emotion:", "'laugh' must be a list"]),
    ("unknown_experiment", sub('experiment = "seqgan"', 'experiment = "stylegan"'), {}, ["experiment:", "'stylegan'", "is not a known experiment", "seqgan"]),
    ("grid_float_param", sub('sampler = "tpe"', 'sampler = "grid"'), {}, ["search.temperature:", "'float'", "'grid'"]),
    ("grid_too_big", sub('sampler = "tpe"', 'sampler = "grid"').replace("high = 5", "high = 1000").replace('[search.temperature]\ntype = "float"\nlow = 0.5\nhigh = 1.5', '[search.rollouts]\ntype = "int"\nlow = 1\nhigh = 11'), {}, ["search:", "11000 points", "10000"]),
    ("unknown_profile", BASE, {"profile": "fast"}, ["profiles:", "'fast'", "available: default"]),
    ("profile_unknown_key", BASE + "[profiles.smoke]\nfixd = { mle_epochs = 1 }\n", {"profile": "smoke"}, ["profiles.smoke.fixd:", "unknown key"]),
    ("profile_bad_value", BASE + "[profiles.tiny]\nbudget = { num_samples = 0 }\n", {"profile": "tiny"}, ["budget.num_samples: 0", "from profile 'tiny'"]),
    ("set_no_equals", BASE, {"overrides": ["budget.num_samples"]}, ["--set budget.num_samples:", "KEY=VALUE"]),
    ("set_bad_value", BASE, {"overrides": ["budget.num_samples=4 4"]}, ["--set budget.num_samples=4 4:", "cannot parse '4 4'", "TOML syntax"]),
    ("set_bad_key", BASE, {"overrides": ["budget..x=1"]}, ["--set budget..x=1:", "'budget..x'"]),
    ("set_unknown_key", BASE, {"overrides": ["budget.num_sample=4"]}, ["budget.num_sample:", "unknown key", "--set budget.num_sample=4"]),
    ("set_bad_value_for_field", BASE, {"overrides": ["fixed.mle_epochs=-1"]}, ["fixed.mle_epochs: -1 must be >= 0", "--set fixed.mle_epochs=-1"]),
    ("set_into_scalar", BASE, {"overrides": ["sampler.kind=tpe"]}, ["--set sampler.kind=tpe:", "'tpe'", "not a table"]),
    ("set_profiles", BASE, {"overrides": ["profiles.x=1"]}, ["--set profiles.x=1:", "profiles"]),
    ("set_missing_param_type", BASE, {"overrides": ["search.rounds.high=5"]}, ["search.rounds:", "'type'", "--set search.rounds.high=5"]),
    ("result_round_unknown", BASE + '[result]\nround = "worst"\n', {}, ["result.round:", "'worst'", "'last'", "'best'"]),
    ("result_unknown_key", BASE + '[result]\nrounds = "best"\n', {}, ["result.rounds:", "unknown key", "round, reference"]),
    ("result_reference_not_table", BASE + '[result]\nreference = 0\n', {}, ["result.reference:", "0 must be a table"]),
    ("result_reference_unknown_metric", BASE + '[result]\nreference = { fidelity = 1 }\n', {}, ["result.reference.fidelity:", "unknown metric", "validity, memorization, novel_valid_distinct"]),
    ("result_reference_not_number", BASE + '[result]\nreference = { validity = "low" }\n', {}, ["result.reference.validity:", "'low' must be a finite number"]),
    ("result_best_without_reference", BASE + '[result]\nround = "best"\nreference = { validity = 0 }\n', {}, ["result.reference:", "no value for memorization", "worst value of each"]),
    ("start_not_tables", BASE.replace("seed = 0", "seed = 0\nstart = [3]"), {}, ["start: [3] must be [[start]] tables"]),
    ("start_unknown_setting", BASE + "[[start]]\nduplication = 2\ntemperature = 1.0\nrounds = 3\n", {}, ["start[0].rounds:", "not a searched setting", "duplication, temperature"]),
    ("start_out_of_range", BASE + "[[start]]\nduplication = 2\ntemperature = 1.0\n[[start]]\nduplication = 9\ntemperature = 1.0\n", {}, ["start[1].duplication: 9 must be between 1 and 5 (search.duplication)"]),
    ("start_float_for_int", BASE + "[[start]]\nduplication = 2.0\ntemperature = 1.0\n", {}, ["start[0].duplication: 2.0 must be an integer"]),
    ("start_missing_setting", BASE + "[[start]]\nduplication = 2\n", {}, ["start[0]:", "no value for temperature", "every searched setting"]),
    ("start_with_grid", BASE.replace('sampler = "tpe"', 'sampler = "grid"').replace('[search.temperature]\ntype = "float"\nlow = 0.5\nhigh = 1.5\n', "") + "[[start]]\nduplication = 2\n", {}, ["start:", "'grid' visits every grid point itself"]),
    ("start_off_step", BASE.replace("high = 5", "high = 5\nstep = 2") + "[[start]]\nduplication = 2\ntemperature = 1.0\n", {}, ["start[0].duplication: 2 must be between 1 and 5 in steps of 2"]),
    ("start_set_out_of_range", BASE, {"overrides": ["start=[{duplication = 6, temperature = 1.0}]"]}, ["start[0].duplication: 6 must be between 1 and 5", "--set start="]),
    ("paper_not_table", BASE.replace("seed = 0", "seed = 0\npaper = 3"), {}, ["paper: 3 must be a table"]),
    ("paper_unknown_key", BASE + '[paper]\nlabel = "p"\nparam = "rounds"\nsetting = 1\n', {}, ["paper.setting:", "unknown key", "label, param, points, trend_only"]),
    ("paper_no_label", BASE + '[paper]\nparam = "rounds"\n', {}, ["paper.label: None must be a non-empty string"]),
    ("paper_unknown_param", BASE + '[paper]\nlabel = "p"\nparam = "N"\n', {}, ["paper.param: 'N' is not a setting of 'seqgan'", "duplication"]),
    ("paper_unknown_metric", BASE + '[paper]\nlabel = "p"\nparam = "rounds"\npoints = { fidelity = [[1, 0.5]] }\n', {}, ["paper.points.fidelity:", "unknown metric", "validity"]),
    ("paper_point_not_pair", BASE + '[paper]\nlabel = "p"\nparam = "rounds"\npoints = { validity = [[1, 0.5, 2]] }\n', {}, ["paper.points.validity: [[1, 0.5, 2]] must be a list of [setting value, metric value] pairs"]),
    ("paper_point_not_finite", BASE + '[paper]\nlabel = "p"\nparam = "rounds"\npoints = { validity = [[1, nan]] }\n', {}, ["paper.points.validity:", "pairs of finite numbers"]),
    ("paper_trend_unknown_metric", BASE + '[paper]\nlabel = "p"\nparam = "rounds"\ntrend_only = { copies = "up" }\n', {}, ["paper.trend_only.copies:", "unknown metric"]),
    ("paper_symbol_empty", BASE + '[paper]\nlabel = "p"\nparam = "rounds"\nsymbol = ""\n', {}, ["paper.symbol: '' must be a non-empty string"]),
    ("paper_symbol_not_text", BASE + '[paper]\nlabel = "p"\nparam = "rounds"\nsymbol = 3\n', {}, ["paper.symbol: 3 must be a non-empty string"]),
    ("paper_trend_not_text", BASE + '[paper]\nlabel = "p"\nparam = "rounds"\ntrend_only = { exact_copy = 1 }\n', {}, ["paper.trend_only.exact_copy: 1 must be a string"]),
    ("start_kept_for_a_narrowed_search", BASE + "[[start]]\nduplication = 4\ntemperature = 1.0\n", {"overrides": ["search.duplication.high=3", "start=[{duplication = 4, temperature = 1.0}]"]}, ["start[0].duplication: 4 must be between 1 and 3"]),
]  # fmt: skip


@pytest.mark.parametrize("text, options, expected", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_input(tmp_path, text, options, expected):
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as e:
        load_spec(path, **options)
    message = str(e.value)
    assert "\n" not in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


@pytest.mark.parametrize(
    "study, expected",
    [
        ("nope", "unknown study 'nope'; available: x"),
        ("foo bar", "study name 'foo bar' must match"),
        ("../x", "cannot read"),
    ],
)
def test_bad_study_name(tmp_path, study, expected):
    write(tmp_path, BASE)
    with pytest.raises(SpecError, match=expected):
        load_spec(study, studies_dir=tmp_path)


def test_result_round_defaults_to_last_and_one_objective_needs_no_reference(tmp_path):
    assert load_spec(write(tmp_path, BASE)).result_round == "last"
    one = sub('validity = "max"\nmemorization = "min"', 'validity = "max"')
    spec = load_spec(write(tmp_path, one + '[result]\nround = "best"\n'))
    assert spec.result_round == "best" and spec.objectives == (Objective("validity", "max"),)
    # a reference for a metric that is not (or no longer) an objective is not an error
    text = one + '[result]\nround = "best"\nreference = { validity = 0, memorization = 1 }\n'
    assert load_spec(write(tmp_path, text)).objectives == (Objective("validity", "max", 0.0),)


def test_start_points(tmp_path):
    text = (
        BASE
        + "[[start]]\ntemperature = 1\nduplication = 2\n[[start]]\nduplication = 5\ntemperature = 0.5\n"
    )
    spec = load_spec(write(tmp_path, text))
    # in the search space's order, a float setting's 1 as 1.0 (what the sampler gives)
    assert spec.start == (
        {"duplication": 2, "temperature": 1.0},
        {"duplication": 5, "temperature": 0.5},
    )
    assert type(spec.start[0]["temperature"]) is float
    assert load_spec(write(tmp_path, BASE)).start == ()


def test_profile_with_its_own_search_drops_the_base_start_points(tmp_path):
    text = BASE + "[[start]]\nduplication = 4\ntemperature = 1.0\n"
    narrow = "search = { duplication = { type = 'int', low = 1, high = 2 } }"
    text += f"[profiles.narrow]\n{narrow}\n"
    text += f"[profiles.own]\n{narrow}\nstart = [{{ duplication = 2 }}]\n"
    text += "[profiles.longer]\nfixed = { mle_epochs = 3 }\n"
    assert load_spec(write(tmp_path, text), profile="narrow").start == ()
    assert load_spec(write(tmp_path, text), profile="own").start == ({"duplication": 2},)
    assert load_spec(write(tmp_path, text), profile="longer").start == (
        {"duplication": 4, "temperature": 1.0},
    )
    # the same for a --set that changes the search space, unless it sets start too
    assert load_spec(write(tmp_path, text), overrides=["search.duplication.high=3"]).start == ()
    both = ["search.duplication.high=3", "start=[{duplication = 3, temperature = 1.0}]"]
    assert load_spec(write(tmp_path, text), overrides=both).start == (
        {"duplication": 3, "temperature": 1.0},
    )
    assert len(load_spec(write(tmp_path, text), overrides=["budget.num_samples=2"]).start) == 1


def test_paper_reference_of_the_real_study_and_its_profiles(tmp_path):
    expected = PaperReference(
        label="paper (DATA 2021)",
        param="duplication",
        symbol="N",
        points={"validity": ((1, 0.0), (10, 0.70))},
        trend_only={"exact_copy": "the paper's figure 6 gives only the rising trend with N"},
    )
    for profile in ("default", "smoke", "paper"):  # a top-level table: profiles inherit it
        assert load_spec("seqgan_tradeoff", profile=profile).paper == expected
    assert load_spec(write(tmp_path, BASE)).paper is None


def test_paper_reference_round_trips_and_a_profile_may_replace_it(tmp_path):
    paper = '[paper]\nlabel = "p"\nparam = "rounds"\npoints = { validity = [[0, 0.5]] }\n'
    profile = '[profiles.other]\npaper = { label = "q", param = "duplication" }\n'
    spec = load_spec(write(tmp_path, BASE + paper + profile))
    assert spec.paper == PaperReference("p", "rounds", {"validity": ((0, 0.5),)}, {})
    again = load_spec(write(tmp_path, dump_toml(spec.document), "again"))
    assert again.paper == spec.paper
    other = load_spec(write(tmp_path, BASE + paper + profile), profile="other").paper
    assert other == PaperReference("q", "duplication", {"validity": ((0, 0.5),)}, {})


LIGHT_IMPORTS = """
import sys, tomllib
import raygan
from raygan.spec import default_studies_dir
raygan.list_studies()
for name, _ in raygan.list_studies():
    doc = tomllib.loads((default_studies_dir() / f"{name}.toml").read_text())
    for profile in ["default", *doc.get("profiles", {})]:
        raygan.load_spec(name, profile=profile)
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "ray", "optuna"))
print(" ".join(heavy))
"""


# The text study names its metrics without computing them: no edit distances (rapidfuzz),
# no scikit-learn (only the digit studies' data needs it), no metric module.
TEXT_STUDY_IMPORTS = """
import sys
import raygan
raygan.load_spec("seqgan_tradeoff")
heavy = sorted(
    m for m in sys.modules
    if m.split(".")[0] in ("rapidfuzz", "sklearn") or m == "raygan.metrics.emoticon"
)
print(" ".join(heavy))
"""


def test_reading_every_study_imports_no_torch_ray_or_optuna():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", LIGHT_IMPORTS], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
    text = subprocess.run(
        [sys.executable, "-c", TEXT_STUDY_IMPORTS], capture_output=True, text=True, timeout=120
    )
    assert text.returncode == 0, text.stderr
    assert text.stdout.strip() == ""


def test_bad_table_case_ids_are_unique():
    ids = [c[0] for c in BAD]
    assert len(ids) == len(set(ids)) >= 20

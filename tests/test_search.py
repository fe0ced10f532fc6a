"""How a study searches: the sampler rule behind sampler = "auto", MO-ASHA stopping the
dominated trials at a rung (on the faulty experiment, whose scores are known: score = x,
cost = x**2 + y), a resume that keeps the rungs, and no configuration trained twice."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import optuna
import pandas as pd
import pytest
from interrupted import start_and_stop, study_command  # tests/support
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from raygan import SpecError, load_spec
from raygan.results import promotion_order
from raygan.spec.scheduling import GP_MAX_TRIALS, Rungs

# (x, y) in this order, one trial at a time, 2 rounds each; rungs after 1 and 2 rounds,
# the best half goes on. At round 1: A (score .5, cost .25) goes on, the first there;
# B (.4, .66) is dominated by A: stopped; C (.9, .81) is not: on; D (.3, .99): stopped.
A, B, C, D = (0.5, 0.0), (0.4, 0.5), (0.9, 0.0), (0.3, 0.9)
START = "start=[" + ", ".join(f"{{x = {x}, y = {y}}}" for x, y in (A, B, C, D)) + "]"
MO_ASHA = ["scheduler=mo-asha", "rungs.reduction_factor=2", "rungs.min_rounds=1"]


def optuna_trials(run_dir, name):
    storage = JournalStorage(JournalFileBackend(str(run_dir / "optuna.journal")))
    return optuna.load_study(study_name=name, storage=storage).get_trials()


# ---- the sampler rule ----------------------------------------------------------------
def test_auto_picks_gp_for_a_numeric_space_within_the_gp_budget():
    spec = load_spec("seqgan_tradeoff", overrides=["sampler=auto"])
    assert spec.sampler_choice().name == "gp"
    assert "numeric" in spec.sampler_choice().reason


def test_a_named_sampler_does_not_claim_the_study_file_named_it():
    """A --set sampler=... names it too: the reason (console, run.json) says neither."""
    choice = load_spec("seqgan_tradeoff", overrides=["sampler=tpe"]).sampler_choice()
    assert choice.name == "tpe" and "not by auto" in choice.reason
    assert "named in the study" not in choice.reason


def test_auto_picks_tpe_where_a_setting_is_categorical(faulty_study):
    spec = load_spec(
        faulty_study,
        overrides=[
            "sampler=auto",
            'search.fail_mode={type = "categorical", choices = ["raise", "nan"]}',
        ],
    )
    choice = spec.sampler_choice()
    assert choice.name == "tpe" and "fail_mode" in choice.reason


@pytest.mark.parametrize(("objectives", "expected"), [(2, "nsga2"), (1, "tpe")])
def test_auto_past_the_gp_budget(faulty_study, objectives, expected):
    over = [f"budget.num_samples={GP_MAX_TRIALS + 1}", "sampler=auto"]
    if objectives == 1:
        over.append('objectives={score = "max"}')
    spec = load_spec(faulty_study, overrides=over)
    assert spec.sampler_choice().name == expected
    at_limit = load_spec(faulty_study, overrides=[*over[1:], f"budget.num_samples={GP_MAX_TRIALS}"])
    assert at_limit.sampler_choice().name == "gp"


def test_a_named_sampler_is_kept_and_auto_is_the_default(faulty_study, tmp_path):
    assert load_spec(faulty_study, overrides=["sampler=nsga2"]).sampler_choice().name == "nsga2"
    text = faulty_study.read_text().replace('sampler = "random"\n', "")
    path = tmp_path / "no_sampler.toml"
    path.write_text(text)
    assert load_spec(path).sampler == "auto"


def test_every_study_file_defaults_to_auto():
    from raygan import list_studies

    for name, _ in list_studies():
        assert load_spec(name).sampler == "auto", name


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["sampler=cmaes"], "sampler: 'cmaes' must be one of 'auto', 'gp'"),
        (["scheduler=asha"], "scheduler: 'asha' must be one of 'fifo', 'mo-asha'"),
        (["rungs.min_rounds=2"], "rungs: is set but scheduler is not 'mo-asha'"),
        (
            ["scheduler=mo-asha", "rungs.min_rounds=0"],
            "rungs.min_rounds: 0 must be an integer >= 1",
        ),
        (
            ["scheduler=mo-asha", "rungs.reduction_factor=1"],
            "rungs.reduction_factor: 1 must be an integer >= 2",
        ),
        (
            ["scheduler=mo-asha", "rungs.eta=3"],
            "rungs.eta: unknown key; allowed: min_rounds, reduction_factor",
        ),
    ],
)
def test_bad_search_settings_are_one_line_errors(faulty_study, overrides, message):
    with pytest.raises(SpecError) as e:
        load_spec(faulty_study, overrides=overrides)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_rungs_are_geometric():
    assert Rungs(1, 3).milestones(9) == [1, 3, 9]
    assert Rungs(2, 2).milestones(9) == [2, 4, 8]
    assert Rungs(3, 3).milestones(2) == []


# ---- the promotion order -------------------------------------------------------------
def test_promotion_order_is_rank_then_crowding_then_row():
    # max score, min cost: rows 0, 2, 4 are the front (2 and 4 its ends), 1 is behind it
    values = np.array([[0.5, 0.2], [0.4, 0.3], [0.9, 0.9], [np.nan, 0.0], [0.1, 0.0]])
    assert promotion_order(values, ["max", "min"]).tolist() == [2, 4, 0, 1, 3]
    ties = np.array([[0.5, 0.5], [0.5, 0.5]])
    assert promotion_order(ties, ["max", "min"]).tolist() == [0, 1]
    with pytest.raises(ValueError, match="modes"):
        promotion_order(values, ["max", "up"])


# ---- mo-asha in a study ----------------------------------------------------------------
def mo_asha_spec(study, *extra):
    return load_spec(
        study,
        overrides=[
            *MO_ASHA,
            START,
            "budget.num_samples=4",
            "budget.max_concurrent=1",
            "fixed.steps=2",
            *extra,
        ],
    )


def test_mo_asha_stops_the_dominated_trials_at_a_rung(ray_session, faulty_study, tmp_path):
    from raygan.engine import run_study

    lines: list[str] = []
    out = run_study(
        mo_asha_spec(faulty_study), storage=str(tmp_path), name="ma", echo=lines.append, verbose=0
    )
    trials = pd.read_parquet(tmp_path / "ma" / "trials.parquet").sort_values("trial_index")
    assert trials.status.tolist() == ["completed", "pruned", "completed", "pruned"]
    assert trials.steps.tolist() == [2, 1, 2, 1] and trials.num_steps.tolist() == [2] * 4
    # a pruned trial's row is the round it stands for: its scores are real
    assert trials.score.tolist() == pytest.approx([0.5, 0.4, 0.9, 0.3])
    assert trials.pareto.tolist() == [True, False, True, False]
    history = pd.read_parquet(tmp_path / "ma" / "history.parquet")
    assert history.groupby("trial_index").step.max().tolist() == [1, 0, 1, 0]
    # Optuna was told the pruned trials' values, and which rounds they ran
    told = optuna_trials(tmp_path / "ma", "ma")
    assert [t.state.name for t in told] == ["COMPLETE"] * 4
    assert told[1].values == pytest.approx([0.4, 0.66])
    assert [t.user_attrs.get("raygan_stopped_after_rounds") for t in told] == [None, 1, None, 1]
    assert "4 trials: 2 completed, 2 pruned, 0 failed, 0 stopped" in out.summary
    stops = [ln for ln in lines if ln.startswith("[raygan] mo-asha:")]
    assert len(stops) == 2 and "trial 1 stopped after round 1 of 2" in stops[0]
    assert any(ln.startswith("[raygan] scheduler: mo-asha") for ln in lines)


def test_mo_asha_with_the_best_round_keeps_the_best_so_far(ray_session, faulty_study, tmp_path):
    """With round = "best" a pruned trial stands for its best round so far: the peak at
    round 1 (of 0..1) and half the score at round 0, B is compared after 1 round by the
    score of its round 0 (x / 2) and stopped; its row says step 0. A and C finish and
    stand for their peak."""
    from raygan.engine import run_study

    spec = mo_asha_spec(
        faulty_study,
        "fixed.peak_at=1",
        "result.round=best",
        "result.reference={score = 0.0, cost = 2.0}",
    )
    run_study(spec, storage=str(tmp_path), name="mb", echo=lambda s: None, verbose=0)
    trials = pd.read_parquet(tmp_path / "mb" / "trials.parquet").sort_values("trial_index")
    pruned = trials[trials.status == "pruned"]
    assert pruned.trial_index.tolist() == [1, 3]
    assert pruned.kept_step.tolist() == [0, 0] and pruned.score.tolist() == pytest.approx(
        [0.2, 0.15]
    )
    done = trials[trials.status == "completed"]
    assert done.kept_step.tolist() == [1, 1]
    assert done.score.tolist() == pytest.approx([0.5, 0.9])
    # a trial checkpoints at each rung: a pruned one's kept model can be loaded
    from raygan.sample import _kept_checkpoint

    for trial_id in pruned.trial_id:
        checkpoint = _kept_checkpoint(tmp_path / "mb", trial_id, 0)
        assert json.loads((checkpoint / "raygan.json").read_text())["last"]["step"] == 0


def test_mo_asha_says_when_trials_are_shorter_than_the_first_rung(
    ray_session, faulty_study, tmp_path
):
    from raygan.engine import run_study

    lines: list[str] = []
    spec = mo_asha_spec(faulty_study, "rungs.min_rounds=5", "budget.num_samples=2")
    run_study(spec, storage=str(tmp_path), name="mc", echo=lines.append, verbose=0)
    trials = pd.read_parquet(tmp_path / "mc" / "trials.parquet")
    assert (trials.status == "completed").all()
    said = [ln for ln in lines if "fewer than the first rung" in ln]
    assert len(said) == 1 and "trains 2 rounds" in said[0] and "min_rounds = 5" in said[0]


def test_resume_keeps_the_rungs(faulty_study, cli_env, tmp_path):
    """The driver dies after A and B; after --resume, D is still compared with A at round
    1 (read back from the history) and stopped, as in an uninterrupted run."""
    name = "mr"
    cmd = study_command(faulty_study, tmp_path, name)
    cmd[cmd.index("fixed.peak_at=1")] = "fixed.peak_at=-1"
    cmd[cmd.index("fixed.steps=3")] = "fixed.steps=2"
    cmd[cmd.index("budget.num_samples=6")] = "budget.num_samples=4"
    for item in (*MO_ASHA, START, "budget.max_concurrent=1"):
        cmd += ["--set", item]
    run = tmp_path / name
    killed, _ = start_and_stop(cmd, cli_env, run, lambda proc: os.killpg(proc.pid, signal.SIGKILL))
    assert killed.returncode == -signal.SIGKILL
    import subprocess

    resumed = subprocess.run(
        cmd + ["--resume"], env=cli_env, capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # D is compared with A and B, read back from the history: without them it would be
    # the first at its rung and go on. C is there too unless it was lost (a trial asked
    # after Tune's last snapshot dies with the driver, its place taken by a new one).
    trials = pd.read_parquet(run / "trials.parquet").set_index("trial_index")
    assert len(trials) == 4 and trials.loc[3].status == "pruned"
    at_rung = 1 + int((trials.index < 3).sum())  # D, after A, B and maybe C
    assert at_rung in (3, 4)
    said = f"trial 3 stopped after round 1 of 2: not among the best 1/2 of the {at_rung} trials"
    assert said in resumed.stdout, killed.stdout + "\n--- resumed:\n" + resumed.stdout
    assert trials.loc[0].status == "completed" and trials.loc[1].status == "pruned"


# ---- no configuration twice --------------------------------------------------------------
def test_a_configuration_already_run_is_not_trained_again(ray_session, faulty_study, tmp_path):
    """Two configurations (fail_at -1 or 0, which never fails at x = 0.5, x and y fixed)
    and a budget of 4: random search
    proposes them again and again; each repeat is told the earlier trial's values, not
    trained, and the search ends when nothing new is proposed."""
    from raygan.engine import run_study

    spec = load_spec(
        faulty_study,
        overrides=[
            "sampler=random",
            'search={fail_at = {type = "int", low = -1, high = 0}}',
            "budget.num_samples=4",
            "budget.max_concurrent=1",
        ],
    )
    lines: list[str] = []
    run_study(spec, storage=str(tmp_path), name="dup", echo=lines.append, verbose=0)
    trials = pd.read_parquet(tmp_path / "dup" / "trials.parquet")
    assert sorted(trials.param_fail_at) == [-1, 0] and (trials.status == "completed").all()
    told = optuna_trials(tmp_path / "dup", "dup")
    repeats = [t for t in told if "raygan_repeat_of" in t.user_attrs]
    assert repeats and all(t.state.name == "COMPLETE" for t in repeats)
    for t in repeats:
        earlier = told[t.user_attrs["raygan_repeat_of"]]
        assert earlier.params == t.params and earlier.values == t.values
    assert any("configuration again: not trained" in ln for ln in lines)
    assert any("the search space is used up" in ln for ln in lines)


def test_a_resume_fails_the_optuna_trials_tune_never_saw(faulty_study, tmp_path):
    """A killed driver's Optuna trials asked after Tune's last snapshot stay RUNNING in the
    journal; the resumed search marks them FAIL at once (else their configurations count
    as running, and the sampler as pending), and leaves the ones its trials hold."""
    from raygan.engine import compat
    from raygan.engine.optuna_storage import OptunaStorage
    from raygan.engine.search import make_searcher

    spec = load_spec(faulty_study, overrides=["sampler=random"])
    storage = OptunaStorage(journal=tmp_path / "optuna.journal")
    search = make_searcher(spec, storage=storage, study_name="orph")
    assert isinstance(search.suggest("known"), dict)  # a Tune trial the search holds
    study = compat.optuna_study(search)
    study.ask()  # asked by a driver that died before Tune's snapshot named its trial
    assert compat.fail_unknown_running_trials(search) == 1
    states = [t.state.name for t in study.get_trials(deepcopy=False)]
    assert states == ["RUNNING", "FAIL"]


def test_a_sampler_that_keeps_repeating_itself_is_helped_at_random(faulty_study, tmp_path):
    """A sampler stuck on one configuration (Optuna's PartialFixedSampler fixing it, as a
    GP can get stuck on a few discrete configurations): after RANDOM_AFTER repeats in a
    row the proposals are drawn at random, so every configuration is still proposed
    before the search says the space is used up; the study's sampler is put back."""
    from faulty_experiment import study_text

    from raygan.engine import compat
    from raygan.engine.optuna_storage import OptunaStorage
    from raygan.engine.search import RANDOM_AFTER, make_searcher

    path = tmp_path / "four.toml"
    search = '[search.steps]\ntype = "int"\nlow = 1\nhigh = 4\n'
    path.write_text(study_text(search, sampler="gp"), encoding="utf-8")
    searcher = make_searcher(
        load_spec(path), storage=OptunaStorage(journal=tmp_path / "j.journal"), study_name="f"
    )
    study = compat.optuna_study(searcher)
    stuck = optuna.samplers.PartialFixedSampler({"steps": 1}, study.sampler)
    study.sampler = stuck
    seen = []
    for i in range(5):
        config = searcher.suggest(f"t{i}")
        if not isinstance(config, dict):
            break
        seen.append(config["steps"])
        searcher.on_trial_complete(f"t{i}", {"score": 0.5, "cost": 0.25, "steps_done": 1})
    assert seen[0] == 1 and sorted(seen) == [1, 2, 3, 4] and config == "FINISHED"
    assert study.sampler is stuck
    first_repeats = [t for t in study.get_trials(deepcopy=False) if t.number <= RANDOM_AFTER]
    assert all("raygan_repeat_of" in t.user_attrs for t in first_repeats[1:])


def test_the_index_of_configurations_finds_what_a_scan_of_every_trial_finds():
    """SeenConfigurations looks up the trials a proposal may repeat by the hash of their
    configuration's key instead of comparing it with every trial; on a study of repeats,
    near repeats, failed trials and told repeats it answers as the scan of every trial
    does; a pickled index is empty and rebuilt from the study."""
    import pickle

    from raygan.engine.search import (
        REPEAT_OF,
        SeenConfigurations,
        _same_configuration,
        configuration_key,
    )

    study = optuna.create_study(directions=["maximize"])
    values = [0.3, 0.1 + 0.2, 1, 1.0, 0.7, 0.30000001, 2, 1e-5, 1.00000001e-5]
    space = {
        "v": optuna.distributions.FloatDistribution(0.0, 3.0),
        "c": optuna.distributions.CategoricalDistribution(["a", "b"]),
    }

    def scan(trial):
        states = ("COMPLETE", "RUNNING", "WAITING")
        for other in study.get_trials(deepcopy=False):
            if other.number == trial.number or other.state.name not in states:
                continue
            if REPEAT_OF in other.user_attrs:
                continue
            if configuration_key(other.params) == configuration_key(trial.params):
                return other.number
        return None

    rng = np.random.default_rng(0)
    seen = SeenConfigurations()
    found, expected = [], []
    for i in range(80):
        study.enqueue_trial({"v": values[rng.integers(len(values))], "c": "ab"[i % 2]})
        trial = study.ask(space)
        if i % 7 == 3:
            trial.set_user_attr(REPEAT_OF, 0)
        earlier = _same_configuration(study, trial, seen)
        found.append(None if earlier is None else earlier.number)
        expected.append(scan(trial))
        state = optuna.trial.TrialState.FAIL if i % 5 == 1 else None
        if i % 3:
            study.tell(trial, [0.5] if state is None else None, state=state)
        if i == 30:
            seen = pickle.loads(pickle.dumps(seen))
            assert seen.numbers is None  # Tune's snapshots carry it empty
    assert found == expected
    assert sum(n is not None for n in found) > 40  # most proposals repeat one


def test_what_makes_two_configurations_the_same():
    """Floats equal to nine significant digits (one computed two ways; an int and the same
    float; a bool and 1); integers and strings exactly; a NaN never."""
    from raygan.engine.search import configuration_key as key

    assert key({"x": 0.1 + 0.2, "c": "a"}) == key({"c": "a", "x": 0.3})
    assert key({"n": 3}) == key({"n": 3.0}) and key({"b": True}) == key({"b": 1})
    assert key({"lr": 1e-5}) != key({"lr": 1.00000001e-5})
    assert key({"x": 0.3}) != key({"x": 0.30000001}) and key({"c": "a"}) != key({"c": "b"})
    assert key({"x": float("nan")}) != key({"x": float("nan")})
    assert key({"x": None}) == key({"x": None}) and key({"x": 1}) != key({"y": 1})
    assert key({"n": 1234567891}) != key({"n": 1234567892})  # integers exactly
    assert key({"n": 10**400}) == key({"n": 10**400})

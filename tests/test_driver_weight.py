"""The driver imports no torch: the baselines run in a Ray task, and Tune's TensorBoard
logger is made without tensorboardX importing torch. A driver with torch holds some
170 MiB more for the whole study, and its tens of thousands of names fill CPython's table
of interned strings until it doubles (a 7 MiB step in the driver's memory). Nor does it
import boto3 (tensorboardX's, for s3:// logdirs) or SQLAlchemy (only a database
``--optuna-storage`` needs it): with both, the table doubled near trial 900 of
``benchmarks/scale.py`` (a 3.7 MiB step)."""

from __future__ import annotations

import os
import subprocess
import sys

import pyarrow as pa
import pytest

from raygan import load_spec, register_experiment
from raygan.engine.finish import run_baselines
from raygan.experiments import get_declaration
from raygan.results import RunStore


def printed(code: str) -> list[str]:
    """What ``code`` prints, split into words, run in a fresh interpreter (what a driver
    imports is only seen in a process of its own)."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return done.stdout.split()


def baseline_spec(faulty_study, path, fixed: str = ""):
    register_experiment("faulty_baselines", "faulty_experiment:BaselineExperiment")
    text = faulty_study.read_text(encoding="utf-8")
    text = text.replace('experiment = "faulty"', 'experiment = "faulty_baselines"')
    path.write_text(text.replace("[fixed]\n", f"[fixed]\n{fixed}\n"), encoding="utf-8")
    return load_spec(path)


def test_baselines_run_in_a_ray_task_with_the_trial_cpus(ray_session, faulty_study, tmp_path):
    spec = baseline_spec(faulty_study, tmp_path / "baselines.toml")
    store = RunStore.at(str(tmp_path / "run"))
    store.makedirs()
    said: list[str] = []
    declaration = get_declaration(spec.experiment)
    table = run_baselines(declaration, spec, store, run="r", cpus=1, echo=said.append)
    (row,) = table.to_pylist()
    assert row["baseline"] == "where"
    assert row["score"] != os.getpid()  # computed on a worker
    assert row["cost"] == 1  # with the trial's threads, not the machine's
    assert said and said[0].startswith("[raygan] baselines (where) in ")
    # kept: a second call (a resume) reads them back and runs nothing
    again = run_baselines(declaration, spec, store, run="r", cpus=1, echo=said.append)
    assert isinstance(again, pa.Table) and again.to_pylist() == [row]
    assert len(said) == 1


def test_tune_loggers_import_no_torch_nor_boto3_and_leave_them_importable():
    pytest.importorskip("boto3")  # the test extras install it (moto's server needs it)
    code = (
        "import sys\n"
        "from raygan.engine.tune_output import tune_loggers\n"
        "tune_loggers()\n"
        "import tensorboardX\n"
        "print('torch' in sys.modules, 'boto3' in sys.modules)\n"
        "import torch, boto3\n"  # the driver's own code may still import them
        "print(torch.tensor([1.0]).sum().item(), boto3.__name__)\n"
    )
    assert printed(code) == ["False", "False", "1.0", "boto3"]


def test_a_baseline_error_reaches_the_driver_as_itself(ray_session, faulty_study, tmp_path):
    spec = baseline_spec(faulty_study, tmp_path / "failing.toml", fixed="fail_at = 0")
    store = RunStore.at(str(tmp_path / "run"))
    store.makedirs()
    with pytest.raises(ValueError) as caught:
        run_baselines(get_declaration(spec.experiment), spec, store, run="r", cpus=1, echo=None)
    assert str(caught.value) == "fixed.fail_at: 0 fails the baseline"  # one line, as raised
    assert not store.has("baselines.parquet")


def test_a_family_says_whether_it_has_baselines(ray_session, faulty_study, tmp_path):
    from raygan.experiments import get_experiment
    from raygan.experiments.base import Experiment
    from raygan.experiments.registry import BUILT_IN

    for name in BUILT_IN:  # the torch-free declaration agrees with the implementation
        defines = get_experiment(name).baselines.__func__ is not Experiment.baselines.__func__
        assert get_declaration(name).has_baselines is defines, name
    # an Experiment that defines baselines says so by itself; one that does not, not
    spec = baseline_spec(faulty_study, tmp_path / "baselines.toml")
    assert get_declaration(spec.experiment).has_baselines
    plain = load_spec(faulty_study)
    assert not get_declaration(plain.experiment).has_baselines
    store = RunStore.at(str(tmp_path / "run"))
    said: list[str] = []
    assert (
        run_baselines(get_declaration("faulty"), plain, store, run="r", cpus=1, echo=said.append)
        is None
    )
    assert said == []


def test_a_mixin_s_baselines_count():
    from raygan.experiments.base import Experiment

    class Mixin:
        @classmethod
        def baselines(cls, config, data, *, seed):
            return []

    class WithMixin(Mixin, Experiment):
        pass

    class Below(WithMixin):
        pass

    assert WithMixin.has_baselines and Below.has_baselines
    assert not type("Plain", (Experiment,), {}).has_baselines


def test_the_baselines_defaults_are_checked_before_ray(faulty_study, tmp_path):
    from faulty_experiment import study_text

    from raygan.engine import check_study

    register_experiment("faulty_baselines", "faulty_experiment:BaselineExperiment")
    search = '[search.x]\ntype = "float"\nlow = 0.0\nhigh = 0.3\n'
    text = study_text(search).replace('experiment = "faulty"', 'experiment = "faulty_baselines"')
    path = tmp_path / "defaults.toml"
    path.write_text(text + "\n[data]\nmax_x = 0.3\n", encoding="utf-8")
    # every corner (x = 0.0, 0.3) passes; the baselines use x's default, 0.5
    with pytest.raises(ValueError) as caught:
        check_study(load_spec(path))
    assert str(caught.value) == (
        "baselines (each searched setting at its default): data.max_x: 0.3 is below x = 0.5"
    )
    plain = tmp_path / "plain.toml"  # no baselines: the defaults are never trained
    plain.write_text(study_text(search) + "\n[data]\nmax_x = 0.3\n", encoding="utf-8")
    check_study(load_spec(plain))


def test_a_resumed_tune_s_loggers_import_no_torch(tmp_path):
    pickled = tmp_path / "loggers.pkl"
    save = (
        "import sys, ray.cloudpickle as cp\n"
        "from raygan.engine.tune_output import tune_loggers\n"
        f"open({str(pickled)!r}, 'wb').write(cp.dumps(tune_loggers()))\n"
    )
    load = (  # as Tuner.restore does, after the driver's start
        "import sys, ray.cloudpickle as cp\n"
        "from raygan.engine.tune_output import import_tensorboardx_lean\n"
        "import_tensorboardx_lean()\n"
        f"cp.loads(open({str(pickled)!r}, 'rb').read())\n"
        "print('torch' in sys.modules)\n"
    )
    for code in (save, load):
        out = printed(code)
    assert out == ["False"]


def test_tensorboardx_s_import_refuses_torch_to_its_own_thread_only(tmp_path):
    # a stand-in tensorboardX: tries torch itself, then has another thread import it
    # while its own import is still running
    (tmp_path / "tensorboardX.py").write_text(
        "import importlib, threading\n"
        "try:\n"
        "    import torch\n"
        "    MINE = 'torch'\n"
        "except ImportError:\n"
        "    MINE = 'refused'\n"
        "other = threading.Thread(target=importlib.import_module, args=('torch',))\n"
        "other.start()\n"
        "other.join()\n"
        # the list another thread's import may be looping over is left as it was
        "import builtins, sys\n"
        "UNTOUCHED = builtins.OLD_META_PATH == builtins.OLD_FINDERS\n",
        encoding="utf-8",
    )
    code = (
        f"import builtins, sys; sys.path.insert(0, {str(tmp_path)!r})\n"
        "from raygan.engine.tune_output import import_tensorboardx_lean\n"
        "builtins.OLD_META_PATH, builtins.OLD_FINDERS = sys.meta_path, list(sys.meta_path)\n"
        "import_tensorboardx_lean()\n"
        "import tensorboardX\n"
        "print(tensorboardX.MINE, 'torch' in sys.modules, tensorboardX.UNTOUCHED)\n"
        "print(sys.meta_path == builtins.OLD_FINDERS)\n"  # the finder is gone again
    )
    assert printed(code) == ["refused", "True", "True", "True"]


def test_a_study_without_a_database_imports_no_sqlalchemy(tmp_path):
    journal = tmp_path / "optuna.journal"
    code = (
        "import sys, optuna\n"
        "import raygan.study, raygan.engine.orchestrate\n"
        "from ray.tune.search.optuna import OptunaSearch\n"
        "from raygan.engine.optuna_storage import parse_optuna_storage\n"
        f"storage = parse_optuna_storage({str(journal)!r})\n"
        "study = optuna.create_study(storage=storage.open(), directions=['maximize'] * 2)\n"
        "study.optimize(lambda t: (t.suggest_float('x', 0, 1),) * 2, n_trials=2)\n"
        "print(storage.shown == str(storage.journal), 'sqlalchemy' in sys.modules)\n"
    )
    assert printed(code) == ["True", "False"]

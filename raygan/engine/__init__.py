"""The runtime layer: a study spec becomes a Ray Tune run. The only code that imports Ray.

It knows no model: it asks the registry for the study's experiment class and drives it
through ``setup`` / ``step`` / ``save`` / ``load``. Modules, one reason to change each:

    orchestrate   run_study: the steps from a spec to the tables, summary and report
    runs          run directories: names, claims, what a resumed run keeps
    trainable     the worker side: one configuration, its replicates, its checkpoints
    search        Optuna's samplers through Tune's OptunaSearch, with raygan's seeds
    recorder      each trial's rows, written as Tune hears of them
    console       the line printed per trial, a failed trial's error line
    resources     CPUs/GPUs per trial, signals
    finish        baselines, the validated front, the summary and the report
    validation    re-training front configurations with fresh seeds
    tune_output   Tune's loggers and console
    samples       a trial's judged samples, written by the worker as its kept round changes
    sweep         a trial's kept model evaluated at every [sweep] point, on the worker
    live_report   report.html rewritten while the study runs
    compat        every use of a private Tune/Ray/Optuna attribute, the other Tune
                  behaviours raygan relies on, and the versions tested

What a run leaves behind:

    <storage>/<name>/
        study.toml          the study as run (profile and overrides applied)
        run.json            study name, profile, raygan version, start time
        optuna.journal      the Optuna study (optuna-dashboard opens it)
        .lock               held by the process writing into a local run (raygan.claim)
        baselines.parquet   generator-free scores, computed once before the search
        parts/              part files, written as trials report: trial, history,
                            replicate, validation, samples, sweep (PART_KINDS of
                            raygan.results.store), <kind>-<key>.parquet each; packed
                            once the tables below are written: a finished run holds
                            one <kind>.parquet per kind (and any written since)
        trials.parquet      one row per trial                       \\
        history.parquet     one row per round                        |
        pareto.parquet      the non-dominated trials                 |  consolidated
        replicates.parquet  one row per replicate                    |  from parts/ at
        validation.parquet  the front re-trained, if asked           |  the end (and
        samples.parquet     judged samples, if the family makes any  |  after --resume)
        sweep.parquet       (trial, sweep point) rows, with [sweep]  /
        report.html         the report, its figures beside it; rewritten while it runs
        tune/               Ray Tune's own state: trial checkpoints, logs, TensorBoard files
"""

from raygan.engine.errors import StudyError, StudyInterrupted
from raygan.engine.finish import StudyOutcome
from raygan.engine.orchestrate import check_study, run_study
from raygan.engine.runs import default_run_name, resumed_spec, saved_run

__all__ = [
    "StudyError",
    "StudyInterrupted",
    "StudyOutcome",
    "check_study",
    "default_run_name",
    "resumed_spec",
    "run_study",
    "saved_run",
]

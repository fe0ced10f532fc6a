"""Run a study: ``python -m raygan.study NAME|PATH [options]`` or ``--list``.

Exit status: 0 when the study ran (failed trials are reported, not fatal), 2 on bad input
(one line on stderr, nothing written), 1 when the study itself failed (no trial
completed, or Ray broke), 130 when it was interrupted (Ctrl-C or SIGTERM; the line on
stderr gives the command that resumes it).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (argparse prints its usage first): the rule
    for every bad input."""

    def error(self, message: str):
        self.exit(EXIT_BAD_INPUT, f"raygan.study: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m raygan.study",
        description="Run a raygan study: Optuna (through Ray Tune) searches a generator's "
        "settings against validity and memorization objectives; every trial lands in Parquet.",
        epilog="Examples:\n"
        "  python -m raygan.study seqgan_tradeoff\n"
        "  python -m raygan.study seqgan_tradeoff --profile smoke --name try1\n"
        "  python -m raygan.study seqgan_tradeoff --name try1 --resume\n"
        "  python -m raygan.study studies/my_study.toml --set fixed.rollouts=8 --set sampler=tpe\n"
        "  python -m raygan.study seqgan_tradeoff --address auto --gpus-per-trial 0.25",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "study", nargs="?", help="a study name from studies/ (see --list) or a path to a .toml file"
    )
    p.add_argument("--list", action="store_true", help="list the available studies and exit")
    p.add_argument(
        "--profile",
        help="profile of the study file: smoke, default, paper, ... (default: default; "
        "with --resume, the run's own)",
    )
    p.add_argument(
        "--num-samples",
        type=int,
        metavar="N",
        help="number of trials (overrides budget.num_samples)",
    )
    p.add_argument(
        "--max-concurrent",
        type=int,
        metavar="N",
        help="trials running at once (overrides budget.max_concurrent)",
    )
    p.add_argument(
        "--replicates",
        type=int,
        metavar="K",
        help="train each configuration with K seeds; its row holds their mean and std "
        "(overrides budget.replicates)",
    )
    p.add_argument(
        "--validate-front",
        type=int,
        metavar="K",
        help="after the search, re-train each Pareto-front configuration with K fresh seeds "
        "(overrides result.validate; 0: no validation)",
    )
    p.add_argument(
        "--cpus-per-trial",
        type=float,
        metavar="C",
        help="CPUs per trial; also its torch threads (overrides resources.cpus)",
    )
    p.add_argument(
        "--gpus-per-trial",
        type=float,
        metavar="G",
        help="fraction of one GPU per trial, e.g. 0.25; fails if the cluster has no such GPU "
        "(default: resources.gpus where the cluster has GPUs, else CPU only)",
    )
    p.add_argument(
        "--address",
        metavar="ADDR",
        help="join a running Ray cluster: 'auto' or 'ray://host:10001' (default: start a local Ray)",
    )
    p.add_argument(
        "--storage",
        default="raygan_runs",
        metavar="DIR",
        help="where run directories go (default: ./raygan_runs)",
    )
    p.add_argument(
        "--optuna-storage",
        metavar="URL",
        help="keep the Optuna study in a database (postgresql://user:pw@host/db, "
        "sqlite:////path.db) or a journal file on shared storage (an absolute path), "
        "instead of the run's own optuna.journal; give it again with --resume (default: "
        "the run's journal)",
    )
    p.add_argument(
        "--name",
        metavar="RUN",
        help="run name: the run directory is STORAGE/RUN (default: STUDY-PROFILE-DATE-TIME)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run named by --name (or the newest unfinished run of this study)",
    )
    p.add_argument(
        "--seed",
        type=int,
        metavar="S",
        help="study seed; every trial's seed derives from it (overrides seed)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override any field of the study file, in TOML syntax; repeatable "
        "(e.g. --set fixed.rollouts=8 --set search.duplication.high=20)",
    )
    p.add_argument(
        "--quiet",
        action="store_true",
        help="no Tune progress table (raygan's per-trial lines stay)",
    )
    return p


def _overrides(args: argparse.Namespace) -> list[str | tuple[str, str]]:
    """--set items, and the flags that stand for one: ("key=value", "--flag value") so an
    error names the flag the user typed."""
    flags = [
        ("budget.num_samples", "--num-samples", args.num_samples),
        ("budget.max_concurrent", "--max-concurrent", args.max_concurrent),
        ("budget.replicates", "--replicates", args.replicates),
        ("result.validate", "--validate-front", args.validate_front),
        ("resources.cpus", "--cpus-per-trial", args.cpus_per_trial),
        ("seed", "--seed", args.seed),
    ]
    return [
        (f"{key}={value}", f"{flag} {value}") for key, flag, value in flags if value is not None
    ] + list(args.set)


def _resume_command(args: argparse.Namespace, name: str) -> str:
    cmd = ["python", "-m", "raygan.study", args.study, "--name", name, "--resume"]
    if args.storage != "raygan_runs":
        cmd += ["--storage", args.storage]
    if args.address:
        cmd += ["--address", args.address]
    if args.optuna_storage:  # its password, if any, stays out of what is printed
        from raygan.engine.optuna_storage import masked

        shown = masked(args.optuna_storage)
        cmd += ["--optuna-storage", shown if shown == args.optuna_storage else "URL"]
    return shlex.join(cmd)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help (0), or a bad flag (2, its one line printed)
        return int(done.code or 0)

    from raygan.experiments import ENVIRONMENT_ERRORS
    from raygan.spec import SpecError, list_studies, load_spec

    if ENVIRONMENT_ERRORS:
        print(f"raygan.study: error: {ENVIRONMENT_ERRORS[0]}", file=sys.stderr)
        return EXIT_BAD_INPUT

    if args.list:
        for study_name, description in list_studies():
            print(f"{study_name:24s} {description}")
        return EXIT_OK
    if not args.study:
        print("raygan.study: error: give a study name or path (see --list)", file=sys.stderr)
        return EXIT_BAD_INPUT

    def bad(message: str) -> int:
        print(f"raygan.study: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT

    name: str | None = args.name
    if args.resume:
        # A run resumes from its own study.toml: the study file as it is now (edited,
        # moved away, on another machine) has no say. The engine reads it.
        from raygan.engine import StudyError, resumed_spec, saved_run
        from raygan.engine.runs import FINISHED, newest_unfinished_run
        from raygan.results.location import join_location

        study = Path(args.study).stem if args.study.endswith(".toml") else args.study
        try:
            name = name or newest_unfinished_run(args.storage, study)
        except StudyError as e:
            return bad(str(e))
        if name is None:
            return bad(
                f"--resume: no unfinished run of {study!r} under {args.storage}; give --name"
            )
        try:
            facts = saved_run(args.storage, name)
            if facts["study"] != study:
                return bad(f"{args.study}: run {name} is a run of study {facts['study']!r}")
            if args.profile not in (None, facts["profile"]):
                return bad(
                    f"--profile {args.profile}: a resumed run keeps its profile "
                    f"{facts['profile']!r}; start a new run (another --name) to change it"
                )
            if args.gpus_per_trial is not None:
                return bad(
                    f"--gpus-per-trial {args.gpus_per_trial}: a resumed run keeps the "
                    "resources it was started with; start a new run to change them"
                )
            spec = resumed_spec(args.storage, name, _overrides(args))
        except (StudyError, SpecError) as e:
            return bad(str(e))
        if FINISHED in facts:
            print(
                f"raygan.study: run {name} finished at {facts[FINISHED]}; nothing to resume "
                f"(its tables and report are in {join_location(args.storage, name)}; start a new "
                "run, another --name, to run more trials)"
            )
            return EXIT_OK
    else:
        try:
            spec = load_spec(
                args.study, profile=args.profile or "default", overrides=_overrides(args)
            )
        except SpecError as e:
            return bad(str(e))
    # Ray and Optuna take seconds to import: bad input above is refused without them
    from raygan.engine import StudyError, StudyInterrupted, run_study

    start = time.perf_counter()
    try:
        outcome = run_study(
            spec,
            storage=args.storage,
            name=name,
            address=args.address,
            resume=args.resume,
            cpus_per_trial=args.cpus_per_trial,
            gpus_per_trial=args.gpus_per_trial,
            optuna_storage=args.optuna_storage,
            verbose=0 if args.quiet else 1,
        )
    except (StudyError, SpecError) as e:
        return bad(str(e))
    except ValueError as e:  # bad data (unreadable file, out-of-range data setting)
        return bad(str(e))
    except StudyInterrupted as e:
        print(
            f"raygan.study: {e}; their rows are in {e.parts}. "
            f"Continue with: {_resume_command(args, e.name)}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside Tune's run (the search's
        # start or end): no count of finished trials to give, their rows are on disk
        from raygan.engine.runs import newest_unfinished_run

        print(
            "raygan.study: interrupted; the trials that finished keep their "
            f"rows. Continue with: {_resume_command(args, name or newest_unfinished_run(args.storage, spec.name) or 'RUN')}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    print()
    print(outcome.summary)
    print(f"total wall time {time.perf_counter() - start:.0f} s")
    return EXIT_OK if outcome.completed else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())

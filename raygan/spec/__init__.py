"""Study file -> validated, frozen :class:`StudySpec`. Imports neither torch nor Ray.

A study is one TOML file in ``studies/`` (see ``studies/seqgan_tradeoff.toml``)::

    description = "..."          # optional, default ""
    experiment = "seqgan"        # a name in raygan.experiments.REGISTRY
    seed = 0                     # optional, default 0; 0 <= seed < 2**32 (numpy's limit)
    sampler = "auto"             # optional: auto (default) | gp | tpe | nsga2 | random | grid
    scheduler = "fifo"           # optional: fifo (default) | mo-asha (stops trials at rungs)
    [rungs]                      # mo-asha only: min_rounds = 1, reduction_factor = 3

    [data]                       # checked against the experiment's Data dataclass
    [fixed]                      # checked against the experiment's Config dataclass
    [search.NAME]                # NAME is a Config field; type = int|float|logfloat|categorical
    [objectives]                 # ordered: metric = "max" | "min"; at least one
    [result]                     # optional: which round's scores stand for a trial
                                 # round = "last" (default) | "best"; reference = {metric =
                                 # worst value, ...} for every objective ("best" with 2+);
                                 # aggregate = "mean" (default) | "pessimistic" over
                                 # replicates; validate = 0 (fresh seeds per front configuration)
    [budget]                     # num_samples (required), max_concurrent = 1,
                                 # time_budget_s = 0 (no limit), max_failures = 0,
                                 # replicates = 1 (seeds each configuration is trained with),
                                 # checkpoint_every_s = 30 (wall seconds of training between
                                 # a trial's checkpoints, besides its last round and its
                                 # mo-asha rungs; 0: every round)
    [resources]                  # cpus = 1 (> 0), gpus = 0 (0..1: share of one GPU per trial,
                                 # used only where the cluster has GPUs)
    [[start]]                    # optional: trials run first, in order, before the sampler
                                 # picks (Tune's points_to_evaluate); each names a value for
                                 # every searched setting, inside its range
    [paper]                      # optional: a source paper's values, drawn next to the trials:
                                 # label, param (a Config setting), points = {metric =
                                 # [[value, metric value], ...]}, trend_only = {metric = why},
                                 # symbol (the paper's name for param; default: param)
    [sweep]                      # optional: sampling-time settings evaluated on every
                                 # trained model, {setting = [values]} (raygan.spec.sweep)
    [profiles.NAME]              # any of the tables/keys above, except profiles

Profiles. ``load_spec(..., profile="smoke")`` merges ``[profiles.smoke]`` into the base
document: tables deep-merge key by key, EXCEPT ``search`` and ``objectives``, which the
profile replaces entirely when it gives them. That is how the paper profile searches
only ``duplication`` while everything else stays at its ``[fixed]`` value or Config
default: a setting searched in the base but not in the profile is simply not searched.
A profile that gives its own ``search`` also drops the base's ``[[start]]`` points (they
were written for the base's search space) unless it gives its own ``start``; so does an
override of any ``search`` key (``--set search.duplication.high=10``) unless ``start`` is
overridden too.
Profile ``default`` is used when none is named; a file without ``[profiles.default]``
still accepts it (it means the base document).

Overrides. ``overrides=["budget.num_samples=4", "sampler=tpe"]`` (the CLI's ``--set``)
are applied after the profile: the key is a dotted path into the merged document, the
value is a TOML value (``3``, ``0.5``, ``true``, ``"text"``, ``[1, 2]``) or a bare word
taken as a string (``tpe``, ``max``).

Every problem raises :class:`SpecError` with one line ``<file>: <field>: <problem>``,
where the problem gives the value and the rule it breaks. Validation happens once, on
the merged document, so an error caused by a profile or a ``--set`` says so at the end.

Modules: ``files`` (finding, reading, profiles and overrides), ``tables`` and
``validate`` (checking a document), ``model`` (the frozen result), ``load`` (the entry
points), ``dump`` (writing TOML back), ``sweep`` (the [sweep] table). Declaring and
checking one setting is :mod:`raygan.settings`, below this package: the families'
declarations use it, and this package imports them through the registry.
"""

from raygan.settings import build_config, check_setting, setting
from raygan.spec.dump import dump_toml
from raygan.spec.files import SpecError, default_studies_dir
from raygan.spec.load import list_studies, load_spec
from raygan.spec.model import Objective, PaperReference, Param, StudySpec

__all__ = [
    "Objective",
    "PaperReference",
    "Param",
    "SpecError",
    "StudySpec",
    "build_config",
    "check_setting",
    "default_studies_dir",
    "dump_toml",
    "list_studies",
    "load_spec",
    "setting",
]

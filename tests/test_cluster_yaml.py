"""cluster.yaml: checked offline with Ray's own schema, plus the structure raygan relies on.

`ray up` runs, in ray.autoscaler._private.commands._bootstrap_config:
  1. prepare_config(cfg): merges ray/autoscaler/aws/defaults.yaml into cfg (top-level keys
     the config leaves out, such as cluster_synced_files and rsync_filter), prepends
     setup_commands to head_/worker_setup_commands, checks the docker section, and fills
     each node type's min/max_workers. It reads a YAML file shipped with Ray and does
     nothing else: for AWS it neither imports boto3 nor calls AWS.
  2. fillout_available_node_types_resources: calls AWS (DescribeInstanceTypes).
  3. validate_config(cfg): jsonschema against ray/autoscaler/ray-schema.json (unknown keys
     are errors at the top level, in a node type and in auth), then head_node_type and
     the sum of min_workers. Offline. On its own it would reject the raw file, which has
     no cluster_synced_files (prepare_config fills that in).
  4. bootstrap_config: calls AWS (IAM role, key pair, subnets, security group).
Steps 1 and 3 are everything that can be checked without AWS. This file runs them with
the network blocked. They do not look inside provider (additionalProperties: true) or
node_config (passed to boto3 unchanged), so the structure tests below check the parts of
those that raygan needs.

PyYAML (`yaml`) is not a raygan dependency. It comes with ray, which requires pyyaml in
its core install.
"""

from __future__ import annotations

import copy
import re
import shlex
import socket
import tomllib
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from ray.autoscaler._private.util import prepare_config, validate_config

ROOT = Path(__file__).parent.parent
CLUSTER_YAML = ROOT / "cluster.yaml"
STUDY = ROOT / "studies" / "seqgan_tradeoff.toml"  # the study the cluster is sized for
REMOTE_ROOT = "~/raygan"


@pytest.fixture
def cfg() -> dict:
    return yaml.safe_load(CLUSTER_YAML.read_text())


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to resolve or connect fails the test: validation must stay offline."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"cluster.yaml validation tried to use the network: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def validate(cfg: dict) -> dict:
    prepared = prepare_config(copy.deepcopy(cfg))
    validate_config(prepared)
    return prepared


def head_type(cfg: dict) -> dict:
    return cfg["available_node_types"][cfg["head_node_type"]]


def gpu_worker_types(cfg: dict) -> dict[str, dict]:
    return {
        name: node
        for name, node in cfg["available_node_types"].items()
        if name != cfg["head_node_type"] and node.get("resources", {}).get("GPU", 0) >= 1
    }


def commands(cfg: dict) -> list[str]:
    keys = ("initialization_commands", "setup_commands", "head_setup_commands")
    return [c for k in keys for c in cfg.get(k, [])] + [
        c
        for node in cfg["available_node_types"].values()
        for c in node.get("worker_setup_commands", [])
    ]


def pip_requirements(command: str) -> list[Requirement]:
    """The PEP 508 requirements a shell command passes to pip (paths and options skipped)."""
    reqs = []
    for word in shlex.split(command):
        if word.startswith("-") or "/" in word.split("@")[0] or "$" in word:
            continue
        try:
            reqs.append(Requirement(word))
        except InvalidRequirement:
            continue
    return reqs


def test_ray_schema_accepts_cluster_yaml_offline(cfg, no_network):
    prepared = validate(cfg)
    assert prepared["provider"]["type"] == "aws"
    assert prepared["cluster_name"] == "raygan"


@pytest.mark.parametrize(
    ("where", "key", "value"),
    [
        ((), "max_wokers", 2),
        ((), "setup_comands", ["true"]),
        (("available_node_types", "ray.worker.gpu"), "min_wokers", 1),
        (("available_node_types", "ray.head.default"), "resorces", {}),
        (("auth",), "ssh_usr", "ubuntu"),
        # not a typo but the usual mistake: node resources are whole numbers; the
        # fraction belongs on the trial (--gpus-per-trial 0.25)
        (("available_node_types", "ray.worker.gpu", "resources"), "GPU", 0.25),
    ],
    ids=[
        "top-level",
        "top-level-commands",
        "node-type",
        "head-node-type",
        "auth",
        "fractional-gpu",
    ],
)
def test_ray_schema_rejects_typos(cfg, no_network, where, key, value):
    target = cfg
    for part in where:
        target = target[part]
    target[key] = value
    with pytest.raises(jsonschema.ValidationError):
        validate(cfg)


def test_min_workers_beyond_max_workers_rejected(cfg, no_network):
    cfg["available_node_types"]["ray.worker.gpu"]["min_workers"] = cfg["max_workers"] + 1
    with pytest.raises(ValueError, match="max_workers"):
        validate(cfg)


def test_head_runs_no_trials(cfg):
    assert head_type(cfg)["resources"] == {"CPU": 0}


def test_gpu_worker_type_fits_a_gpu_of_trials(cfg):
    workers = gpu_worker_types(cfg)
    assert workers, "no worker type with resources.GPU >= 1"
    trial = tomllib.loads(STUDY.read_text())["resources"]
    for name, node in workers.items():
        nc = node["node_config"]
        assert nc.get("InstanceType"), name
        assert re.fullmatch(r"ami-[0-9a-f]{8,17}", nc.get("ImageId", "")), (name, nc.get("ImageId"))
        assert "IamInstanceProfile" in nc, f"{name}: workers need S3 access for --storage s3://"
        assert node.get("max_workers", cfg["max_workers"]) >= 1, name
        res = node["resources"]
        per_gpu = res["GPU"] / trial["gpus"]  # trials one node's GPUs hold
        assert res["CPU"] >= per_gpu * trial["cpus"], (
            f"{name}: {res['CPU']} CPUs cannot run the {per_gpu:g} trials of "
            f"{trial['cpus']} CPU that its {res['GPU']} GPU(s) hold at {trial['gpus']} each"
        )


def test_setup_commands_are_whole_shell_commands(cfg):
    # A ' #' inside an unquoted YAML value starts a comment and cuts the command short,
    # which usually leaves a quote open.
    for command in (
        commands(cfg) + cfg["head_start_ray_commands"] + cfg["worker_start_ray_commands"]
    ):
        shlex.split(command)


def test_setup_commands_pin_the_installed_ray(cfg):
    ray_reqs = [r for c in commands(cfg) for r in pip_requirements(c) if r.name == "ray"]
    assert ray_reqs, "setup_commands do not install ray"
    for req in ray_reqs:
        assert str(req.specifier) == f"=={ray.__version__}", (
            f"cluster.yaml installs {req}, but this machine has ray {ray.__version__}: "
            "Ray needs one version across the cluster and the machine that runs `ray up`"
        )
        assert "tune" in req.extras, req


def test_file_mounts_sync_studies_and_the_installed_source(cfg):
    mounts = cfg["file_mounts"]
    for remote, local in mounts.items():
        assert (ROOT / local).exists(), f"file_mounts {remote}: {local} is not in the repository"
    assert (ROOT / mounts[f"{REMOTE_ROOT}/studies"]).resolve() == (ROOT / "studies").resolve()
    editable = [
        words[words.index("-e") + 1] for c in commands(cfg) if "-e" in (words := shlex.split(c))
    ]
    assert editable, "no `pip install -e` of the synced source"
    for target in editable:
        path = re.sub(r"\[.*\]$", "", target).replace("$HOME", "~")
        assert path == REMOTE_ROOT, target
        for needed in ("pyproject.toml", "README.md", "raygan"):
            assert f"{REMOTE_ROOT}/{needed}" in mounts, f"pip install -e {target} needs {needed}"

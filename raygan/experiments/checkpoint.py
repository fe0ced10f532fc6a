"""What every experiment's save/load shares: one file of model state plus every random
stream a trial draws from (its torch generator, and torch's, numpy's and Python's global
ones) and the number of steps done, so that a resumed trial continues exactly."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch


def trial_stream(seed: int, device: str | torch.device) -> torch.Generator:
    """The generator a trial's every draw after initialisation goes through (batches,
    noise, sampling), seeded apart from the initialisation, so that save/load restores it
    and a resumed trial continues exactly."""
    return torch.Generator(device=device).manual_seed(seed + 1)


@contextlib.contextmanager
def streams_kept(rng: torch.Generator) -> Iterator[None]:
    """Run the block, then put back ``rng`` and the global torch, numpy and Python streams
    as they were: what an evaluation beside training (``generate``, ``evaluate_with``)
    draws must not change what the trial draws next."""
    state = rng.get_state()
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    cuda = rng.device.type == "cuda"
    devices = [rng.device.index or 0] if cuda else []
    try:
        with torch.random.fork_rng(devices=devices):
            yield
    finally:
        rng.set_state(state)
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def save_checkpoint(
    path: str, name: str, state: dict[str, Any], *, rng: torch.Generator, steps_done: int
) -> None:
    """Write ``state`` (tensors, numbers, nested dicts) and the progress to ``path/name``."""
    numpy_state = np.random.get_state(legacy=False)
    # as a tensor: torch.load(weights_only=True) reads no numpy arrays
    numpy_state["state"]["key"] = torch.from_numpy(numpy_state["state"]["key"].astype(np.int64))
    progress = {
        "rng": rng.get_state(),
        "torch_rng": torch.get_rng_state(),
        "numpy_rng": numpy_state,
        "python_rng": random.getstate(),
        "steps_done": steps_done,
    }
    torch.save({**state, **progress}, Path(path) / name)


def load_checkpoint(
    path: str, name: str, *, rng: torch.Generator, device: torch.device
) -> tuple[dict[str, Any], int]:
    """Read ``path/name``; restore every random stream (``rng`` in place); return the
    state (tensors on ``device``) and the steps done."""
    state = torch.load(Path(path) / name, map_location=device, weights_only=True)
    rng.set_state(state["rng"].cpu())  # a generator's state is a CPU tensor, CUDA too
    # a checkpoint written before the global streams were saved has only the generator's
    if "torch_rng" in state:
        torch.set_rng_state(state["torch_rng"].cpu())
        numpy_state = state["numpy_rng"]
        key = numpy_state["state"]["key"].cpu().numpy().astype(np.uint32)
        np.random.set_state({**numpy_state, "state": {**numpy_state["state"], "key": key}})
        random.setstate(_tuples(state["python_rng"]))
    return state, int(state["steps_done"])


def _tuples(value: Any) -> Any:
    """Python's RNG state with its lists back as tuples (random.setstate wants tuples)."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list | tuple) else value

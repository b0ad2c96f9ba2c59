"""What `--ray` means, and the connection to the cluster for the length of a render.

`local` / `local:N`   start a Ray cluster in this machine for the render (N worker CPUs; default all cores) and
                      stop it afterwards
`auto`                join the cluster already running on this machine (`ray start --head`)
`ray://host:10001`    join a remote cluster through the Ray client
`host:6379`           join a cluster by its GCS address (this machine must be one of its nodes)

Workers need our code: a local cluster's workers find this checkout on their code search path; a remote cluster
gets the checkout as its `working_dir` (code only: weights, projects and the venv stay here). Ray is imported only
inside `ray_session`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepstory_kernel.errors import InputError, ModelUnavailableError

REPO = Path(__file__).resolve().parents[2]
# What a remote cluster's workers must not be sent: weights, projects, environments, media, tests' output.
SHIP_EXCLUDES = [".git", ".venv", "projects", "tests/output", "exports", "*.dat", "*.pth", "*.tar", "*.pt",
                 "*.ckpt", "*.onnx", "*.mp4", "*.wav", "*.npy"]
_ADDRESS_RE = re.compile(r"^(ray://)?[A-Za-z0-9_.\-\[\]:]+:\d{1,5}$")


@dataclass(frozen=True)
class RayTarget:
    """Where the chunk jobs run: `address` None = a local cluster this render starts with `cpus` CPUs."""

    address: str | None = None
    cpus: int | None = None
    gpus: int | None = None     # local: GPUs the cluster declares (None: those Ray finds; benches declare logical ones)

    @property
    def local(self) -> bool:
        return self.address is None

    def __str__(self) -> str:
        if self.address is not None:
            return self.address
        return "local" if self.cpus is None else f"local:{self.cpus}"


def parse_ray_target(text: str | None) -> RayTarget | None:
    """`--ray` text → a target; "" / "off" / "none" → None (render in this process). InputError when malformed."""
    value = (text or "").strip()
    if value.lower() in ("", "off", "none", "no"):
        return None
    if value == "local":
        return RayTarget()
    if value.startswith("local:"):
        count = value.partition(":")[2]
        if not count.isdigit() or int(count) < 1:
            raise InputError(f"Ray cluster {value!r}: the number of local workers must be a whole number ≥ 1 (e.g. local:2).")
        return RayTarget(cpus=int(count))
    if value == "auto" or _ADDRESS_RE.match(value):
        return RayTarget(address=value)
    raise InputError(f"Ray cluster {value[:60]!r}: give local, local:N, auto, ray://HOST:10001 or HOST:PORT.")


def cluster_problem(text: str | None) -> str | None:
    """What is wrong with a `--ray` / settings value, as one line; None when it is usable (or empty)."""
    try:
        parse_ray_target(text)
    except InputError as err:
        return str(err)
    return None


def _code_options(ray, target: RayTarget) -> dict:
    """Local workers import this checkout from its folder (a job's code search path: no runtime environment to
    build, so Ray's pre-started workers serve at once); remote ones receive it as their working directory."""
    if target.local:
        return {"job_config": ray.job_config.JobConfig(code_search_path=[str(REPO)])}
    return {"runtime_env": {"working_dir": str(REPO), "excludes": SHIP_EXCLUDES}}


def _import_ray():
    try:
        import ray
    except ImportError as err:   # an optional engine: say how to get it
        raise ModelUnavailableError("Rendering on a cluster needs Ray: pip install ray==2.60.0 "
                                    "(it is in requirements.txt).") from err
    return ray


@contextlib.contextmanager
def ray_session(target: RayTarget | str) -> Iterator[Any]:
    """Ray connected to `target` inside the block (yields the `ray` module). A connection that already exists in
    this process (a test's cluster, a studio that keeps one) is used as it is and left open."""
    if isinstance(target, str):
        parsed = parse_ray_target(target)
        if parsed is None:
            raise InputError("No Ray cluster was asked for.")
        target = parsed
    ray = _import_ray()
    if ray.is_initialized():
        yield ray
        return
    kwargs: dict = {**_code_options(ray, target), "logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if target.local:
            ray.init(num_cpus=target.cpus or os.cpu_count() or 1, num_gpus=target.gpus, include_dashboard=False,
                     **kwargs)
        else:
            ray.init(address=target.address, **kwargs)
    except (ConnectionError, TimeoutError, ValueError, RuntimeError) as err:
        raise InputError(f"Could not reach the Ray cluster at {target}: {str(err).splitlines()[0][:200]}") from err
    try:
        yield ray
    finally:
        ray.shutdown()

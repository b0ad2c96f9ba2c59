"""Render a story's chunk jobs on a Ray cluster (a local one of N workers, or an existing one).

Why the chunk job is the unit: its key already says everything that determines its artifact, so a worker needs
only the job's inputs (audio, identity, portrait, seed, settings) and gives back the artifact's bytes; the driver
writes them into the project store under the key. Resume, retry and incremental re-render therefore behave
exactly as in one process, and the exported mp4 is byte-identical. Ray is imported only when a render asks for it.

    cluster.py  — what `--ray local[:N] | auto | ray://host:10001` means; connect and disconnect
    control.py  — one small actor per stage run: frame progress in, cancel out
    worker.py   — the stage actor: loads the stage's model once, computes one chunk at a time
    executor.py — the driver: scheduling loop over the actors, results streamed back and written atomically
"""

from .cluster import RayTarget, cluster_problem, parse_ray_target, ray_session
from .executor import LocalStages, RayExecutor, StageRun, stage_runner

__all__ = ["LocalStages", "RayExecutor", "RayTarget", "StageRun", "cluster_problem", "parse_ray_target", "ray_session",
           "stage_runner"]

"""Clean up: delete the artifacts the project's current story, cast and backends no longer use.

Why it is safe: every artifact is named by the hash of what made it, and the current plan names every key it
needs (sentence audio, chunk audio, bases, clips) without rendering anything. Whatever else sits in those folders
was made for an older text, voice, portrait, seed or backend, and would only be used again if that choice came
back — then it is simply rendered again. A stage whose keys cannot be known right now (a voice that cannot load,
sentences without audio yet, missing weights) is left untouched. Other folders (previews, quality checks) are
caches of their own and are not touched either.
"""

from __future__ import annotations

from deepstory_kernel.errors import DeepstoryError

from .chunk_jobs import chunk_jobs, project_backends
from .sentence_audio import plan_from_ready, sentence_audio
from .stages import animate as animate_stage
from .stages import base as base_stage
from .stages.voice import CHUNK_AUDIO_STAGE, VOICE_STAGE


def used_keys(project, voice_factory=None) -> dict[str, set[str]]:
    """Artifact folder → the keys the current project uses; a folder is absent when its keys cannot be known."""
    rows = sentence_audio(project, voice_factory)
    used: dict[str, set[str]] = {}
    if all(row.key is not None for row in rows):
        used[VOICE_STAGE] = {row.key for row in rows if row.key is not None}
    plan = plan_from_ready(project, rows)
    if plan is None:
        return used
    used[CHUNK_AUDIO_STAGE] = {chunk.content_key for chunk in plan.chunks}
    try:
        jobs = chunk_jobs(project, plan, project_backends(project))
    except DeepstoryError:        # e.g. the chosen weights are missing: their keys cannot be computed
        return used
    used[base_stage.STAGE] = {job.base_key for job in jobs}
    used[animate_stage.STAGE] = {job.clip_key for job in jobs}
    return used


def clean_up(project, voice_factory=None) -> dict[str, int]:
    """Delete unused artifacts; returns files removed per artifact folder (only folders whose keys are known)."""
    return {stage: project.store.remove_except(stage, keep)
            for stage, keep in used_keys(project, voice_factory).items()}

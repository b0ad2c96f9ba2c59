"""The loop every chunk stage shares: load the stage's model once, then render each missing chunk in order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..backends import BackendSpec, load_backend
from ..progress import Cancelled, CancelToken, ProgressCallback, ProgressEvent

Job = TypeVar("Job")


@dataclass(frozen=True)
class StageCount:
    """What a stage did: chunks rendered now, and chunks whose artifact already existed."""

    rendered: int = 0
    reused: int = 0


def check_cancel(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def run_chunks(stage: str, spec: BackendSpec, jobs: Sequence[Job], done: Callable[[Job], bool],
               render_one: Callable[[Any, Job], None], progress: ProgressCallback,
               cancel: CancelToken | None, describe: Callable[[Job], str]) -> StageCount:
    """Render the jobs whose artifact is not `done`, loading `spec`'s model once (other stages' models evicted)."""
    todo = [job for job in jobs if not done(job)]
    if todo:
        model = load_backend(spec)
        for count, job in enumerate(todo):
            check_cancel(cancel)
            progress(ProgressEvent(stage, count, len(todo), describe(job)))
            render_one(model, job)
        progress(ProgressEvent(stage, len(todo), len(todo), "done"))
    return StageCount(rendered=len(todo), reused=len(jobs) - len(todo))

"""The loop every chunk stage shares: load the stage's model once, then render each missing chunk in order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ..backends import BackendSpec, load_backend
from ..progress import Cancelled, CancelToken, ProgressCallback, StageProgress


class _HasFrames(Protocol):
    @property
    def num_frames(self) -> int: ...


Job = TypeVar("Job", bound=_HasFrames)
FramesDone = Callable[[int], None]


@dataclass(frozen=True)
class StageCount:
    """What a stage did: chunks rendered now, and chunks whose artifact already existed."""

    rendered: int = 0
    reused: int = 0


def check_cancel(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def run_chunks(stage: str, spec: BackendSpec, jobs: Sequence[Job], done: Callable[[Job], bool],
               render_one: Callable[[Any, Job, FramesDone], None], progress: ProgressCallback,
               cancel: CancelToken | None, describe: Callable[[Job], str]) -> StageCount:
    """Render the jobs whose artifact is not `done`, loading `spec`'s model once (other stages' models evicted).

    Progress counts frames: `render_one` gets a callback the stage calls after each batch, so one long chunk
    moves the bar (and the time-left estimate) frame by frame."""
    todo = [job for job in jobs if not done(job)]
    if todo:
        tracker = StageProgress(progress, stage, sum(job.num_frames for job in todo), "frames")
        tracker.start_item(f"loading the {spec.name} model")
        model = load_backend(spec)
        for count, job in enumerate(todo, start=1):
            check_cancel(cancel)
            tracker.start_item(f"{describe(job)}, {count} of {len(todo)} to render")
            render_one(model, job, tracker.advance)
        tracker.finish()
    return StageCount(rendered=len(todo), reused=len(jobs) - len(todo))

"""Comparing a checkpoint's state-dict layout (names → shapes) with the layout a network expects.

One implementation for every loader and for the model registry, so a user sees the same precise sentence
("kp_detector lacks 3 keys (e.g. …)") whether the file is checked on the Models page or loaded for a render.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

Shapes = Mapping[str, Sequence[int]]


def layout_differences(section: str, actual: Shapes, expected: Shapes) -> list[str]:
    """Short phrases naming what differs; empty when the names and shapes match exactly.

    `num_batches_tracked` buffers may be absent (torch tolerates that for BatchNorm); a whole-dict `module.`
    prefix (a model saved from DataParallel) is reported as such rather than as every key being wrong.
    """
    actual = {k: tuple(v) for k, v in actual.items()}
    expected = {k: tuple(v) for k, v in expected.items()}
    stripped = {k.removeprefix("module."): v for k, v in actual.items()}
    if stripped.keys() != actual.keys() and set(stripped) == set(expected):
        return [f"'{section}' keys carry a 'module.' prefix (saved from DataParallel)"]
    missing = [k for k in expected if k not in actual and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in actual if k not in expected]
    reshaped = [k for k in expected if k in actual and actual[k] != expected[k]]
    problems = []
    if unexpected:
        problems.append(f"{section} has {len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:2])})")
    if missing:
        problems.append(f"{section} lacks {len(missing)} keys (e.g. {', '.join(missing[:2])})")
    if reshaped:
        k = reshaped[0]
        problems.append(f"{section} has {len(reshaped)} tensors of another shape (e.g. {k} is "
                        f"{list(actual[k])}, expected {list(expected[k])})")
    return problems

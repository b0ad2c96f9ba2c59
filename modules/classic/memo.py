"""One small process-wide memo of what is worked out once per image (its face mesh, its rig, a portrait's geometry).

Why: a speaker's chunks all start from the same aligned face and the same portrait; finding the face and building
the rig again for each chunk would cost more than animating a short chunk. Keyed by the image's bytes and shape,
least recently used first out, safe across the studio's job threads.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

CAPACITY = 24          # entries: a few speakers' meshes, rigs and geometries
_MEMO: OrderedDict[str, object] = OrderedDict()
_LOCK = threading.Lock()


def image_key(kind: str, image: np.ndarray) -> str:
    """`kind` + a digest of the image's pixels and shape."""
    return f"{kind}:{hashlib.sha1(np.ascontiguousarray(image).data).hexdigest()}{image.shape}"


def remembered(key: str, make: Callable[[], Any]) -> Any:
    """The value remembered under `key`, made (outside the lock: it may take a while) when missing."""
    with _LOCK:
        if key in _MEMO:
            _MEMO.move_to_end(key)
            return _MEMO[key]
    value = make()
    with _LOCK:
        _MEMO[key] = value
        while len(_MEMO) > CAPACITY:
            _MEMO.popitem(last=False)
    return value

"""Loaded at interpreter start by the browser tests' studio server (its PYTHONPATH starts with this folder):
registers the cheap test backends and a slow one, so a browser test can watch a long chunk render frame by frame
without a real model. Never on the path of the product."""

from __future__ import annotations

import time

try:
    from deepstory_core.backends import BackendSpec, register_backend
    from tests import render_backends
except ImportError:      # another interpreter started with this path (e.g. a tool): nothing to register
    pass
else:
    class SlowBase(render_backends.CheapBase):
        """The cheap base, 0.25 s per batch of 8 frames: a 10 s chunk takes ~8 s, with ~30 progress steps."""

        def animate(self, *args, **kwargs):
            for batch in super().animate(*args, **kwargs):
                time.sleep(0.25)
                yield batch

    render_backends.register()
    register_backend(BackendSpec("base", "slow", SlowBase, lambda: "slow-base-1", honours_style=True))

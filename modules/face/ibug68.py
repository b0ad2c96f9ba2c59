"""The 478-point MediaPipe mesh mapped onto the iBUG 68-point scheme (what face-alignment and dlib output).

Why: SDA aligns a photo to its mean face through five of these 68 points (nose base 33, eye corners 36/39/42/45),
and the rest of the product (canonical alignment, older code) speaks 68 points. With this map the face model
provides them without face-alignment's weights. Each iBUG point is the mesh vertex at the same anatomical spot
(eye corners are canthi, 33 the subnasale, 8 the chin…); `bench/bench_sda_alignment.py` measures the aligned
frames against real 68-point landmarks.
"""

from __future__ import annotations

import numpy as np

from .mesh import FaceMesh

# iBUG index → MediaPipe mesh index. "right" = the subject's right (image left), as in iBUG's ordering.
MESH_TO_IBUG68: tuple[int, ...] = (
    # 0–16 jaw, image left → chin (8) → image right
    234, 93, 132, 58, 172, 136, 150, 176, 152, 400, 379, 365, 397, 288, 361, 323, 454,
    # 17–21 right brow (outer → inner), 22–26 left brow (inner → outer)
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # 27–30 nose bridge → tip, 31–35 nose base (33 = subnasale)
    168, 197, 5, 1, 98, 97, 2, 326, 327,
    # 36–41 right eye: outer corner, upper lid ×2, inner corner, lower lid ×2
    33, 160, 158, 133, 153, 144,
    # 42–47 left eye: inner corner, upper lid ×2, outer corner, lower lid ×2
    362, 385, 387, 263, 373, 380,
    # 48–59 outer lips: right corner, upper lip → left corner, lower lip back
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,
    # 60–67 inner lips: right corner, upper → left corner, lower back
    78, 81, 13, 311, 308, 402, 14, 178,
)
assert len(MESH_TO_IBUG68) == 68


def ibug68(mesh: FaceMesh) -> np.ndarray:
    """(68, 2) float32 x, y in the mesh's image pixels, in iBUG order."""
    return np.ascontiguousarray(mesh.landmarks[list(MESH_TO_IBUG68), :2], dtype=np.float32)

"""The canonical aligned face frame: 128×96 (H×W), framed like the SDA GRID model's template faces.

Points are (x, y) in pixels of that frame, measured on `shared/samples/grid/face_aligned_128x96.bmp`.
Every aligner maps a detected face onto these points; the lip-sync animator finds the mouth through them.
"""

from __future__ import annotations

ALIGNED_HEIGHT = 128
ALIGNED_WIDTH = 96
ALIGNED_SHAPE = (ALIGNED_HEIGHT, ALIGNED_WIDTH)

LEFT_EYE = (30.5, 47.5)      # the eye on the image's left
RIGHT_EYE = (68.0, 46.0)
NOSE_TIP = (50.0, 67.5)
MOUTH_LEFT = (36.0, 89.0)
MOUTH_RIGHT = (65.5, 88.0)
MOUTH_CENTER = (50.0, 89.0)
CHIN = (50.0, 117.0)

"""The canonical aligned face frame: 128×96 (H×W), framed like the SDA GRID model's template faces.

Points are (x, y) in pixels of that frame, measured on the GRID corpus' aligned 128×96 sample face
(eye centres = darkest pupil pixels after a 1 px blur; mouth = the dark line between the lips and its ends;
nose tip = midway above the nostrils). Every aligner maps a detected face onto these points; the lip-sync
animator finds the mouth through them.
"""

from __future__ import annotations

ALIGNED_HEIGHT = 128
ALIGNED_WIDTH = 96
ALIGNED_SHAPE = (ALIGNED_HEIGHT, ALIGNED_WIDTH)

LEFT_EYE = (31.3, 46.5)      # the eye on the image's left (the subject's right eye)
RIGHT_EYE = (68.5, 44.3)
NOSE_TIP = (49.5, 68.0)
LEFT_NOSTRIL = (42.0, 72.0)
RIGHT_NOSTRIL = (56.0, 71.5)
MOUTH_LEFT = (34.5, 91.5)
MOUTH_RIGHT = (65.5, 91.0)
MOUTH_CENTER = (50.0, 90.0)
CHIN = (50.0, 119.0)

EYES_MID = ((LEFT_EYE[0] + RIGHT_EYE[0]) / 2, (LEFT_EYE[1] + RIGHT_EYE[1]) / 2)
MOUTH_BOX = (28, 78, 44, 28)  # (x, y, w, h): lips plus room for an open jaw, in aligned pixels

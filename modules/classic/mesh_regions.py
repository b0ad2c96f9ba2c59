"""MediaPipe Face Mesh (478-point) landmark groups the rig moves or holds still.

The contours are `modules.face.mesh`'s (the face model's own tables), each lip and eye contour running from the
image-left corner to the image-right corner of a frontal face; the groups below them are the rig's own.
"""

from __future__ import annotations

from modules.face import mesh as M

UPPER_OUTER = M.UPPER_LIP_OUTER
LOWER_OUTER = tuple(reversed(M.LOWER_LIP_OUTER))
UPPER_INNER = M.UPPER_LIP_INNER
LOWER_INNER = tuple(reversed(M.LOWER_LIP_INNER))
OUTER_CORNERS = (61, 291)
INNER_CORNERS = (78, 308)
CORNERS = OUTER_CORNERS + INNER_CORNERS
# Between the lower lip and the chin, down the midline (labiomental fold → chin tip), and either side of it.
CHIN = (18, 200, 199, 175, 152, 83, 313, 201, 421, 208, 428, 32, 262, 140, 369, 171, 396)
# Face oval below the cheekbones, image-left ear → chin → image-right ear.
JAW = M.JAW_LINE
# Skull: brows, eyes, nose, cheekbones, forehead — never moved by the mouth.
SKULL = (10, 338, 297, 332, 284, 251, 389, 356, 127, 162, 21, 54, 103, 67, 109,
         70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
         33, 133, 159, 145, 263, 362, 386, 374,
         168, 6, 197, 195, 5, 4, 1, 2, 98, 327, 129, 358, 64, 294, 97, 326, 164,
         116, 345, 123, 352, 50, 280, 101, 330, 117, 346, 36, 266, 205, 425)
# Eye contours of the image-left eye (subject's right) and image-right eye, each from outer to inner corner.
EYE_UPPER = (M.RIGHT_EYE_UPPER_LID, M.LEFT_EYE_UPPER_LID)
EYE_LOWER = (M.RIGHT_EYE_LOWER_LID, M.LEFT_EYE_LOWER_LID)
EYE_CENTRES = ((33, 133), (263, 362))
FACE_OVAL = M.FACE_OVAL

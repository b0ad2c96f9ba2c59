"""MediaPipe Face Mesh (478-point) landmark groups the rig moves or holds still.

Indices follow MediaPipe's canonical face mesh (the `FACEMESH_LIPS`, `FACEMESH_FACE_OVAL`, eye contours of its
solutions API). Contours run from the image-left corner to the image-right corner of a frontal face.
"""

from __future__ import annotations

UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
OUTER_CORNERS = (61, 291)
INNER_CORNERS = (78, 308)
CORNERS = OUTER_CORNERS + INNER_CORNERS
# Between the lower lip and the chin, down the midline (labiomental fold → chin tip), and either side of it.
CHIN = (18, 200, 199, 175, 152, 83, 313, 201, 421, 208, 428, 32, 262, 140, 369, 171, 396)
# Face oval below the cheekbones, image-left ear → chin → image-right ear.
JAW = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454)
# Lower cheeks beside the mouth: they follow the jaw partly (skin stretches over an opening jaw).
LOWER_CHEEKS = (186, 410, 57, 287, 43, 273, 204, 424, 202, 422, 210, 430, 212, 432, 214, 434, 135, 364)
# Skull: brows, eyes, nose, cheekbones, forehead — never moved by the mouth.
SKULL = (10, 338, 297, 332, 284, 251, 389, 356, 127, 162, 21, 54, 103, 67, 109,
         70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
         33, 133, 159, 145, 263, 362, 386, 374,
         168, 6, 197, 195, 5, 4, 1, 2, 98, 327, 129, 358, 64, 294, 97, 326, 164,
         116, 345, 123, 352, 50, 280, 101, 330, 117, 346, 36, 266, 205, 425)
# Eye contours of the image-left eye (subject's right) and image-right eye, each from outer to inner corner.
EYE_UPPER = ((33, 246, 161, 160, 159, 158, 157, 173, 133), (263, 466, 388, 387, 386, 385, 384, 398, 362))
EYE_LOWER = ((33, 7, 163, 144, 145, 153, 154, 155, 133), (263, 249, 390, 373, 374, 380, 381, 382, 362))
EYE_CENTRES = ((33, 133), (263, 362))
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148,
             176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)

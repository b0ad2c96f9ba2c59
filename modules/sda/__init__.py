"""Speech-Driven Animation (Vougioukas et al.): faithful port loading the published `grid.dat` unchanged, with
linear-time audio windowing and generation in windows of frames (memory bounded by the window, not the clip)."""

from .align import STABLE_POINTS, align_face
from .animator import (
                       NOISE_STD,
                       SdaAnimator,
                       SdaNetworks,
                       build_networks,
                       identity_tensor,
                       load_sda,
                       load_sda_dict,
                       numpy_allowed_globals,
)
from .config import SdaConfig
from .layout import STATE_DICT_SECTIONS, expected_shapes

__all__ = [
    "NOISE_STD", "STABLE_POINTS", "STATE_DICT_SECTIONS", "SdaAnimator", "SdaConfig", "SdaNetworks", "align_face",
    "build_networks", "expected_shapes", "identity_tensor", "load_sda", "load_sda_dict", "numpy_allowed_globals",
]

"""First Order Motion Model (Siarohin et al., NeurIPS 2019): faithful port that loads the published vox-256
checkpoint unchanged, plus a streaming animator that reuses all source-side work within a chunk."""

from .animator import FomAnimator, FomAnimatorOptions, prepare_base_frames, prepare_portrait, to_uint8_frames
from .config import FomConfig, fom_config_from_dict, load_fom_config
from .generator import OcclusionAwareGenerator
from .keypoint_detector import KPDetector
from .loader import build_fom, expected_generator_shapes, expected_kp_detector_shapes, load_fom
from .normalize import movement_scale, normalize_kp

__all__ = [
    "FomAnimator", "FomAnimatorOptions", "FomConfig", "KPDetector", "OcclusionAwareGenerator", "build_fom",
    "expected_generator_shapes", "expected_kp_detector_shapes", "fom_config_from_dict", "load_fom",
    "load_fom_config", "movement_scale", "normalize_kp", "prepare_base_frames", "prepare_portrait",
    "to_uint8_frames",
]

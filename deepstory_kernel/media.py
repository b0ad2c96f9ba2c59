"""Media constants fixed by the models' data formats (not user settings): audio rate, frame rate, base framing."""

SAMPLE_RATE = 22050          # project audio rate (Hz), mono float32
FPS = 25                     # video frame rate
SAMPLES_PER_FRAME = SAMPLE_RATE // FPS  # 882: chunk audio is padded to a multiple of this
BASE_SHAPE = (128, 96)       # (H, W) of base frames (SDA GRID framing)
CLIP_SIZE = 256              # animated clips are CLIP_SIZE × CLIP_SIZE

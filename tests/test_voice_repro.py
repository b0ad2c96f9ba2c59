"""Reproducible voices (#11.3, #12.2): the same sentence and voice give bit-identical samples in every process and
whatever was spoken before — for every built-in voice (all espeak-ng variants, the breathy +f2/+f3/+f5 included,
and the bundled Piper voice). Each order runs in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from deepstory_core.voices import BUILTIN_VOICES, NARRATOR_VOICE

REPO = Path(__file__).resolve().parents[1]
TEXTS = ("The lamp was still burning.", "Who left the gate open?")
SCRIPT = """
import hashlib, json, sys
from deepstory_core.voices import get_voice, synthesize_sentence
jobs = json.loads(sys.argv[1])
out = {}
for voice_id, text in jobs:
    speech = synthesize_sentence(get_voice(voice_id), text)
    digest = hashlib.sha256(speech.audio.tobytes()).hexdigest()
    events = hashlib.sha256(repr(speech.phonemes).encode()).hexdigest()
    out[voice_id + "|" + text] = [digest, len(speech.audio), events]
print(json.dumps(out))
"""


def _run(jobs: list[tuple[str, str]]) -> dict[str, list]:
    done = subprocess.run([sys.executable, "-c", SCRIPT, json.dumps(jobs)], cwd=REPO, capture_output=True,
                          text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_builtin_voice_is_bit_identical_across_processes_and_orders() -> None:
    voices = [NARRATOR_VOICE, *BUILTIN_VOICES]
    forward = [(v, t) for t in TEXTS for v in voices]
    # the other process speaks in reverse order, with an unrelated sentence first for every voice
    warm = [(v, "Something else entirely, said first.") for v in voices]
    backward = warm + forward[::-1]
    a, b = _run(forward), _run(backward)
    for key, value in a.items():
        assert b[key] == value, f"{key} differs between processes / orders"
    assert len({v[0] for v in a.values()}) == len(a)     # and the voices are not all the same sound

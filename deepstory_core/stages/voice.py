"""The voice stage: sentences → sentence audio → chunk audio, all as artifacts; plus the story's timing plan.

1. every sentence's speech is synthesised once per (voice, voice version, text, rate, post-processing version):
   `voice/<key>.npy` (float32 at the project rate) + `voice/<key>.json` (length, phoneme events). Keys already on
   disk are skipped, so re-running with nothing changed synthesises nothing and editing one sentence
   re-synthesises only that one;
2. the chunk planner groups the padded sentences (pure arithmetic on lengths);
3. every chunk's padded audio is written once per content key: `chunk_audio/<key>.npy` (+ `.json` phonemes).

Only one sentence or one chunk of audio is in memory at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from deepstory_kernel.contracts import PhonemeEvent, VoiceBackend
from deepstory_kernel.errors import InputError

from ..artifacts import artifact_key
from ..cast import project_cast
from ..chunks import Chunk, PlannedSentence, plan_chunks
from ..pauses import pause_samples
from ..progress import Cancelled, CancelToken, ProgressCallback, ProgressEvent, StageProgress, no_progress

VOICE_STAGE = "voice"
CHUNK_AUDIO_STAGE = "chunk_audio"
# Bump when trimming/normalising/resampling of sentence audio changes: every sentence gets a new key.
# 2: voices made reproducible (espeak-ng in pristine forked children, Piper's noise seeded per sentence).
POSTPROCESS_VERSION = 2

VoiceFactory = Callable[[str], VoiceBackend]


@dataclass(frozen=True)
class SentenceTiming:
    """Where a sentence's speech sits in the story soundtrack (samples at the project rate, end exclusive)."""

    sentence_id: int
    chunk_index: int
    start_sample: int
    end_sample: int


@dataclass(frozen=True)
class StoryPlan:
    """The chunks of a story and the timing of every sentence — what base, animate, export and subtitles need."""

    chunks: tuple[Chunk, ...]
    sentence_times: tuple[SentenceTiming, ...]
    sample_rate: int

    @property
    def num_samples(self) -> int:
        return self.chunks[-1].end_sample if self.chunks else 0

    @property
    def duration(self) -> float:
        return self.num_samples / self.sample_rate


def voice_version(voice: VoiceBackend) -> str:
    """What identifies a voice's weights beyond its id (a checksum or version string when the backend has one)."""
    for attribute in ("weights_checksum", "version", "checksum"):
        value = getattr(voice, attribute, None)
        if value:
            return str(value)
    tuning = getattr(voice, "espeak_voice", None)   # built-in voices: their rate/pitch settings are the "weights"
    return repr(tuning) if tuning is not None else ""


def sentence_audio_key(voice: VoiceBackend, text: str, sample_rate: int) -> str:
    """The key of a sentence's audio: voice id, weights fingerprint, tuning, the text as spoken, rate."""
    tuning = getattr(voice, "tuning", None)
    parts = {} if tuning is None or tuning.is_default else {"tuning": tuning.to_dict()}
    return artifact_key(VOICE_STAGE, voice_id=voice.voice_id, voice_version=voice_version(voice), text=text,
                        sample_rate=sample_rate, postprocess=POSTPROCESS_VERSION, **parts)


def spoken_text(sentence) -> str:
    """What the voice reads: the sentence's "say as" respelling when it has one, else its text (subtitles always
    show the text)."""
    say_as = " ".join(str(getattr(sentence, "say_as", "") or "").split())
    return say_as or sentence.text


def stored_sentence_length(store, key: str, repair: bool = True) -> int | None:
    """Speech samples of a sentence's finished audio artifact, or None when it is not (completely) there; a
    damaged one (no sample count, audio of another length) is moved aside (`repair`; queries pass False and
    leave it), so it is synthesised again."""
    from ..integrity import audio_length

    return audio_length(store, VOICE_STAGE, key, f"The sentence audio {VOICE_STAGE}/{key}", repair=repair)


def _default_voice_factory(voice_id: str) -> VoiceBackend:
    from ..voices import get_voice

    return get_voice(voice_id)


def _check_cancel(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


# -- 1. sentence audio ---------------------------------------------------------------------------------------------
def synthesize_sentences(project, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
                         voice_factory: VoiceFactory | None = None) -> list[PlannedSentence]:
    """Make sure every sentence has its audio artifact; returns what the chunk planner needs for each."""
    from ..voices import synthesize_sentence, tune

    voice_factory = voice_factory or _default_voice_factory
    settings = project.settings
    sample_rate = settings.sample_rate
    rows = project.sentence_rows
    if not rows:
        raise InputError("The project has no sentences; give it a story with at least one line of text.")
    cast = project_cast(project)
    voices: dict[str, VoiceBackend] = {}
    lengths: dict[str, int] = {}   # audio key → speech samples, for sentences repeated in the story
    planned: list[PlannedSentence] = []
    store = project.store
    tracker = StageProgress(progress, "voice", len(rows), "sentences")
    for sentence_id, sentence in enumerate(project.sentences):
        tracker.message = f"sentence {sentence_id + 1} ({sentence.speaker[:20]})"
        entry = cast[sentence.speaker]
        if entry.voice_id not in voices:
            voices[entry.voice_id] = voice_factory(entry.voice_id)
        voice = tune(voices[entry.voice_id], entry.tuning)
        key = sentence_audio_key(voice, spoken_text(sentence), sample_rate)
        if key not in lengths:
            stored = stored_sentence_length(store, key)
            if stored is None:
                _check_cancel(cancel)
                stored = _synthesize_one(store, key, voice, sentence, sample_rate, synthesize_sentence)
            lengths[key] = stored
        before, after = pause_samples(sentence, settings)
        planned.append(PlannedSentence(sentence_id, sentence.speaker, key, lengths[key], before, after))
        tracker.advance()
    return planned


def _synthesize_one(store, key: str, voice: VoiceBackend, sentence, sample_rate: int, synthesize_sentence) -> int:
    try:
        speech = synthesize_sentence(voice, spoken_text(sentence), sample_rate)
    except InputError as err:
        raise InputError(f"Line {sentence.line_index + 1} ({sentence.speaker[:40]}): {err}") from err
    audio = np.asarray(speech.audio, dtype=np.float32).reshape(-1)
    store.write_npy(VOICE_STAGE, key, audio)
    # The json is written last: its presence marks the artifact complete.
    store.write_json(VOICE_STAGE, key, {
        "num_samples": int(audio.shape[0]),
        "sample_rate": sample_rate,
        "voice_id": voice.voice_id,
        "phonemes": [[int(p.sample), p.phoneme] for p in speech.phonemes],
    })
    return int(audio.shape[0])


# -- 2. plan -------------------------------------------------------------------------------------------------------
def build_plan(planned: Sequence[PlannedSentence], settings) -> StoryPlan:
    chunks = plan_chunks(planned, settings)
    times = []
    for chunk in chunks:
        for sentence_id, (start, end) in zip(chunk.sentence_ids, chunk.sentence_spans):
            times.append(SentenceTiming(sentence_id, chunk.index, chunk.start_sample + start, chunk.start_sample + end))
    return StoryPlan(tuple(chunks), tuple(times), settings.sample_rate)


# -- 3. chunk audio ------------------------------------------------------------------------------------------------
def write_chunk_audio(project, plan: StoryPlan, planned: Sequence[PlannedSentence],
                      progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> None:
    """Write each chunk's padded audio (and its phoneme events, chunk-relative) unless already on disk."""
    store = project.store
    by_id = {item.sentence_id: item for item in planned}
    from ..integrity import audio_length

    for chunk in plan.chunks:
        if audio_length(store, CHUNK_AUDIO_STAGE, chunk.content_key, f"The audio of chunk {chunk.index + 1}",
                        expected=chunk.num_samples) is None:
            _check_cancel(cancel)
            audio = np.zeros(chunk.num_samples, dtype=np.float32)
            phonemes: list[list] = []
            for sentence_id, (start, end) in zip(chunk.sentence_ids, chunk.sentence_spans):
                key = by_id[sentence_id].audio_key
                audio[start:end] = store.read_npy(VOICE_STAGE, key)
                phonemes.extend([int(s) + start, p] for s, p in store.read_json(VOICE_STAGE, key)["phonemes"])
            store.write_npy(CHUNK_AUDIO_STAGE, chunk.content_key, audio)
            store.write_json(CHUNK_AUDIO_STAGE, chunk.content_key, {
                "num_samples": chunk.num_samples, "sample_rate": plan.sample_rate, "speaker": chunk.speaker,
                "phonemes": phonemes,
            })
            del audio
        progress(ProgressEvent("chunks", chunk.index + 1, len(plan.chunks),
                              f"writing the audio of chunk {chunk.index + 1} ({chunk.speaker[:20]})", "chunks"))


def load_chunk_audio(project, chunk: Chunk, mmap: bool = True) -> np.ndarray:
    """A chunk's padded audio (float32; memory-mapped unless `mmap=False`)."""
    return project.store.read_npy(CHUNK_AUDIO_STAGE, chunk.content_key, mmap=mmap)


def load_chunk_phonemes(project, chunk: Chunk) -> tuple[PhonemeEvent, ...]:
    data = project.store.read_json(CHUNK_AUDIO_STAGE, chunk.content_key)
    return tuple(PhonemeEvent(int(s), str(p)) for s, p in data["phonemes"])


def prepare_soundtrack(project, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None,
                       voice_factory: VoiceFactory | None = None) -> StoryPlan:
    """Voice stage + chunk plan + chunk audio; returns the plan (chunks and sentence times) for later stages."""
    planned = synthesize_sentences(project, progress, cancel, voice_factory)
    plan = build_plan(planned, project.settings)
    write_chunk_audio(project, plan, planned, progress, cancel)
    return plan

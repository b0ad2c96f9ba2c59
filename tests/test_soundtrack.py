"""Story → sentence audio → chunks → story.wav + story.srt: sample-exact pauses and cues, incremental work,
bounded memory on a 2 MB story, and the `speak` CLI's answers to bad input.

Most tests use `ToneVoice`, a real (tiny, deterministic) VoiceBackend whose speech never touches zero, so speech
and silence can be told apart sample by sample in the written WAV. The CLI tests use the real espeak voices.
"""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from deepstory_core.cli import main
from deepstory_core.project import PROJECT_FILE, Project
from deepstory_core.settings import Settings
from deepstory_core.soundtrack import write_soundtrack
from deepstory_core.stages.voice import CHUNK_AUDIO_STAGE, VOICE_STAGE, prepare_soundtrack
from deepstory_core.subtitles import samples_to_ms, subtitle_cues, write_srt
from deepstory_core.wavio import read_wav, wav_info
from deepstory_kernel.contracts import PhonemeEvent, Speech

SR = 22050


class ToneVoice:
    """A deterministic test voice: a positive-offset tone, `samples_per_char` samples per character of text."""

    calls: list[str] = []

    def __init__(self, voice_id: str, samples_per_char: int = 120) -> None:
        self.voice_id = voice_id
        self.samples_per_char = samples_per_char
        self.frequency = 100 + sum(map(ord, voice_id)) % 300

    def synthesize(self, text: str) -> Speech:
        ToneVoice.calls.append(text)
        n = max(64, self.samples_per_char * len(text))
        t = np.arange(n) / SR
        audio = (0.3 + 0.2 * np.sin(2 * np.pi * self.frequency * t)).astype(np.float32)  # never below 0.1
        return Speech(audio, SR, (PhonemeEvent(0, "a"), PhonemeEvent(n // 2, "o")))


@pytest.fixture(autouse=True)
def _reset_calls():
    ToneVoice.calls.clear()


def tone_factory(samples_per_char: int = 120):
    return lambda voice_id: ToneVoice(voice_id, samples_per_char)


def speech_runs(samples: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of every run of non-zero samples."""
    nonzero = np.concatenate([[0], (samples != 0).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(nonzero))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist()))


def parse_srt(text: str) -> list[tuple[int, int, str]]:
    cues = []
    for block in text.strip().split("\n\n"):
        _, times, *lines = block.split("\n")
        start, end = (sum(int(x) * m for x, m in zip(re.split("[:,]", t), (3_600_000, 60_000, 1000, 1)))
                      for t in times.split(" --> "))
        cues.append((start, end, "\n".join(lines)))
    return cues


STORY = "\n".join([
    "Alice: Who are you?! I am lost...",
    "Bob|Stop. Wait, “now.”",
    "The road was long; nobody spoke",
])


def render(tmp_path: Path, story: str = STORY, settings: Settings | None = None, samples_per_char: int = 120):
    project = Project(tmp_path / "project")
    if settings is not None:
        project.settings = settings
    project.set_story(story)
    project.save()
    plan = prepare_soundtrack(project, voice_factory=tone_factory(samples_per_char))
    wav = write_soundtrack(project, plan, tmp_path / "story.wav")
    write_srt(tmp_path / "story.srt", subtitle_cues(plan, project.sentences), SR)
    return project, plan, wav


# Sample counts of the original's process_wavs (shared/reference/deepstory/punctuation_pauses.json).
PAD_END = {"?!": 15434, "...": 19844, ".": 6615, ".”": 7717}
LINE_START = 11025


def test_pauses_are_sample_exact_in_the_written_wav(tmp_path):
    project, plan, wav = render(tmp_path)
    pad_end, line_start = PAD_END, LINE_START
    rate, samples = read_wav(wav)
    assert rate == SR
    runs = speech_runs(samples)
    texts = [s.text for s in project.sentences]
    assert texts == ["Who are you?!", "I am lost...", "Stop.", "Wait, “now.”", "The road was long; nobody spoke"]
    assert len(runs) == 5
    assert runs[0][0] == line_start                                      # 0.5 s before a line's first sentence
    assert runs[1][0] - runs[0][1] == pad_end["?!"]                      # same line, same chunk: "?!" only
    chunk0, chunk1, chunk2 = plan.chunks
    # across a chunk boundary: pause after + padding to whole frames + line-start pause
    assert runs[2][0] - runs[1][1] == pad_end["..."] + (chunk0.num_samples - chunk0.sentence_spans[-1][1] - pad_end["..."]) + line_start
    assert chunk0.num_samples - chunk0.sentence_spans[-1][1] - pad_end["..."] in range(0, 882)
    assert runs[3][0] - runs[2][1] == pad_end["."]
    assert chunk1.num_samples - chunk1.sentence_spans[-1][1] - pad_end[".”"] in range(0, 882)
    assert runs[4][0] == chunk2.start_sample + line_start
    assert len(samples) == chunk2.end_sample == sum(c.num_samples for c in plan.chunks)
    assert all(c.num_samples % 882 == 0 for c in plan.chunks)
    # the speech itself is exactly the stored sentence audio
    for run, timing in zip(runs, plan.sentence_times):
        assert run == (timing.start_sample, timing.end_sample)


def test_srt_cues_match_the_soundtrack_to_the_sample(tmp_path):
    project, plan, wav = render(tmp_path)
    _, samples = read_wav(wav)
    runs = speech_runs(samples)
    cues = subtitle_cues(plan, project.sentences)
    assert [(c.start_sample, c.end_sample) for c in cues] == runs
    srt = parse_srt((tmp_path / "story.srt").read_text(encoding="utf-8"))
    assert [text for _, _, text in srt] == [s.text for s in project.sentences]
    for (start_ms, end_ms, _), (start, end) in zip(srt, runs):
        assert abs(start_ms - start * 1000 / SR) <= 0.5 and abs(end_ms - end * 1000 / SR) <= 0.5
    assert samples_to_ms(SR * 3600 * 30 + 11, SR) == 3600 * 30 * 1000   # no drift on very long stories
    prefixed = tmp_path / "prefixed.srt"
    write_srt(prefixed, cues, SR, speaker_prefix=True)
    assert [t for _, _, t in parse_srt(prefixed.read_text(encoding="utf-8"))][:3] == [
        "Alice: Who are you?!", "Alice: I am lost...", "Bob: Stop."]


def test_chunk_audio_holds_the_sentences_and_phonemes(tmp_path):
    project, plan, _ = render(tmp_path)
    from deepstory_core.stages.voice import load_chunk_audio, load_chunk_phonemes

    chunk = plan.chunks[0]
    audio = load_chunk_audio(project, chunk)
    assert audio.dtype == np.float32 and audio.shape == (chunk.num_samples,)
    assert [(s, e) for s, e in speech_runs(audio)] == list(chunk.sentence_spans)
    phonemes = load_chunk_phonemes(project, chunk)
    assert [p.sample for p in phonemes][::2] == [s for s, _ in chunk.sentence_spans]


def test_only_changed_sentences_are_synthesised_again(tmp_path):
    project, plan, wav = render(tmp_path)
    assert len(ToneVoice.calls) == 5
    first_wav = wav.read_bytes()
    chunk_files = set((project.root / "artifacts" / CHUNK_AUDIO_STAGE).iterdir())

    ToneVoice.calls.clear()
    again = prepare_soundtrack(Project.open(project.root), voice_factory=tone_factory())
    assert ToneVoice.calls == [] and again == plan
    write_soundtrack(project, again, tmp_path / "again.wav")
    assert (tmp_path / "again.wav").read_bytes() == first_wav
    assert set((project.root / "artifacts" / CHUNK_AUDIO_STAGE).iterdir()) == chunk_files

    edited = Project.open(project.root)
    edited.sentence_rows[2]["text"] = "Halt."
    edited.save()
    edited_plan = prepare_soundtrack(Project.open(project.root), voice_factory=tone_factory())
    assert ToneVoice.calls == ["Halt."]
    # only Bob's chunk changed; the others keep their content keys (and hence their seeds and renders)
    assert [a.content_key == b.content_key for a, b in zip(plan.chunks, edited_plan.chunks)] == [True, False, True]
    assert len(project.store.keys(VOICE_STAGE)) == 6

    # a changed speaker's voice re-synthesises that speaker's sentences only
    recast = Project.open(project.root)
    from deepstory_core.cast import CastEntry

    recast.cast = {**recast.cast, "Alice": CastEntry("espeak:en+m7")}
    ToneVoice.calls.clear()
    prepare_soundtrack(recast, voice_factory=tone_factory())
    assert ToneVoice.calls == ["Who are you?!", "I am lost..."]


def test_repeated_sentences_are_synthesised_once(tmp_path):
    render(tmp_path, story="Alice: Yes.\nBob: No.\nAlice: Yes.\nBob: No.")
    assert sorted(ToneVoice.calls) == ["No.", "Yes."]


_MEASURE_SOUNDTRACK = """
import dataclasses, pickle, sys, tracemalloc
from deepstory_core.project import Project
from deepstory_core.soundtrack import write_soundtrack
root, plan_file, out = sys.argv[1:4]
project = Project.open(root)
plan = pickle.loads(open(plan_file, "rb").read())
write_soundtrack(project, dataclasses.replace(plan, chunks=plan.chunks[:2]), out + ".warm.wav")  # one-time costs
tracemalloc.start()
write_soundtrack(project, plan, out)
print(tracemalloc.get_traced_memory()[1])
"""


def _soundtrack_peak_in_clean_process(project, plan, out: Path) -> int:
    """Peak traced allocations of `write_soundtrack`, measured in a fresh interpreter: no other test's threads
    or imports share the trace."""
    plan_file = out.with_suffix(".plan.pickle")
    plan_file.write_bytes(pickle.dumps(plan))
    done = subprocess.run([sys.executable, "-c", _MEASURE_SOUNDTRACK, str(project.root), str(plan_file), str(out)],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1], check=True)
    return int(done.stdout.split()[-1])


def test_a_2mb_story_renders_in_bounded_memory(tmp_path):
    paragraph = (
        "The night was cold and the road was long. Nobody knew where the path would end, or when.\n"
        "She looked at him for a long time; then she smiled, and they walked on together.\n"
        "Hours later, the lights of the village appeared between the trees. It was NUMBER miles away.\n"
        "Alice: Who are you? I have been walking for hours!\n"
        "Bob|Nobody important, I'm afraid. Just a traveller, like you.\n"
    )
    story = "".join(paragraph.replace("NUMBER", str(i // 50)) for i in range(2_100_000 // len(paragraph)))
    assert len(story.encode()) >= 2_000_000
    settings = Settings(punctuation_pauses={}, line_start_pause=0.0)   # keep the WAV small: speech only
    project = Project(tmp_path / "project")
    project.settings = settings
    project.set_story(story)
    project.save()
    plan = prepare_soundtrack(project, voice_factory=tone_factory(samples_per_char=10))
    assert len(plan.sentence_times) == len(project.sentence_rows) > 35_000
    assert len(ToneVoice.calls) < 200                                    # repeated sentences: synthesised once
    peak = _soundtrack_peak_in_clean_process(project, plan, tmp_path / "story.wav")
    write_srt(tmp_path / "story.srt", subtitle_cues(plan, project.sentences), SR)
    rate, channels, frames = wav_info(tmp_path / "story.wav")
    assert frames == plan.num_samples
    wav_bytes = (tmp_path / "story.wav").stat().st_size
    largest_chunk_bytes = max(c.num_samples for c in plan.chunks) * 4
    # one chunk at a time, not the WAV; the slack covers the cyclic garbage numpy's .npy header parser
    # (ast.literal_eval) leaves per chunk until the garbage collector runs
    assert wav_bytes > 40 * 2**20 and peak < 4 * largest_chunk_bytes + 2 * 2**20
    assert (tmp_path / "story.srt").read_text(encoding="utf-8").count(" --> ") == len(plan.sentence_times)


# -- the CLI, with the real espeak voices --------------------------------------------------------------------------

@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPSTORY_PROJECTS", str(tmp_path / "projects"))
    return tmp_path


def speak(capsys, *args) -> tuple[int, str, str]:
    code = main(["speak", *map(str, args), "--quiet"])
    out, err = capsys.readouterr()
    return code, out, err


def test_speak_end_to_end_with_espeak_voices(home, capsys):
    story = home / "story.txt"
    story.write_text("It was late.\nAlice: Who are you?\na/b|Nobody.\n🐱 Cat|Meow! Meow.\n..|Dots.\n", encoding="utf-8")
    out = home / "out" / "story.wav"
    out.parent.mkdir()
    code, stdout, err = speak(capsys, story, "-o", out)
    assert code == 0, err
    # chunk 2 (1-based, the number `render --retry-chunk` takes) is Alice's, holding sentence 2
    assert re.search(r"^\s+2\s+Alice\s+\d+\.\d\ds\s+\d+\s+2 \(1\)$", stdout, re.M)
    assert "5 chunks, 6 sentences" in stdout
    rate, samples = read_wav(out)
    assert rate == SR and len(samples) % 882 == 0 and np.abs(samples).max() > 5000
    cues = parse_srt(out.with_suffix(".srt").read_text(encoding="utf-8"))
    assert [c[2] for c in cues] == ["It was late.", "Who are you?", "Nobody.", "Meow!", "Meow.", "Dots."]
    assert cues[0][0] == 500
    # voices differ per speaker, the speaker names became no paths, and a second run synthesises nothing
    (project_dir,) = (home / "projects").iterdir()
    data = json.loads((project_dir / PROJECT_FILE).read_text(encoding="utf-8"))
    assert len({entry["voice_id"] for entry in data["cast"].values()}) == 5
    assert sorted(p.name for p in project_dir.iterdir()) == [".job.lock", "artifacts", PROJECT_FILE]  # + the lock
    voice_files = {p: p.stat().st_mtime_ns for p in (project_dir / "artifacts" / VOICE_STAGE).iterdir()}
    code, stdout2, _ = speak(capsys, story, "-o", out)
    assert code == 0 and stdout2 == stdout
    assert {p: p.stat().st_mtime_ns for p in (project_dir / "artifacts" / VOICE_STAGE).iterdir()} == voice_files


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"  \n\t\n   \n", "empty"),
    (b"Alice: caf\xe9 au lait\n", "not valid UTF-8"),
    ("Alice: 你好，世界。\n".encode(), "no Latin letters"),
    (("N" * 200 + "|Hello.\n").encode(), "speaker name"),
])
def test_speak_refuses_bad_stories_in_one_line(home, capsys, content, message):
    story = home / "story.txt"
    story.write_bytes(content)
    code, stdout, err = speak(capsys, story, "-o", home / "story.wav")
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not (home / "story.wav").exists()


def test_speak_refuses_unknown_voice_and_bad_yaml_before_any_work(home, capsys):
    story = home / "story.txt"
    story.write_text("Alice: Hello.\n", encoding="utf-8")
    cast = home / "cast.yaml"
    cast.write_text("Alice: espeak:en-us+f2\nBob: robot:9000\n", encoding="utf-8")
    code, _, err = speak(capsys, story, "-o", home / "story.wav", "--cast", cast)
    assert code == 2 and err.count("\n") == 1
    assert "'robot:9000'" in err and "'Bob'" in err and "python -m deepstory_core voices" in err
    cast.write_text("Alice: espeak:en-us+f2\nBob: [unclosed\n", encoding="utf-8")
    code, _, err = speak(capsys, story, "-o", home / "story.wav", "--cast", cast)
    assert code == 2 and "line 3" in err and err.count("\n") == 1
    assert not (home / "projects").exists()


@pytest.mark.parametrize("output", ["missing-folder/story.wav", "story.txt/story.wav", "adir", "/proc/story.wav",
                                    "story.mp3"])
def test_speak_checks_the_output_path_before_synthesising(home, capsys, output):
    story = home / "story.txt"
    story.write_text("Alice: Hello.\n", encoding="utf-8")
    (home / "adir").mkdir()
    target = output if output.startswith("/") else home / output
    code, _, err = speak(capsys, story, "-o", target)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert not (home / "projects").exists()


def test_speak_with_a_corrupt_project_loses_nothing(home, capsys):
    story = home / "story.txt"
    story.write_text("Alice: Hello.\n", encoding="utf-8")
    out = home / "story.wav"
    project = home / "p"
    assert speak(capsys, story, "-o", out, "--project", project)[0] == 0
    made = out.read_bytes()
    (project / PROJECT_FILE).write_text('{"schema": 1, "story": "Alice: Hello', encoding="utf-8")
    story.write_text("Alice: Goodbye.\n", encoding="utf-8")
    code, _, err = speak(capsys, story, "-o", out, "--project", project)
    assert code == 2 and "damaged" in err and err.count("\n") == 1
    assert out.read_bytes() == made
    assert (project / PROJECT_FILE).read_text(encoding="utf-8") == '{"schema": 1, "story": "Alice: Hello'
    assert len(list(project.glob(f"{PROJECT_FILE}.corrupt-*"))) == 1
    assert len(list((project / "artifacts" / VOICE_STAGE).glob("*.npy"))) == 1


def test_wav_writer_is_incremental_atomic_and_exact(tmp_path):
    from deepstory_core.wavio import WavWriter, read_wav_frames

    path = tmp_path / "a.wav"
    blocks = [np.full(1000, 0.5, np.float32), np.array([-1.5, 1.5, 0.0], np.float32), np.arange(5, dtype=np.int16)]
    with WavWriter(path, SR) as writer:
        for block in blocks:
            writer.write(block)
            assert not path.exists()                      # only appears when finished
    assert wav_info(path) == (SR, 1, 1008)
    _, samples = read_wav(path)
    assert samples[0] == 16384 and list(samples[1000:1003]) == [-32767, 32767, 0] and list(samples[1003:]) == [0, 1, 2, 3, 4]
    assert [len(b) for b in read_wav_frames(path, block_frames=300)] == [300, 300, 300, 108]
    before = path.read_bytes()
    with pytest.raises(KeyError):
        with WavWriter(path, SR) as writer:
            writer.write(np.ones(50, np.float32))
            raise KeyError("killed")
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["a.wav"]

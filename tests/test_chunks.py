"""The chunk planner: the original's rule (speaker change, or strictly more than cut_size already), whole frames."""

from __future__ import annotations

import pytest

from deepstory_core.chunks import PlannedSentence, plan_chunks
from deepstory_core.settings import Settings

SETTINGS = Settings()
SPF = SETTINGS.samples_per_frame  # 882


def item(i: int, speaker: str = "A", speech: int = 1000, before: int = 0, after: int = 0, key: str | None = None):
    return PlannedSentence(i, speaker, key or f"{i:024x}", speech, before, after)


def test_speaker_change_starts_a_new_chunk():
    items = [item(0, "A"), item(1, "A"), item(2, "B"), item(3, "A"), item(4, "A")]
    chunks = plan_chunks(items, SETTINGS)
    assert [c.speaker for c in chunks] == ["A", "B", "A"]
    assert [c.sentence_ids for c in chunks] == [(0, 1), (2,), (3, 4)]
    assert [c.index for c in chunks] == [0, 1, 2]


def test_cut_size_is_strictly_more_than_the_audio_already_in_the_chunk():
    settings = Settings(cut_size=3000)
    # exactly cut_size already in the chunk: not more → the next sentence still joins
    chunks = plan_chunks([item(0, speech=3000), item(1, speech=10)], settings)
    assert [c.sentence_ids for c in chunks] == [(0, 1)]
    # one sample more → the next sentence starts a new chunk
    chunks = plan_chunks([item(0, speech=3001), item(1, speech=10)], settings)
    assert [c.sentence_ids for c in chunks] == [(0,), (1,)]
    # pauses count as audio in the chunk (the padded sentences are measured)
    chunks = plan_chunks([item(0, speech=2000, before=500, after=501), item(1, speech=10)], settings)
    assert [c.sentence_ids for c in chunks] == [(0,), (1,)]
    chunks = plan_chunks([item(0, speech=2000, before=500, after=500), item(1, speech=10)], settings)
    assert [c.sentence_ids for c in chunks] == [(0, 1)]


def test_cut_size_accumulates_and_a_chunk_may_exceed_it_by_one_sentence():
    settings = Settings(cut_size=2500)
    items = [item(i, speech=1000) for i in range(7)]
    chunks = plan_chunks(items, settings)
    # 1000, 2000, 3000 (> 2500 → close) ...
    assert [c.sentence_ids for c in chunks] == [(0, 1, 2), (3, 4, 5), (6,)]
    # a single sentence longer than cut_size is never split
    chunks = plan_chunks([item(0, speech=10_000), item(1, speech=10)], settings)
    assert chunks[0].sentence_ids == (0,) and chunks[0].sentence_spans == ((0, 10_000),)


def test_default_cut_size_is_the_originals_800000_samples():
    assert SETTINGS.cut_size == 800_000
    items = [item(i, speech=200_000) for i in range(6)]   # 4 × 200000 = 800000: not more → 5th joins
    chunks = plan_chunks(items, SETTINGS)
    assert [c.sentence_ids for c in chunks] == [(0, 1, 2, 3, 4), (5,)]


def test_chunks_are_padded_to_whole_frames_and_spans_locate_the_speech():
    items = [item(0, speech=1000, before=11025, after=6615), item(1, speech=5, after=3307)]
    (chunk,) = plan_chunks(items, SETTINGS)
    content = 11025 + 1000 + 6615 + 5 + 3307
    assert chunk.num_samples % SPF == 0
    assert content <= chunk.num_samples < content + SPF
    assert chunk.num_frames == chunk.num_samples // SPF
    assert chunk.sentence_spans == ((11025, 12025), (12025 + 6615, 12025 + 6615 + 5))


def test_exact_multiple_gets_no_extra_frame_and_empty_audio_gets_one_frame():
    (chunk,) = plan_chunks([item(0, speech=2 * SPF)], SETTINGS)
    assert chunk.num_samples == 2 * SPF
    (chunk,) = plan_chunks([item(0, speech=0)], SETTINGS)
    assert chunk.num_samples == SPF


def test_chunks_tile_the_story_and_never_split_a_sentence():
    settings = Settings(cut_size=5000)
    items = [item(i, "AB"[i // 5 % 2], speech=700 + 37 * i, before=100 * (i % 3 == 0), after=50) for i in range(40)]
    chunks = plan_chunks(items, settings)
    assert [i for c in chunks for i in c.sentence_ids] == list(range(40))
    position = 0
    for chunk in chunks:
        assert chunk.start_sample == position
        position += chunk.num_samples
        for sentence_id, (start, end) in zip(chunk.sentence_ids, chunk.sentence_spans):
            assert end - start == items[sentence_id].speech_samples
            assert 0 <= start <= end <= chunk.num_samples


def test_content_key_depends_on_content_not_position():
    a = [item(0, "A", key="a" * 24), item(1, "B", key="b" * 24)]
    b = [item(0, "X", key="c" * 24), item(1, "A", key="a" * 24), item(2, "B", key="b" * 24)]
    chunks_a, chunks_b = plan_chunks(a, SETTINGS), plan_chunks(b, SETTINGS)
    assert chunks_a[0].content_key == chunks_b[1].content_key
    assert chunks_a[1].content_key == chunks_b[2].content_key
    changed = [item(0, "A", key="a" * 24, after=1), item(1, "B", key="b" * 24)]
    assert plan_chunks(changed, SETTINGS)[0].content_key != chunks_a[0].content_key
    assert plan_chunks(changed, SETTINGS)[1].content_key == chunks_a[1].content_key


@pytest.mark.parametrize("cut_size", [1, 1000, 10**9])
def test_empty_input_plans_nothing(cut_size):
    assert plan_chunks([], Settings(cut_size=cut_size)) == []

"""Default casting by cues (#11.2): titles and kinship words, pronouns after the name in narration, first names
from an offline list. A table of stories and the register each speaker must get, then the voices it implies."""

from __future__ import annotations

import pytest

from deepstory_core.casting import FEMALE, MALE, UNKNOWN, cast_by_cues, speaker_registers
from deepstory_core.story import ParseOptions, parse_story
from deepstory_core.voices import FEMALE_VOICES, MALE_VOICES, NARRATOR_VOICE

# (story, speaker, expected register)
TABLE = [
    ("Father: Come home.\nMara: No.", "Father", MALE),
    ("Father: Come home.\nMara: No.", "Mara", FEMALE),
    ("Mother: Dinner is ready.", "Mother", FEMALE),
    ("Mr Hobbs: Good evening.", "Mr Hobbs", MALE),
    ("Mrs Hudson: Tea?", "Mrs Hudson", FEMALE),
    ("Miss Lane: Hello.", "Miss Lane", FEMALE),
    ("Sir Robin: Run away!", "Sir Robin", MALE),
    ("Lady Grey: How charming.", "Lady Grey", FEMALE),
    ("King of Hearts: Silence!", "King of Hearts", MALE),
    ("Queen: Off with her head!", "Queen", FEMALE),
    ("Uncle Ben: With great power…", "Uncle Ben", MALE),
    ("Aunt May: Peter, eat.", "Aunt May", FEMALE),
    ("Grandma: Come in, dear.", "Grandma", FEMALE),
    ("Dr. Watson: Remarkable.", "Dr. Watson", UNKNOWN),           # a title that says nothing, an unknown name
    ("Alice: Who are you?", "Alice", FEMALE),                     # first-name list
    ("Bob: Fine, thanks.", "Bob", MALE),
    ("Elizabeth: Indeed.", "Elizabeth", FEMALE),
    ("James: Right.", "James", MALE),
    ("Kestrel looked up. She had heard a noise.\nKestrel: Who is there?", "Kestrel", FEMALE),   # pronoun
    ("Zorblat waited by the door. He was cold.\nZorblat: Hurry.", "Zorblat", MALE),
    ("Alex sat down and crossed her arms.\nAlex: Well?", "Alex", FEMALE),   # pronouns beat the name list
    ("Mara met Tom at the gate. He smiled.\nMara: Hi.\nTom: Hello.", "Tom", MALE),
    ("Mara met Tom at the gate. He smiled.\nMara: Hi.\nTom: Hello.", "Mara", FEMALE),  # "He" is Tom's
    ("Robot: Beep.", "Robot", UNKNOWN),
]


@pytest.mark.parametrize("story, speaker, expected", TABLE, ids=[f"{s}-{i}" for i, (_, s, _) in enumerate(TABLE)])
def test_speaker_register_from_cues(story: str, speaker: str, expected: str) -> None:
    sentences = parse_story(story, ParseOptions())
    speakers = list(dict.fromkeys(s.speaker for s in sentences))
    assert speaker_registers(speakers, "Narrator", sentences)[speaker] == expected


def test_table_accuracy_and_the_voices_it_implies() -> None:
    right = 0
    for story, speaker, expected in TABLE:
        sentences = parse_story(story, ParseOptions())
        speakers = list(dict.fromkeys(s.speaker for s in sentences))
        cast = cast_by_cues(["Narrator", *speakers], "Narrator", sentences)
        assert cast["Narrator"] == NARRATOR_VOICE
        voice = cast[speaker]
        if expected == FEMALE:
            right += voice in FEMALE_VOICES
        elif expected == MALE:
            right += voice in MALE_VOICES
        else:
            right += 1
        others = [cast[s] for s in speakers]
        assert len(set(others)) == len(others)   # distinct voices
    assert right == len(TABLE)


def test_the_father_and_mara_story_of_the_issue() -> None:
    story = ("Mara stood at the window. She could see the road.\nFather: Mara, come away from there.\n"
             "Mara: Just a minute.\nHer father sighed.")
    sentences = parse_story(story, ParseOptions())
    cast = cast_by_cues(["Narrator", "Father", "Mara"], "Narrator", sentences)
    assert cast["Father"] in MALE_VOICES and cast["Mara"] in FEMALE_VOICES


def test_many_speakers_of_one_register_repeat_only_after_all_are_used() -> None:
    names = ["Mrs A", "Mrs B", "Mrs C", "Mrs D", "Mrs E", "Mrs F"]
    cast = cast_by_cues(names, "Narrator")
    assert [cast[n] for n in names[:4]] == list(FEMALE_VOICES)
    assert {cast["Mrs E"], cast["Mrs F"]} <= set(FEMALE_VOICES) and cast["Mrs E"] != cast["Mrs F"]

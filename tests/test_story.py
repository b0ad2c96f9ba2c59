"""Story parsing: speaker tags, the colon rule, sentence splitting, trailing punctuation, grouping, bad input."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from deepstory_core.story import (
    MAX_SPEAKER_NAME,
    ParseOptions,
    Sentence,
    decode_story,
    iter_sentences,
    parse_story,
    read_story_file,
    trailing_punctuation,
)
from deepstory_kernel.errors import InputError

N = "Narrator"
REPO = Path(__file__).resolve().parents[1]

# (story line, [(speaker, sentence text, trailing punctuation), ...])
TRICKY_LINES: list[tuple[str, list[tuple[str, str, str]]]] = [
    ("Alice: Who are you?", [("Alice", "Who are you?", "?")]),
    ("Alice|Who are you?", [("Alice", "Who are you?", "?")]),
    ("At 10:30 she left.", [(N, "At 10:30 she left.", ".")]),
    ("He said: run.", [(N, "He said: run.", ".")]),
    ("Note: bring the key.", [(N, "Note: bring the key.", ".")]),
    ("Chapter 1: The Pool of Tears", [(N, "Chapter 1: The Pool of Tears", "")]),
    ("Yes. Alice: hi there.", [(N, "Yes.", "."), (N, "Alice: hi there.", ".")]),
    ("The rule was simple: listen.", [(N, "The rule was simple: listen.", ".")]),
    ("Dr. Watson: Holmes, look! A clue.", [("Dr. Watson", "Holmes, look!", "!"), ("Dr. Watson", "A clue.", ".")]),
    ("King of Hearts: Off with her head!", [("King of Hearts", "Off with her head!", "!")]),
    ("The White Rabbit: Oh dear! Oh dear!", [("The White Rabbit", "Oh dear!", "!"), ("The White Rabbit", "Oh dear!", "!")]),
    ("O'Brien: Fine.", [("O'Brien", "Fine.", ".")]),
    ("Jean-Luc: Engage.", [("Jean-Luc", "Engage.", ".")]),
    ("🐇/..|I'm late!", [("🐇/..", "I'm late!", "!")]),
    ("  Mad   Hatter |  Have some wine. ", [("Mad Hatter", "Have some wine.", ".")]),
    ("Mr. Smith went to Baker St. He was late.", [(N, "Mr. Smith went to Baker St.", "."), (N, "He was late.", ".")]),
    ("Meet me at St. Paul's Cathedral. OK?", [(N, "Meet me at St. Paul's Cathedral.", "."), (N, "OK?", "?")]),
    ("Mrs. Brown met Dr. Jones and Prof. Plum.", [(N, "Mrs. Brown met Dr. Jones and Prof. Plum.", ".")]),
    ("J. K. Rowling wrote it. She is rich.", [(N, "J. K. Rowling wrote it.", "."), (N, "She is rich.", ".")]),
    ("Bring fruit, e.g. Apples or pears.", [(N, "Bring fruit, e.g. Apples or pears.", ".")]),
    ("The U.S.A. is big. I know.", [(N, "The U.S.A. is big.", "."), (N, "I know.", ".")]),
    ("It cost $3.50. Cheap.", [(N, "It cost $3.50.", "."), (N, "Cheap.", ".")]),
    ("Wait... what? Really?!", [(N, "Wait... what?", "?"), (N, "Really?!", "?!")]),
    ("Well… Then he came.", [(N, "Well…", "…"), (N, "Then he came.", ".")]),
    ("Hello!!! What??", [(N, "Hello!!!", "!!!"), (N, "What??", "??")]),
    ("Yes…I think so.", [(N, "Yes…I think so.", ".")]),
    ("“Hello.” “Hi.”", [(N, "“Hello.”", ".”"), (N, "“Hi.”", ".”")]),
    ('He said "Stop." Then he left.', [(N, 'He said "Stop."', '."'), (N, "Then he left.", ".")]),
    ('"Run!" she cried.', [(N, '"Run!" she cried.', ".")]),
    ("“Who are you?” said the Caterpillar.", [(N, "“Who are you?” said the Caterpillar.", ".")]),
    (
        "Alice replied, shyly, “I hardly know, sir.” The Caterpillar stared.",
        [(N, "Alice replied, shyly, “I hardly know, sir.”", ".”"), (N, "The Caterpillar stared.", ".")],
    ),
    ("‘Well!’ thought Alice. ‘After such a fall!’", [(N, "‘Well!’ thought Alice.", "."), (N, "‘After such a fall!’", "!’")]),
    ("Alice: “Curiouser and curiouser!” she cried.", [("Alice", "“Curiouser and curiouser!” she cried.", ".")]),
    ("no punctuation at all", [(N, "no punctuation at all", "")]),
    ("Mad  Hatter : Tea?", [("Mad Hatter", "Tea?", "?")]),
    ("ALICE: Hi.", [("ALICE", "Hi.", ".")]),
    ("alice: hi.", [(N, "alice: hi.", ".")]),
    ("The Quick Brown Fox Jumped: away.", [(N, "The Quick Brown Fox Jumped: away.", ".")]),
    ("Mr. Smith: Hello.", [("Mr. Smith", "Hello.", ".")]),
    ("Alice:", [(N, "Alice:", ":")]),
    ("http://example.com is a site.", [(N, "http://example.com is a site.", ".")]),
    ("Time: 5 minutes later, they met.", [(N, "Time: 5 minutes later, they met.", ".")]),
    ("She had three things: a key, a cake, a bottle.", [(N, "She had three things: a key, a cake, a bottle.", ".")]),
]


@pytest.mark.parametrize("line, expected", TRICKY_LINES, ids=[line[:30] for line, _ in TRICKY_LINES])
def test_tricky_lines(line: str, expected: list[tuple[str, str, str]]) -> None:
    got = [(s.speaker, s.text, s.trailing) for s in parse_story(line)]
    assert got == expected


def test_table_is_big_enough() -> None:
    assert len(TRICKY_LINES) >= 30


def test_line_start_and_line_index_across_lines() -> None:
    story = "First line. Second sentence.\n\nAlice: Hi! Bye.\nBob|Yo."
    got = parse_story(story)
    assert [(s.line_start, s.line_index, s.speaker) for s in got] == [
        (True, 0, N), (False, 0, N), (True, 2, "Alice"), (False, 2, "Alice"), (True, 3, "Bob"),
    ]


def test_grouping_joins_up_to_n_sentences_of_one_line_only() -> None:
    story = "A one. A two. A three.\nAlice: B one. B two."
    got = parse_story(story, ParseOptions(group=2))
    assert [(s.text, s.line_start, s.trailing, s.speaker) for s in got] == [
        ("A one. A two.", True, ".", N),
        ("A three.", False, ".", N),
        ("B one. B two.", True, ".", "Alice"),
    ]


def test_tags_off_and_custom_default_speaker() -> None:
    got = parse_story("Alice: Hi.\nBob|Yo.", ParseOptions(speaker_tags=False, default_speaker="Teller"))
    assert [(s.speaker, s.text) for s in got] == [("Teller", "Alice: Hi."), ("Teller", "Bob|Yo.")]
    got = parse_story("Some prose.", ParseOptions(default_speaker="Teller"))
    assert got[0].speaker == "Teller"


def test_speakers_in_order_of_first_appearance() -> None:
    got = parse_story("Bob: a.\nNarration.\nAlice: b.\nBob: c.")
    assert list(dict.fromkeys(s.speaker for s in got)) == ["Bob", N, "Alice"]


def test_sentence_is_frozen_and_has_the_public_fields() -> None:
    s = parse_story("Hello.")[0]
    assert s == Sentence("Hello.", N, True, ".", 0)
    with pytest.raises(Exception):
        s.text = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    "text, trailing",
    [("Hi.", "."), ("Hi?!", "?!"), ("Hi...", "..."), ("Hi…", "…"), ("“Hi.”", ".”"), ('"Hi!"', '!"'),
     ("Hi", ""), ("Hi.  ", "."), ("(Hi.)", ".)"), ("", "")],
)
def test_trailing_punctuation(text: str, trailing: str) -> None:
    assert trailing_punctuation(text) == trailing


@pytest.mark.parametrize("story", ["", "   \n\t\n", "* * *\n...\n—"])
def test_nothing_to_speak_is_an_input_error(story: str) -> None:
    with pytest.raises(InputError, match="empty"):
        parse_story(story)


def test_long_speaker_name_names_the_line() -> None:
    name = "A" * 200
    with pytest.raises(InputError, match=r"Line 2: .*200 characters"):
        parse_story(f"Hello.\n{name}|Hi.")
    with pytest.raises(InputError, match=r"Line 1: "):
        parse_story(f"{'B' * (MAX_SPEAKER_NAME + 1)}: Hi.")
    ok = "C" * MAX_SPEAKER_NAME
    assert parse_story(f"{ok}|Hi.")[0].speaker == ok


def test_pipe_in_a_name_splits_at_the_first_pipe() -> None:
    got = parse_story("Alice|Bob: hi.")
    assert (got[0].speaker, got[0].text) == ("Alice", "Bob: hi.")


def test_decode_accepts_bom_and_crlf() -> None:
    assert decode_story("\ufeffAlice: hi\r\nBob: yo\r".encode()) == "Alice: hi\nBob: yo\n"


def test_decode_names_offset_and_line_of_bad_bytes() -> None:
    data = "Line one.\nLine two é.\n".encode() + b"caf\xe9\n"
    with pytest.raises(InputError, match=r"byte offset 26 \(line 3\)"):
        decode_story(data)
    with pytest.raises(InputError, match="byte offset 3"):
        decode_story(b"\xef\xbb\xbf\xff")


def test_decode_refuses_binary_and_utf16() -> None:
    with pytest.raises(InputError, match="UTF-16"):
        decode_story("Alice: hi".encode("utf-16"))
    with pytest.raises(InputError, match="binary"):
        decode_story(b"PK\x03\x04\x00\x00")


def test_read_story_file_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_story_file(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="folder"):
        read_story_file(tmp_path)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Caf\u00e9 au lait.".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.txt: .*UTF-8.*line 1"):
        read_story_file(latin1)
    good = tmp_path / "good.txt"
    good.write_text("Alice: hi.", encoding="utf-8")
    assert read_story_file(good) == "Alice: hi."


def test_example_story_has_dialogue_between_three_speakers() -> None:
    sentences = parse_story(read_story_file(REPO / "data" / "stories" / "example.txt"))
    assert list(dict.fromkeys(s.speaker for s in sentences)) == [N, "Caterpillar", "Alice"]
    words = sum(len(s.text.split()) for s in sentences)
    assert 200 <= words <= 450          # about two minutes spoken


def test_two_megabyte_story_parses_in_bounded_memory() -> None:
    block = [
        "Alice: Who are you, sir, at 10:30 in the morning?",
        "Caterpillar: I don't see why that matters to you.",
        "Narrator|Alice felt a little irritated at the Caterpillar.",
        "🐛/..|Keep your temper!",
        "The Caterpillar took the hookah out of its mouth, and said nothing at all for a long while",
    ] * 4 + ["Mr. Smith went to Baker St. He was late... Really?! “Yes.” “No.”"]
    text = "\n".join(block) + "\n"
    repeats = 2_000_000 // len(text.encode()) + 1
    story = text * repeats
    assert len(story.encode()) >= 2_000_000
    list(iter_sentences(text))                    # one-time costs (the segmenter) are not per-story memory
    was_tracing = tracemalloc.is_tracing()
    tracemalloc.start()
    tracemalloc.reset_peak()
    before, _ = tracemalloc.get_traced_memory()   # what others traced already is not ours
    try:
        count = 0
        speakers: set[str] = set()
        for sentence in iter_sentences(story):
            count += 1
            speakers.add(sentence.speaker)
        _, peak = tracemalloc.get_traced_memory()
        peak -= before
    finally:
        if not was_tracing:
            tracemalloc.stop()
    assert count == repeats * (20 + 5)
    assert speakers == {"Alice", "Caterpillar", "Narrator", "🐛/.."}
    # streaming: working memory stays far below the story's own size (a copy of its lines would be > 2 MB)
    assert peak < 1_000_000


def test_one_huge_line_is_split_in_pieces() -> None:
    story = "Bob: " + "It was late. Mr. Smith left, and it rained. " * 3000
    got = parse_story(story)
    assert len(got) == 6000
    assert {s.speaker for s in got} == {"Bob"}
    assert all(s.text in ("It was late.", "Mr. Smith left, and it rained.") for s in got)


def test_splitting_never_drops_or_changes_characters() -> None:
    from deepstory_core.story import split_sentences

    bodies = [line.split("|", 1)[-1] for line, _ in TRICKY_LINES]
    bodies += read_story_file(REPO / "data" / "stories" / "example.txt").splitlines()
    bodies += ["“Well!” thought Alice. ‘After such a fall as this, I shall think nothing of tumbling!’ (Which was true.)",
               "He said—quite loudly—“No!”… and left. [Silence.] «Fin.»"]
    for body in bodies:
        if not body.strip():
            continue
        joined = "".join("".join(split_sentences(body)).split())
        assert joined == "".join(body.split()), body


@pytest.mark.parametrize("tag", ["Jose\u0301", "Jos\u00e9", "Bob\u200b", "\u200bBob", "Bo\u00adb", "Bob\ufeff"])
def test_decomposed_and_zero_width_speaker_tags_are_tags(tag: str) -> None:
    """#12 item 11: an NFD or zero-width character in a tag must not turn the tag into narration read aloud."""
    sentences = parse_story(f"{tag}: Hello there.\n")
    assert len(sentences) == 1
    assert sentences[0].text == "Hello there."
    assert sentences[0].speaker in ("Jos\u00e9", "Bob")


def test_over_long_sentence_is_cut_at_word_boundaries_into_pieces() -> None:
    """#12 item 7: a 28-minute sentence without punctuation becomes many sentences of at most MAX_SENTENCE_CHARS."""
    from deepstory_core.story import MAX_SENTENCE_CHARS

    words = [f"word{i % 97}" for i in range(6000)]
    sentences = parse_story("Alice: " + " ".join(words) + "\nBob: " + "and more " * 30 + "then a clause; " + "and more " * 30 + "end.\n")
    alice = [s for s in sentences if s.speaker == "Alice"]
    assert len(alice) > 10 and all(len(s.text) <= MAX_SENTENCE_CHARS for s in alice)
    assert " ".join(s.text for s in alice).split() == words          # nothing lost, no word cut
    assert [s.line_start for s in alice] == [True] + [False] * (len(alice) - 1)
    bob = [s for s in sentences if s.speaker == "Bob"]
    assert len(bob) == 2 and bob[0].text.endswith(";")              # cut at the clause break
    assert bob[-1].trailing == "."


def test_long_story_reports_parsing_progress(monkeypatch) -> None:
    """#12 item 11: a large story must not parse for minutes without a sign of life."""
    from deepstory_core import story as story_module

    reports: list[tuple[int, int]] = []
    text = "".join(f"Alice: Line {i} is here. And a second one!\n" for i in range(3000))
    ticks = iter(range(10**9))
    monkeypatch.setattr(story_module, "_clock", lambda: next(ticks) * 0.1)   # every line takes 0.1 s
    parse_story(text, progress=lambda done, total: reports.append((done, total)))
    assert len(reports) > 100 and reports[-1] == (len(text), len(text))
    assert all(a[0] <= b[0] for a, b in zip(reports, reports[1:]))

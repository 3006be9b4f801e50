"""Keyword classification of a lead's message: the whole message or nothing."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from services.coordinator.compliance.keywords import (
    HELP_KEYWORDS,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    Classification,
    Intent,
    classify,
)

ALL_KEYWORDS = sorted(OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS | HELP_KEYWORDS)
EDGE = st.text(alphabet=string.whitespace + string.punctuation, max_size=6)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("STOP", Classification(Intent.OPT_OUT, "STOP")),
        ("Stop.", Classification(Intent.OPT_OUT, "STOP")),
        ("  stop  ", Classification(Intent.OPT_OUT, "STOP")),
        ("stop!!!", Classification(Intent.OPT_OUT, "STOP")),
        ("\tSTOPALL\n", Classification(Intent.OPT_OUT, "STOPALL")),
        ("unsubscribe", Classification(Intent.OPT_OUT, "UNSUBSCRIBE")),
        ("Cancel", Classification(Intent.OPT_OUT, "CANCEL")),
        ("end", Classification(Intent.OPT_OUT, "END")),
        ("Quit.", Classification(Intent.OPT_OUT, "QUIT")),
        ("revoke", Classification(Intent.OPT_OUT, "REVOKE")),
        ("optout", Classification(Intent.OPT_OUT, "OPTOUT")),
        ("opt out", Classification(Intent.OPT_OUT, "OPT OUT")),
        ("Opt   Out", Classification(Intent.OPT_OUT, "OPT OUT")),
        ("opt-out", Classification(Intent.OPT_OUT, "OPT-OUT")),
        ("\u200bSTOP", Classification(Intent.OPT_OUT, "STOP")),  # zero-width space from a keyboard
        ("\uff33\uff34\uff2f\uff30", Classification(Intent.OPT_OUT, "STOP")),  # full-width letters
        ("STOP \U0001f6d1", Classification(Intent.OPT_OUT, "STOP")),  # an emoji after it
        ("start", Classification(Intent.OPT_IN, "START")),
        ("Unstop", Classification(Intent.OPT_IN, "UNSTOP")),
        ("yes!", Classification(Intent.OPT_IN, "YES")),
        ("HELP", Classification(Intent.HELP, "HELP")),
        ("info?", Classification(Intent.HELP, "INFO")),
        # What the system we replace opted out: "end" inside "attend" and "weekend".
        ("I want to attend the open house this weekend", Classification(Intent.NONE)),
        ("I will attend the open house this weekend", Classification(Intent.NONE)),
        ("STOP PLEASE", Classification(Intent.NONE)),
        ("please cancel", Classification(Intent.NONE)),
        ("Don't stop", Classification(Intent.NONE)),
        ("stopped by the house", Classification(Intent.NONE)),
        ("S T O P", Classification(Intent.NONE)),
        ("s.t.o.p", Classification(Intent.NONE)),
        ("STOP STOP", Classification(Intent.NONE)),
        ("optout now", Classification(Intent.NONE)),
        ("Yes, Tuesday works", Classification(Intent.NONE)),
        ("", Classification(Intent.NONE)),
        ("   ", Classification(Intent.NONE)),
        ("?!", Classification(Intent.NONE)),
    ],
)
def test_examples(text: str, expected: Classification) -> None:
    assert classify(text) == expected


def _oracle(text: str) -> str:
    """An independent reading of the rule for ASCII text: strip edge punctuation and
    whitespace, collapse inner whitespace, upper-case."""
    return " ".join(text.strip(string.whitespace + string.punctuation).split()).upper()


@given(
    keyword=st.sampled_from(ALL_KEYWORDS),
    before=EDGE,
    after=EDGE,
    flips=st.lists(st.booleans(), min_size=11, max_size=11),
)
def test_any_case_and_surrounding_punctuation_still_match(
    keyword: str, before: str, after: str, flips: list[bool]
) -> None:
    cased = "".join(c.lower() if flip else c for c, flip in zip(keyword, flips, strict=False))
    found = classify(before + cased + after)
    assert found.keyword == keyword
    expected = (
        Intent.OPT_OUT
        if keyword in OPT_OUT_KEYWORDS
        else Intent.OPT_IN
        if keyword in OPT_IN_KEYWORDS
        else Intent.HELP
    )
    assert found.intent is expected


PRINTABLE = st.text(alphabet=string.printable, max_size=40)


@given(keyword=st.sampled_from(sorted(OPT_OUT_KEYWORDS)), prefix=PRINTABLE, suffix=PRINTABLE)
@example(keyword="END", prefix="I want to att", suffix=" the open house this week")
@example(keyword="STOP", prefix="please ", suffix=" texting me")
@example(keyword="CANCEL", prefix="", suffix=" my 3pm showing")
def test_a_keyword_inside_longer_text_never_revokes(keyword: str, prefix: str, suffix: str) -> None:
    text = prefix + keyword + suffix
    found = classify(text)
    if found.intent is Intent.OPT_OUT:
        # Only when what surrounds the keyword is punctuation and whitespace, or the
        # whole normalised message happens to be another keyword ("STOP" + "ALL").
        assert _oracle(text) in OPT_OUT_KEYWORDS
        assert found.keyword == _oracle(text)
    else:
        assert _oracle(text) not in OPT_OUT_KEYWORDS


@given(
    keyword=st.sampled_from(sorted(OPT_OUT_KEYWORDS)),
    prefix=st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=10),
    glue=st.sampled_from(["", " ", ", ", "-", "\n"]),
)
def test_words_before_the_keyword_mean_it_is_not_one(keyword: str, prefix: str, glue: str) -> None:
    text = prefix + glue + keyword
    assume(_oracle(text) not in OPT_OUT_KEYWORDS)  # e.g. "STOP" + "" + "ALL" is STOPALL
    assert classify(text).intent is not Intent.OPT_OUT


@given(st.text(max_size=200))
def test_classify_takes_any_text(text: str) -> None:
    found = classify(text)
    assert (found.intent is Intent.NONE) == (found.keyword == "")
    if found.intent is not Intent.NONE:
        assert found.keyword in ALL_KEYWORDS

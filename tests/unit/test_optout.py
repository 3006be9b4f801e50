"""Keyword classification of a lead's message: the whole message, or the keyword with
politeness around it; revocations in other words are compliance.revocation's (see
test_revocation.py)."""

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
        # Politeness or punctuation around the keyword does not change it (issue #9).
        ("STOP PLEASE", Classification(Intent.OPT_OUT, "STOP")),
        ("Stop please", Classification(Intent.OPT_OUT, "STOP")),
        ("STOP!!", Classification(Intent.OPT_OUT, "STOP")),
        ("stop.", Classification(Intent.OPT_OUT, "STOP")),
        ("please cancel", Classification(Intent.OPT_OUT, "CANCEL")),
        ("please stop texting me", Classification(Intent.OPT_OUT, phrase="stop texting")),
        ("take me off your list", Classification(Intent.OPT_OUT, phrase="take me off")),
        ("Stop by the open house", Classification(Intent.NONE)),
        ("I'll end up buying", Classification(Intent.NONE)),
        ("Can you cancel my showing?", Classification(Intent.NONE)),
        ("Don't stop sending listings", Classification(Intent.NONE)),
        ("Don't stop", Classification(Intent.NONE)),
        ("stopped by the house", Classification(Intent.NONE)),
        ("S T O P", Classification(Intent.NONE)),
        ("s.t.o.p", Classification(Intent.NONE)),
        ("STOP STOP", Classification(Intent.OPT_OUT, "STOP")),
        ("optout now", Classification(Intent.OPT_OUT, "OPTOUT")),
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


@given(
    keyword=st.sampled_from(sorted(OPT_OUT_KEYWORDS)),
    prefix=st.text(alphabet=string.ascii_letters + string.digits, min_size=2, max_size=10),
    suffix=st.text(alphabet=string.ascii_letters + string.digits, min_size=2, max_size=10),
)
@example(keyword="END", prefix="att", suffix="ance")
@example(keyword="STOP", prefix="un", suffix="pable")
def test_a_keyword_inside_another_word_never_revokes(keyword: str, prefix: str, suffix: str) -> None:
    """ "attEND", "unSTOPpable": the system we replace matched substrings."""
    text = prefix + keyword.replace(" ", "") + suffix
    assume(_oracle(text) not in OPT_OUT_KEYWORDS)
    assert classify(text).intent is not Intent.OPT_OUT


@given(st.text(max_size=200))
def test_classify_takes_any_text(text: str) -> None:
    found = classify(text)
    assert (found.intent is Intent.NONE) == (found.keyword == "" and found.phrase == "")
    if found.keyword:
        assert found.keyword in ALL_KEYWORDS
    if found.phrase:
        assert found.intent is Intent.OPT_OUT

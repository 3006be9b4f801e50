"""Numbers written as words, read as their value for the numbers guardrail (English and
Spanish), and that guardrail judging "three" as it judges "3"."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.content import guardrails, verdicts
from services.content.number_words import spelled_numbers
from services.content.writer import FIRST_TOUCH, SMS, SPANISH, Draft, Facts, Written


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("three bedrooms", [("three", 3)]),
        ("Twenty-two days on market", [("twenty two", 22)]),
        ("four hundred and fifty thousand dollars", [("four hundred fifty thousand", 450_000)]),
        ("a hundred homes", [("hundred", 100)]),
        ("two dozen buyers", [("two dozen", 24)]),
        ("one hundred and one", [("one hundred one", 101)]),
        ("twenty-one", [("twenty one", 21)]),
        ("one million", [("one million", 1_000_000)]),
        # Not counts: a lone "one", ordinals, words that contain a number word.
        ("the one on Oak St, no one else", []),
        ("your first home, the second floor", []),
        ("often, someone, attend, tone", []),
        # "and" joins two number words only.
        ("three and a half baths", [("three", 3)]),
        ("Rock and Roll", []),
    ],
)
def test_english_number_words(text: str, expected: list[tuple[str, int]]) -> None:
    assert spelled_numbers(text, "en") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("quedan tres casas", [("tres", 3)]),
        ("se venden en veintidós días", [("veintidos", 22)]),
        ("se venden en veintidos dias", [("veintidos", 22)]),  # folded to GSM-7
        ("treinta y dos", [("treinta dos", 32)]),
        ("doscientos cincuenta mil dólares", [("doscientos cincuenta mil", 250_000)]),
        ("mil quinientos", [("mil quinientos", 1500)]),
        ("dos millones", [("dos millones", 2_000_000)]),
        ("ciento uno", [("ciento uno", 101)]),
        # Articles are not counts; "once" is eleven only in Spanish.
        ("una casa con un jardín, uno de nuestros agentes", []),
        ("once", [("once", 11)]),
    ],
)
def test_spanish_number_words(text: str, expected: list[tuple[str, int]]) -> None:
    assert spelled_numbers(text, "es") == expected


def test_once_is_not_a_number_in_english() -> None:
    assert spelled_numbers("Once you are ready, call me.", "en") == []


@given(st.text(max_size=300), st.sampled_from(["en", "es", "es-MX", ""]))
def test_any_text_reads_as_words_and_non_negative_values(text: str, language: str) -> None:
    for words, value in spelled_numbers(text, language):
        assert words
        assert value >= 0


def judged_numbers(
    body: str, *, language: str = "en", thread: tuple[tuple[str, str], ...] = ()
) -> verdicts.Verdict:
    draft = Draft(
        lead_id=str(uuid.uuid4()),
        channel=SMS,
        purpose=FIRST_TOUCH,
        facts=Facts(lead_first_name="Maria", brand_name="Oak Realty", thread=thread),
        max_body_chars=guardrails.body_budget(SMS, True, language),
        language=language,
    )
    written = guardrails.finish(
        draft, Written(subject="", body=body, generator="claude", model="m"), postal_address=""
    )
    (found,) = [v for v in verdicts.judge(draft, written, verdicts.Policy()) if v.rule == "numbers"]
    return found


def test_a_spelled_out_number_not_in_the_input_fails_and_is_named() -> None:
    found = judged_numbers("Hi Maria, Oak Realty here. Just three homes left!")
    assert not found.passed
    assert found.detail == "numbers not in the input: 3 ('three')"


def test_a_number_the_lead_wrote_may_be_spelled_either_way() -> None:
    thread = (("lead", "We need three bedrooms"),)
    assert judged_numbers("Hi Maria, Oak Realty here. 3 bedrooms, noted.", thread=thread).passed
    thread = (("lead", "We need 3 bedrooms"),)
    assert judged_numbers("Hi Maria, Oak Realty here. Three bedrooms, noted.", thread=thread).passed


def test_spanish_messages_are_read_in_spanish() -> None:
    found = judged_numbers("Hola Maria, soy de Oak Realty. Quedan solo tres casas.", language=SPANISH)
    assert not found.passed
    assert "3 ('tres')" in found.detail
    assert judged_numbers(
        "Hola Maria, soy de Oak Realty. Uno de nuestros agentes le llamará.", language=SPANISH
    ).passed

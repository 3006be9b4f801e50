"""SMS segment counting: GSM-7, its extension table, and UCS-2 (3GPP TS 23.038 / 23.040)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.content.segments import GSM7, UCS2, count, fold_to_gsm7, is_gsm7


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("", GSM7, 0, 0),
        ("a" * 160, GSM7, 160, 1),
        ("a" * 161, GSM7, 161, 2),
        ("a" * 306, GSM7, 306, 2),
        ("a" * 307, GSM7, 307, 3),
        # é, ñ, ü, ¿ and ¡ are in the GSM-7 default alphabet: still one septet each.
        ("¿" + "é" * 159, GSM7, 160, 1),
        ("ñü¡" * 53 + "a", GSM7, 160, 1),
        # Extension-table characters cost two septets.
        ("€" * 80, GSM7, 160, 1),
        ("€" * 81, GSM7, 162, 2),
        ("[]{}" * 20 + "a", GSM7, 161, 2),
        # One character outside GSM-7 makes the whole text UCS-2.
        ("á" * 70, UCS2, 70, 1),
        ("a" * 69 + "ó", UCS2, 70, 1),
        ("a" * 70 + "ó", UCS2, 71, 2),
        ("a" * 133 + "í", UCS2, 134, 2),
        ("a" * 134 + "í", UCS2, 135, 3),
        # An emoji is a surrogate pair: two UTF-16 code units.
        ("😀" * 35, UCS2, 70, 1),
        ("😀" * 36, UCS2, 72, 2),
    ],
)
def test_counts(text: str, encoding: str, units: int, segments: int) -> None:
    n = count(text)
    assert (n.encoding, n.units, n.segments) == (encoding, units, segments)


def test_an_escape_pair_is_never_split_across_segments() -> None:
    # 152 plain septets then a euro sign: the pair does not fit the first 153, so it opens
    # segment two; 152 + 2 + 152 = 306 septets still need three segments.
    text = "a" * 152 + "€" + "a" * 152
    assert count(text).units == 306
    assert count(text).segments == 3


def test_a_surrogate_pair_is_never_split_across_segments() -> None:
    # 66 + 2 + 66 = 134 units would fill exactly two 67-unit segments if the pair could split.
    text = "a" * 66 + "😀" + "a" * 66
    assert count(text).units == 134
    assert count(text).segments == 3


def test_the_extension_table_and_basic_alphabet_are_gsm7() -> None:
    assert is_gsm7("Hi Maria! Reply STOP to opt out. @£$¥ €[]{}^~|\\")
    assert not is_gsm7("Zoë")  # ë is not in the alphabet (ä, ö, ü are)
    assert not is_gsm7("Ramírez")
    assert not is_gsm7("“smart quotes”")


def test_folding_drops_only_the_accents_gsm7_lacks() -> None:
    assert fold_to_gsm7("¿Cómo está, Ramón? Peña, Müller, José") == "¿Como esta, Ramon? Peña, Müller, José"
    assert fold_to_gsm7("Zoë 😀") == "Zoe "


@given(st.text(max_size=400))
def test_any_text_counts_consistently(text: str) -> None:
    n = count(text)
    assert (n.encoding == GSM7) == is_gsm7(text)
    assert (n.segments == 0) == (n.units == 0)
    single = 160 if n.encoding == GSM7 else 70
    if 0 < n.units <= single:
        assert n.segments == 1
    if n.units > single:
        per = 153 if n.encoding == GSM7 else 67
        assert n.segments >= -(-n.units // per)
        assert n.segments <= n.units  # never more segments than units
    assert is_gsm7(fold_to_gsm7(text))
    assert count(text + "a").segments >= n.segments

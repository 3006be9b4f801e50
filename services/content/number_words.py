"""Numbers written as words ("three bedrooms", "twenty-two days", "veintidós días"), read as
their value, so the numbers guardrail judges "three" as it judges "3".

Words a message uses for something other than a count are left alone: "one" ("the one on
Oak St", "no one"), and in Spanish the articles "un", "una", "uno". They still count inside a
compound ("twenty-one", "one hundred", "ciento uno"). Ordinals ("first", "primera") are not
counts and are not read. Spanish is read without accents too, since an SMS may be folded to
GSM-7 ("dieciseis").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

_EN_UNITS = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
# Below a thousand a scale multiplies what came before it ("two dozen", "four hundred").
_EN_SCALES = {"dozen": 12, "hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}
_EN_ALONE_IS_NOT_A_COUNT = frozenset({"one"})
_EN_JOINERS = frozenset({"and"})

_ES_UNITS = {
    "cero": 0,
    "un": 1,
    "una": 1,
    "uno": 1,
    "dos": 2,
    "tres": 3,
    "cuatro": 4,
    "cinco": 5,
    "seis": 6,
    "siete": 7,
    "ocho": 8,
    "nueve": 9,
    "diez": 10,
    "once": 11,
    "doce": 12,
    "trece": 13,
    "catorce": 14,
    "quince": 15,
    "dieciseis": 16,
    "diecisiete": 17,
    "dieciocho": 18,
    "diecinueve": 19,
    "veinte": 20,
    "veintiun": 21,
    "veintiuno": 21,
    "veintiuna": 21,
    "veintidos": 22,
    "veintitres": 23,
    "veinticuatro": 24,
    "veinticinco": 25,
    "veintiseis": 26,
    "veintisiete": 27,
    "veintiocho": 28,
    "veintinueve": 29,
    "treinta": 30,
    "cuarenta": 40,
    "cincuenta": 50,
    "sesenta": 60,
    "setenta": 70,
    "ochenta": 80,
    "noventa": 90,
    "cien": 100,
    "ciento": 100,
    "doscientos": 200,
    "doscientas": 200,
    "trescientos": 300,
    "trescientas": 300,
    "cuatrocientos": 400,
    "cuatrocientas": 400,
    "quinientos": 500,
    "quinientas": 500,
    "seiscientos": 600,
    "seiscientas": 600,
    "setecientos": 700,
    "setecientas": 700,
    "ochocientos": 800,
    "ochocientas": 800,
    "novecientos": 900,
    "novecientas": 900,
}
_ES_SCALES = {"docena": 12, "docenas": 12, "mil": 1000, "millon": 1_000_000, "millones": 1_000_000}
_ES_ALONE_IS_NOT_A_COUNT = frozenset({"un", "una", "uno"})
_ES_JOINERS = frozenset({"y"})

_WORD = re.compile(r"[a-z]+")


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _runs(
    words: list[str], units: dict[str, int], scales: dict[str, int], joiners: frozenset[str]
) -> Iterator[list[str]]:
    """Maximal runs of number words; a joiner ("and", "y") belongs to a run only between two
    number words."""
    run: list[str] = []
    pending_joiner = False
    for word in words:
        if word in units or word in scales:
            run.append(word)
            pending_joiner = False
        elif word in joiners and run and not pending_joiner:
            pending_joiner = True
        else:
            if run:
                yield run
            run, pending_joiner = [], False
    if run:
        yield run


def _value(run: list[str], units: dict[str, int], scales: dict[str, int]) -> int:
    total, current = 0, 0
    for word in run:
        if word in units:
            current += units[word]
        elif scales[word] < 1000:
            current = (current or 1) * scales[word]
        else:
            total += (current or 1) * scales[word]
            current = 0
    return total + current


def spelled_numbers(text: str, language: str) -> list[tuple[str, int]]:
    """Each number written in words, as (the words, its value)."""
    spanish = language.lower().startswith("es")
    units, scales = (_ES_UNITS, _ES_SCALES) if spanish else (_EN_UNITS, _EN_SCALES)
    joiners = _ES_JOINERS if spanish else _EN_JOINERS
    alone = _ES_ALONE_IS_NOT_A_COUNT if spanish else _EN_ALONE_IS_NOT_A_COUNT
    words = _WORD.findall(_fold(text).replace("-", " "))
    found = []
    for run in _runs(words, units, scales, joiners):
        if len(run) == 1 and run[0] in alone:
            continue
        found.append((" ".join(run), _value(run, units, scales)))
    return found

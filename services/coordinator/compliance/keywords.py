"""Opt-out, opt-in and help keywords in a lead's message. Pure.

The whole message must be the keyword (Twilio's rule, integrations.md §2.4): trimmed,
case-insensitive, surrounding punctuation and whitespace ignored. Never a substring
match: the system we replace opted out anyone whose text contained "end", so "I want
to attend the open house this weekend" ended a lead's texts. Free-text revocations
("Stop please", "please stop texting me", "no más mensajes") also bind under the FCC's
2024 rule: compliance.revocation reads those, and names the phrase that decided.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass

from services.coordinator.compliance import revocation


class Intent(enum.Enum):
    NONE = "none"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT", "OPT-OUT"}
)
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Classification:
    intent: Intent
    # The canonical keyword matched ("STOP"); empty for Intent.NONE and for a revocation
    # in other words, which names its deciding phrase instead ("stop texting").
    keyword: str = ""
    phrase: str = ""

    @property
    def words(self) -> str:
        """What the lead said that decided it, for reasons and notices."""
        return self.keyword or f"'{self.phrase}'"


def _is_edge(char: str) -> bool:
    # Punctuation (P*), symbols and emoji (S*), separators (Z*), controls and invisible
    # format characters (C*): "Stop.", "  stop  ", "STOP 🛑", "\u200bSTOP" all read as STOP.
    return char.isspace() or unicodedata.category(char)[0] in "PSZC"


def normalize(text: str) -> str:
    """The message as compared with keywords: NFKC (full-width letters become plain),
    edges trimmed, inner runs of whitespace collapsed to one space, upper case."""
    folded = unicodedata.normalize("NFKC", text)
    start, end = 0, len(folded)
    while start < end and _is_edge(folded[start]):
        start += 1
    while end > start and _is_edge(folded[end - 1]):
        end -= 1
    return _SPACES.sub(" ", folded[start:end]).upper()


def classify(text: str) -> Classification:
    word = normalize(text)
    if word in OPT_OUT_KEYWORDS:
        return Classification(Intent.OPT_OUT, word)
    if word in OPT_IN_KEYWORDS:
        return Classification(Intent.OPT_IN, word)
    if word in HELP_KEYWORDS:
        return Classification(Intent.HELP, word)
    reading = revocation.read(text)
    if reading.revokes:
        if reading.rule == "keyword" and reading.phrase.upper() in OPT_OUT_KEYWORDS:
            return Classification(Intent.OPT_OUT, reading.phrase.upper())
        return Classification(Intent.OPT_OUT, phrase=reading.phrase)
    return Classification(Intent.NONE)

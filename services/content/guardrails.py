"""Rules every outgoing message obeys, whoever wrote it. Pure: no I/O.

- Caller text is sanitised before any writer sees it.
- Lead-facing SMS name the brand and end with the STOP line (A2P 10DLC); every
  SMS fits two GSM-7 segments.
- Lead-facing email carries a footer with the physical postal address and an
  unsubscribe link placeholder (CAN-SPAM) that the sender fills in.
- Nothing may contain Fair-Housing-sensitive language (HUD §804(c) guidance)
  or links (carriers filter public URL shorteners; our messages carry none).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace

from services.content.writer import (
    EMAIL,
    ENGLISH,
    FOLLOW_UP,
    RE_ENGAGEMENT,
    SMS,
    SPANISH,
    TRIGGER,
    Draft,
    Written,
)
from shared.errors import FailedPrecondition

STOP_LINE = "Reply STOP to opt out."
# Carriers honour the English keyword in any language; the sentence is the lead's.
STOP_LINES = {ENGLISH: STOP_LINE, SPANISH: "Responda STOP para cancelar."}
# Two concatenated GSM-7 segments hold 2 x 153 characters.
SMS_MAX_CHARS = 306
EMAIL_MAX_BODY_CHARS = 5_000
# The sender replaces this with the recipient's one-click unsubscribe URL.
UNSUBSCRIBE_PLACEHOLDER = "{{unsubscribe_url}}"
# Marketing email needs an advertisement notice unless the lead opted in (CAN-SPAM);
# first touches, replies and reminders answer the lead's own request.
AD_PURPOSES = frozenset({FOLLOW_UP, RE_ENGAGEMENT, TRIGGER})
AD_NOTICES = {
    ENGLISH: "This email is an advertisement from {brand}.",
    SPANISH: "Este correo es publicidad de {brand}.",
}

# Phrases that describe people rather than the home, or are code words for them.
# Compared after normalise(): lower case, hyphens and runs of spaces as one space.
FAIR_HOUSING_PHRASES: tuple[str, ...] = (
    "family friendly",
    "perfect for families",
    "great for families",
    "no children",
    "no kids",
    "adults only",
    "adult only",
    "adult community",
    "mature adults",
    "perfect for young professionals",
    "young professionals",
    "perfect for couples",
    "perfect for singles",
    "bachelor pad",
    "empty nesters",
    "not suitable for wheelchairs",
    "not suitable for disabled",
    "able bodied",
    "english speaking only",
    "english only",
    "exclusive",
    "private community",
    "integrated neighborhood",
    "traditional neighborhood",
    "white neighborhood",
    "black neighborhood",
    "hispanic neighborhood",
    "asian neighborhood",
    "christian home",
    "christian neighborhood",
    "jewish area",
    "jewish neighborhood",
    "muslim neighborhood",
    "safe neighborhood",
    "safe area",
    "safe community",
    "safe street",
    "good neighborhood",
    "bad neighborhood",
    "up and coming",
    "good schools",
    "best schools",
    "great schools",
    "walking distance to church",
    # Spanish: the same ideas, for messages written in Spanish.
    "ideal para familias",
    "perfecto para familias",
    "solo adultos",
    "sin niños",
    "no se aceptan niños",
    "jóvenes profesionales",
    "ideal para parejas",
    "vecindario seguro",
    "barrio seguro",
    "zona segura",
    "buen vecindario",
    "mal vecindario",
    "buenas escuelas",
    "mejores escuelas",
    "comunidad privada",
    "exclusivo",
    "exclusiva",
    "solo se habla inglés",
)
_LINK = re.compile(r"https?://|www\.|\b[a-z0-9-]+\.(?:ly|gl|co|to|io|me|com|net|org)/", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Violation:
    rule: str  # "fair_housing" or "link"
    phrase: str


def sanitize(raw: str, max_chars: int) -> str:
    """Printable text on one line, at most max_chars, cut at a word when possible."""
    kept = "".join(
        " " if ch.isspace() else ch for ch in raw if unicodedata.category(ch)[0] != "C" or ch.isspace()
    )
    text = _SPACES.sub(" ", kept).strip()
    if len(text) <= max_chars:
        return text
    cut = text[:max_chars]
    if " " in cut and not text[max_chars].isspace():
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:-")


def normalise(text: str) -> str:
    return _SPACES.sub(" ", re.sub(r"[-_/]", " ", text.lower())).strip()


class Blocklist:
    def __init__(self, extra_phrases: Iterable[str] = ()) -> None:
        phrases = {normalise(p) for p in (*FAIR_HOUSING_PHRASES, *extra_phrases) if normalise(p)}
        self.phrases = tuple(sorted(phrases))
        alternatives = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
        self._pattern = re.compile(rf"\b(?:{alternatives})\b")

    def find_phrase(self, text: str) -> str | None:
        """The first Fair Housing phrase in the text, if any."""
        hit = self._pattern.search(normalise(text))
        return hit.group(0) if hit else None

    def find(self, text: str) -> Violation | None:
        phrase = self.find_phrase(text)
        if phrase:
            return Violation("fair_housing", phrase)
        link = _LINK.search(text.replace(UNSUBSCRIBE_PLACEHOLDER, ""))
        if link:
            return Violation("link", link.group(0))
        return None

    def check_fields(self, fields: dict[str, str]) -> None:
        """Refuse up front when a context field itself is the problem, naming it."""
        for name, value in fields.items():
            found = self.find(value)
            if found:
                raise _refused(found, f"context.{name}")


def _refused(found: Violation, where: str) -> FailedPrecondition:
    if found.rule == "link":
        why = f"{where} contains a link ({found.phrase!r}); messages carry no links, remove it"
    else:
        why = (
            f"{where} contains {found.phrase!r}, which Fair Housing guidance treats as describing "
            "people rather than the home; remove it and describe the property or the lead's own criteria"
        )
    return FailedPrecondition(
        why, reason="CONTENT_GUARDRAIL", metadata={"rule": found.rule, "phrase": found.phrase, "field": where}
    )


def stop_line(language: str) -> str:
    return STOP_LINES.get(language, STOP_LINE)


def body_budget(channel: str, to_lead: bool, language: str = ENGLISH) -> int:
    """Characters a writer may aim for; the segment cap, counted on the finished text, decides."""
    if channel == SMS:
        return SMS_MAX_CHARS - (len(stop_line(language)) + 1 if to_lead else 0)
    return EMAIL_MAX_BODY_CHARS


def needs_ad_notice(draft: Draft) -> bool:
    return (
        draft.channel == EMAIL
        and draft.to_lead
        and draft.purpose in AD_PURPOSES
        and not draft.facts.email_marketing_consent
    )


def ad_notice(draft: Draft) -> str:
    return AD_NOTICES.get(draft.language, AD_NOTICES[ENGLISH]).format(brand=draft.facts.brand_name)


def email_footer(brand: str, postal_address: str, language: str = ENGLISH) -> str:
    if language == SPANISH:
        return (
            f"Recibe este correo porque se comunicó con {brand}. "
            f"Cancelar suscripción: {UNSUBSCRIBE_PLACEHOLDER}\n{brand}, {postal_address}"
        )
    return (
        f"You are receiving this email because you contacted {brand}. "
        f"Unsubscribe: {UNSUBSCRIBE_PLACEHOLDER}\n{brand}, {postal_address}"
    )


def sms_tail(draft: Draft) -> str:
    """What finish() appends to a lead-facing SMS body (a space and the STOP line)."""
    return f" {stop_line(draft.language)}" if draft.to_lead and draft.channel == SMS else ""


def finish(draft: Draft, written: Written, *, postal_address: str) -> Written:
    """Add the lines the law requires, so no writer can leave them out."""
    if not draft.to_lead:
        return written
    if draft.channel == SMS:
        return replace(written, body=f"{written.body.rstrip()}{sms_tail(draft)}")
    footer = email_footer(draft.facts.brand_name, postal_address, draft.language)
    if needs_ad_notice(draft):
        footer = f"{ad_notice(draft)}\n{footer}"
    return replace(written, body=f"{written.body.rstrip()}\n\n--\n{footer}")

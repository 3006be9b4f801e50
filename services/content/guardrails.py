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

from services.content.writer import EMAIL, SMS, Draft, Written
from shared.errors import FailedPrecondition

STOP_LINE = "Reply STOP to opt out."
# Two concatenated GSM-7 segments hold 2 x 153 characters.
SMS_MAX_CHARS = 306
EMAIL_MAX_BODY_CHARS = 5_000
# The sender replaces this with the recipient's one-click unsubscribe URL.
UNSUBSCRIBE_PLACEHOLDER = "{{unsubscribe_url}}"

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

    def find(self, text: str) -> Violation | None:
        hit = self._pattern.search(normalise(text))
        if hit:
            return Violation("fair_housing", hit.group(0))
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

    def check_output(self, draft: Draft, written: Written) -> None:
        for part in (written.subject, written.body):
            found = self.find(part)
            if found:
                raise _refused(found, "message")
        _check_shape(draft, written)


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


def _shape_error(what: str) -> FailedPrecondition:
    return FailedPrecondition(
        f"the written message {what}; it was not stored",
        reason="CONTENT_GUARDRAIL",
        metadata={"rule": "shape"},
    )


def _check_shape(draft: Draft, written: Written) -> None:
    if not written.body.strip():
        raise _shape_error("is empty")
    if draft.channel == SMS:
        if len(written.body) > SMS_MAX_CHARS:
            raise _shape_error(
                f"is {len(written.body)} characters, over the {SMS_MAX_CHARS} of two SMS segments"
            )
        if draft.to_lead and not written.body.endswith(STOP_LINE):
            raise _shape_error("does not end with the STOP line")
        if draft.to_lead and draft.facts.brand_name not in written.body:
            raise _shape_error("does not name the brand")
    if draft.channel == EMAIL:
        if not written.subject.strip():
            raise _shape_error("has no subject")
        if draft.to_lead and UNSUBSCRIBE_PLACEHOLDER not in written.body:
            raise _shape_error("has no unsubscribe link")


def body_budget(channel: str, to_lead: bool) -> int:
    if channel == SMS:
        return SMS_MAX_CHARS - (len(STOP_LINE) + 1 if to_lead else 0)
    return EMAIL_MAX_BODY_CHARS


def email_footer(brand: str, postal_address: str) -> str:
    return (
        f"You are receiving this email because you contacted {brand}. "
        f"Unsubscribe: {UNSUBSCRIBE_PLACEHOLDER}\n{brand}, {postal_address}"
    )


def finish(draft: Draft, written: Written, *, postal_address: str) -> Written:
    """Add the lines the law requires, so no writer can leave them out."""
    if not draft.to_lead:
        return written
    if draft.channel == SMS:
        return replace(written, body=f"{written.body.rstrip()} {STOP_LINE}")
    footer = email_footer(draft.facts.brand_name, postal_address)
    return replace(written, body=f"{written.body.rstrip()}\n\n--\n{footer}")

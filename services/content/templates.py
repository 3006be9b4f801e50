"""Deterministic message templates. Pure: no I/O.

A template is a list of clauses. Each clause offers alternatives, and the first
whose fields are all known is used, so a missing city or agent reads naturally
instead of leaving a gap. Optional clauses are dropped, last first, until the
body fits its budget. Which variant a lead gets is a hash of its id (moved on by the
cadence step), so the same lead always reads the same words at the same step.

Templates are code, not user-editable text: str.format over them is safe (the
values are never re-parsed as format strings). If templates ever become
editable by users, render them with a sandboxed engine instead.
"""

from __future__ import annotations

import hashlib
import string
from dataclasses import dataclass

from services.content.writer import (
    AGENT_NOTIFICATION,
    EMAIL,
    FIRST_TOUCH,
    FOLLOW_UP,
    RE_ENGAGEMENT,
    SMS,
    TEMPLATE,
    TRIGGER,
    Draft,
    Facts,
    Written,
)

VERSION = "v1"


@dataclass(frozen=True)
class Clause:
    alternatives: tuple[str, ...]
    optional: bool = False


@dataclass(frozen=True)
class Template:
    key: str  # variant letter, part of the template id
    subject: tuple[str, ...]  # alternatives; email only
    clauses: tuple[Clause, ...]
    joiner: str = " "


def req(*alternatives: str) -> Clause:
    return Clause(alternatives)


def opt(*alternatives: str) -> Clause:
    return Clause(alternatives, optional=True)


SMS_FIRST_TOUCH = (
    Template(
        "a",
        (),
        (
            req("Hi {greeting_name}, this is {agent} with {brand}.", "Hi {greeting_name}, this is {brand}."),
            opt(
                "Thanks for your {source} inquiry about homes in {city}.",
                "Thanks for your inquiry about homes in {city}.",
                "Thanks for your {source} inquiry.",
            ),
            req("When is a good time for a quick call about what you're looking for?"),
            opt("You can reach me directly at {agent_phone}."),
        ),
    ),
    Template(
        "b",
        (),
        (
            req(
                "Hello {greeting_name}! {agent} here from {brand}.", "Hello {greeting_name}! This is {brand}."
            ),
            opt(
                "I saw you're looking at homes in {city} and wanted to reach out personally.",
                "I got your {source} request and wanted to reach out personally.",
            ),
            req("What are the must-haves on your list: bedrooms, price range, commute?"),
            opt("Text or call me at {agent_phone}."),
        ),
    ),
)

SMS_FOLLOW_UP = (
    Template(
        "a",
        (),
        (
            req(
                "Hi {greeting_name}, {agent} with {brand} following up.",
                "Hi {greeting_name}, {brand} following up.",
            ),
            req("Are you still looking at homes in {city}?", "Are you still thinking about a move?"),
            opt("I can send listings that match your criteria or set up a showing."),
        ),
    ),
    Template(
        "b",
        (),
        (
            req("Hi {greeting_name}, it's {agent} from {brand}.", "Hi {greeting_name}, it's {brand}."),
            req("Checking in: has anything changed in your home search?"),
            opt(
                "Happy to line up showings in {city} whenever suits you.",
                "Happy to line up showings whenever suits you.",
            ),
        ),
    ),
)

SMS_AGENT_NOTIFICATION = (
    Template(
        "a",
        (),
        (
            req(
                "{brand}: new lead {lead_full_name} assigned to you.",
                "{brand}: a new lead is assigned to you.",
            ),
            opt("Score {score}/100."),
            opt("Source: {source}."),
            opt("Area: {city}."),
            req("Reach out as soon as you can."),
        ),
    ),
)

EMAIL_FIRST_TOUCH = (
    Template(
        "a",
        ("{name}, your home search with {brand}", "Your home search with {brand}"),
        (
            req("Hi {greeting_name},"),
            req(
                "I'm {agent} with {brand}. Thank you for your {source} inquiry about homes in {city}.",
                "I'm {agent} with {brand}. Thank you for your inquiry about homes in {city}.",
                "I'm {agent} with {brand}. Thank you for your {source} inquiry.",
                "I'm {agent} with {brand}. Thank you for getting in touch.",
                "Thank you for contacting {brand} about homes in {city}.",
                "Thank you for contacting {brand}.",
            ),
            req(
                "I'd love to hear what you're looking for: the number of bedrooms, your price range, and "
                "the commute or amenities that matter to you. Just reply to this email or call me at "
                "{agent_phone}.",
                "I'd love to hear what you're looking for: the number of bedrooms, your price range, and "
                "the commute or amenities that matter to you. Just reply to this email.",
            ),
            req("Best regards,\n{agent}\n{brand}", "Best regards,\nThe {brand} team"),
        ),
        joiner="\n\n",
    ),
    Template(
        "b",
        ("Thanks for reaching out, {name}", "Thanks for reaching out to {brand}"),
        (
            req("Hello {greeting_name},"),
            req(
                "Thanks for reaching out about homes in {city}. I'm {agent}, and I'll be your contact "
                "at {brand}.",
                "Thanks for reaching out. I'm {agent}, and I'll be your contact at {brand}.",
                "Thanks for reaching out to {brand} about homes in {city}.",
                "Thanks for reaching out to {brand}.",
            ),
            req(
                "Could you tell me a little about the home you have in mind and your timeline? I can then "
                "send listings that match. You can also reach me at {agent_phone}.",
                "Could you tell me a little about the home you have in mind and your timeline? I can then "
                "send listings that match.",
            ),
            req("Talk soon,\n{agent}\n{brand}", "Talk soon,\nThe {brand} team"),
        ),
        joiner="\n\n",
    ),
)

EMAIL_FOLLOW_UP = (
    Template(
        "a",
        ("{name}, still looking for your next home?", "Still looking for your next home?"),
        (
            req("Hi {greeting_name},"),
            req(
                "{agent} from {brand} here, following up on your search in {city}.",
                "{agent} from {brand} here, following up on your home search.",
                "Following up from {brand} on your search in {city}.",
                "Following up from {brand} on your home search.",
            ),
            req(
                "If your criteria have changed (bedrooms, budget, timing), reply and I'll update the "
                "listings I send you. I'm also happy to set up showings."
            ),
            req("Best regards,\n{agent}\n{brand}", "Best regards,\nThe {brand} team"),
        ),
        joiner="\n\n",
    ),
)

# Short, personal, low-pressure; acknowledges the gap (domain.md §6).
SMS_RE_ENGAGEMENT = (
    Template(
        "a",
        (),
        (
            req("Hi {greeting_name}, it's {agent} with {brand}.", "Hi {greeting_name}, it's {brand}."),
            req(
                "It's been a while! Are you still thinking about a move in {city} this year?",
                "It's been a while! Are you still thinking about a move this year?",
            ),
            opt("No pressure either way; just reply and let me know."),
        ),
    ),
    Template(
        "b",
        (),
        (
            req("Hi {greeting_name}, {agent} from {brand} here.", "Hi {greeting_name}, {brand} here."),
            req(
                "We last spoke a while ago about homes in {city}. Is a move still on your mind?",
                "We last spoke a while ago. Is a move still on your mind?",
            ),
            opt("Happy to help whenever the time is right."),
        ),
    ),
)

EMAIL_RE_ENGAGEMENT = (
    Template(
        "a",
        ("{name}, still thinking about a move?", "Still thinking about a move?"),
        (
            req("Hi {greeting_name},"),
            req(
                "It's {agent} with {brand}. It has been a while since we last talked about homes in {city}.",
                "It's {agent} with {brand}. It has been a while since we last talked.",
                "It has been a while since {brand} last talked with you about homes in {city}.",
                "It has been a while since {brand} last talked with you.",
            ),
            req(
                "Are you still thinking about a move this year? If so, reply with what matters most to you "
                "now and I'll send a few homes that fit. If not, no problem at all."
            ),
            req("Best regards,\n{agent}\n{brand}", "Best regards,\nThe {brand} team"),
        ),
        joiner="\n\n",
    ),
)

EMAIL_AGENT_NOTIFICATION = (
    Template(
        "a",
        ("New lead: {lead_full_name}", "New lead assigned to you"),
        (
            req("A new lead has been assigned to you by {brand}."),
            req("Lead: {lead_full_name}", "Lead: (name not given)"),
            opt("Score: {score}/100"),
            opt("Source: {source}"),
            opt("Area: {city}"),
            req("Please reach out as soon as you can: the first contact matters most."),
        ),
        joiner="\n",
    ),
)

# Behaviour-timed: the lead is looking right now. The listing is named when known; how
# often they looked is for the agent (trigger_description), never said to the lead.
SMS_TRIGGER = (
    Template(
        "a",
        (),
        (
            req("Hi {greeting_name}, {agent} with {brand}.", "Hi {greeting_name}, this is {brand}."),
            req(
                "I noticed you've been looking at {listing}. Want to see it in person this week?",
                "I noticed you've been looking at homes in {city} lately. Anything catching your eye?",
                "I noticed you've been browsing homes lately. Anything catching your eye?",
            ),
            opt("I can also send similar homes as soon as they list."),
            opt("Text or call me at {agent_phone}."),
        ),
    ),
)

EMAIL_TRIGGER = (
    Template(
        "a",
        ("{name}, about {listing}", "{name}, homes you may like", "Homes you may like"),
        (
            req("Hi {greeting_name},"),
            req(
                "I noticed you've been looking at {listing}. If you'd like to see it in person, reply "
                "with a day and time that suits you and I'll arrange a showing.",
                "I noticed you've been looking at homes in {city} lately. If something caught your eye, "
                "reply and I'll arrange a showing or send similar homes.",
                "I noticed you've been browsing homes lately. If something caught your eye, reply and "
                "I'll arrange a showing or send similar homes.",
            ),
            opt("You can also reach me at {agent_phone}."),
            req("Best regards,\n{agent}\n{brand}", "Best regards,\nThe {brand} team"),
        ),
        joiner="\n\n",
    ),
)

TEMPLATES: dict[tuple[str, str], tuple[Template, ...]] = {
    (SMS, FIRST_TOUCH): SMS_FIRST_TOUCH,
    (SMS, FOLLOW_UP): SMS_FOLLOW_UP,
    (SMS, AGENT_NOTIFICATION): SMS_AGENT_NOTIFICATION,
    (EMAIL, FIRST_TOUCH): EMAIL_FIRST_TOUCH,
    (EMAIL, FOLLOW_UP): EMAIL_FOLLOW_UP,
    (EMAIL, AGENT_NOTIFICATION): EMAIL_AGENT_NOTIFICATION,
    (SMS, TRIGGER): SMS_TRIGGER,
    (EMAIL, TRIGGER): EMAIL_TRIGGER,
    (SMS, RE_ENGAGEMENT): SMS_RE_ENGAGEMENT,
    (EMAIL, RE_ENGAGEMENT): EMAIL_RE_ENGAGEMENT,
}


def values(facts: Facts) -> dict[str, str]:
    return {
        "name": facts.lead_first_name,
        "greeting_name": facts.lead_first_name or "there",
        "agent": facts.agent_name,
        "agent_phone": facts.agent_phone,
        "brand": facts.brand_name,
        "city": facts.city,
        "source": facts.source,
        "lead_full_name": facts.lead_full_name,
        "score": f"{facts.lead_score:.0f}" if facts.lead_score > 0 else "",
        "listing": facts.listing_label,
    }


def _fields(text: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


def pick(alternatives: tuple[str, ...], known: dict[str, str]) -> str | None:
    """The first alternative whose fields are all known; None when none is."""
    for text in alternatives:
        if all(known[f] for f in _fields(text)):
            return text.format(**known)
    return None


def choose_variant(lead_id: str, channel: str, purpose: str, step_index: int = 0) -> Template:
    """The lead's own variant, moved on one per cadence step: the same step always reads
    the same, and two steps in a row never do (where there are two variants or more)."""
    variants = TEMPLATES[(channel, purpose)]
    digest = hashlib.sha256(f"{lead_id}:{channel}:{purpose}".encode()).digest()
    return variants[(int.from_bytes(digest[:4], "big") + step_index) % len(variants)]


def template_id(channel: str, purpose: str, template: Template) -> str:
    return f"{channel}.{purpose}.{template.key}.{VERSION}"


def render(draft: Draft) -> Written:
    template = choose_variant(draft.lead_id, draft.channel, draft.purpose, draft.step_index)
    known = values(draft.facts)
    parts: list[tuple[Clause, str]] = []
    for clause in template.clauses:
        text = pick(clause.alternatives, known)
        if text is None:
            if not clause.optional:  # every required clause ends in a field-free alternative
                raise ValueError(
                    f"template {template_id(draft.channel, draft.purpose, template)} has no fallback"
                )
            continue
        parts.append((clause, text))
    body = template.joiner.join(t for _, t in parts)
    # Drop optional clauses, last first, until the body fits.
    while len(body) > draft.max_body_chars:
        optional = [i for i, (c, _) in enumerate(parts) if c.optional]
        if not optional:
            break  # the guardrail refuses it; required text never exceeds a budget
        del parts[optional[-1]]
        body = template.joiner.join(t for _, t in parts)
    subject = (pick(template.subject, known) or "") if template.subject else ""
    return Written(
        subject=subject,
        body=body,
        generator=TEMPLATE,
        model=template_id(draft.channel, draft.purpose, template),
    )


class TemplateWriter:
    """A MessageWriter: no model, no tokens, no cost."""

    async def write(self, draft: Draft) -> Written:
        return render(draft)

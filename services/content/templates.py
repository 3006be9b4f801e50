"""Deterministic message templates, rendered by sandboxed Jinja2. Pure: no I/O.

A template is a list of clauses. Each clause offers alternatives, and the first
whose variables are all known is used, so a missing city or agent reads naturally
instead of leaving a gap. Which variant a lead gets is a hash of its id (moved on by
the cadence step), so the same lead always reads the same words at the same step.

Fitting an SMS into its segment cap (counted on the finished text, STOP line
included) goes in stages, each only when the last was not enough: drop optional
clauses, last first; take each required clause's shortest known alternative; fold
the text to GSM-7 (á -> a), which more than doubles what a segment holds. A
location's override is one Jinja2 body (and subject), used at every step.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from services.content import guardrails, market, segments
from services.content.template_parts import Clause, Template, Text, compile_text
from services.content.templates_en import TEMPLATES
from services.content.templates_es import TEMPLATES as TEMPLATES_ES
from services.content.writer import ENGLISH, SMS, SPANISH, TEMPLATE, Draft, Facts, Written

VERSION = "v1"
# Every template by (channel, purpose, language). A purpose without Spanish copy
# (agent notifications: the agent reads English) uses the English one.
CATALOGUE: dict[tuple[str, str, str], tuple[Template, ...]] = {
    **{(c, p, ENGLISH): t for (c, p), t in TEMPLATES.items()},
    **{(c, p, SPANISH): t for (c, p), t in TEMPLATES_ES.items()},
}
_GREETING_FALLBACK = {ENGLISH: "there", SPANISH: ""}

__all__ = ["CATALOGUE", "TEMPLATES", "Override", "TemplateWriter", "choose_variant", "render"]


@dataclass(frozen=True)
class Override:
    """A location's own wording: Jinja2 sources, checked on load (overrides.validate)."""

    subject: str
    body: str


def values(facts: Facts, language: str = ENGLISH) -> dict[str, str]:
    has_market = facts.market_median_price_usd > 0 and bool(facts.market_as_of)
    return {
        "name": facts.lead_first_name,
        "greeting_name": facts.lead_first_name or _GREETING_FALLBACK.get(language, ""),
        "agent": facts.agent_name,
        "agent_phone": facts.agent_phone,
        "brand": facts.brand_name,
        "city": facts.city,
        "source": facts.source,
        "lead_full_name": facts.lead_full_name,
        "score": f"{facts.lead_score:.0f}" if facts.lead_score > 0 else "",
        "listing": facts.listing_label,
        "value_proposition": facts.value_proposition,
        "market_area": facts.market_area if has_market else "",
        "market_price": market.price_text(facts.market_median_price_usd, language) if has_market else "",
        "market_days": str(facts.market_days_on_market) if has_market else "",
        "market_inventory": str(facts.market_inventory) if has_market else "",
        "market_as_of": market.as_of_text(facts.market_as_of, language) if has_market else "",
        "appointment": facts.appointment_label,
    }


def _known(text: Text, known: dict[str, str]) -> bool:
    return all(known[f] for f in text.fields)


def pick(alternatives: tuple[Text, ...], known: dict[str, str]) -> str | None:
    """The first alternative whose variables are all known; None when none is."""
    for text in alternatives:
        if _known(text, known):
            return text.render(known)
    return None


def _shortest(alternatives: tuple[Text, ...], known: dict[str, str]) -> str | None:
    rendered = [t.render(known) for t in alternatives if _known(t, known)]
    return min(rendered, key=len) if rendered else None


def variants(channel: str, purpose: str, language: str = ENGLISH) -> tuple[Template, ...]:
    return CATALOGUE.get((channel, purpose, language)) or CATALOGUE[(channel, purpose, ENGLISH)]


def choose_variant(
    lead_id: str, channel: str, purpose: str, step_index: int = 0, language: str = ENGLISH
) -> Template:
    """The lead's own variant, moved on one per cadence step: the same step always reads
    the same, and two steps in a row never do (where there are two variants or more)."""
    options = variants(channel, purpose, language)
    digest = hashlib.sha256(f"{lead_id}:{channel}:{purpose}".encode()).digest()
    return options[(int.from_bytes(digest[:4], "big") + step_index) % len(options)]


def template_id(channel: str, purpose: str, template: Template, language: str = ENGLISH) -> str:
    lang = "" if language == ENGLISH else f"{language}."
    return f"{channel}.{purpose}.{lang}{template.key}.{VERSION}"


def _fits(draft: Draft, body: str) -> bool:
    if draft.channel != SMS:
        return len(body) <= draft.max_body_chars
    return segments.count(body + guardrails.sms_tail(draft)).segments <= draft.max_segments


def _fold(draft: Draft, body: str) -> str:
    """Last resort for an SMS over its cap: GSM-7 only (accents the alphabet lacks dropped)."""
    if draft.channel != SMS or _fits(draft, body) or segments.is_gsm7(body):
        return body
    if not segments.is_gsm7(draft.facts.brand_name):  # the brand is never respelled: UCS-2 it is
        return body
    return guardrails.sanitize(segments.fold_to_gsm7(body), len(body))


def _compose(draft: Draft, template: Template, known: dict[str, str]) -> str:
    parts: list[tuple[Clause, str]] = []
    for clause in template.clauses:
        text = pick(clause.alternatives, known)
        if text is None:
            if not clause.optional:  # every required clause ends in a variable-free alternative
                raise ValueError(
                    f"template {template_id(draft.channel, draft.purpose, template)} has no fallback"
                )
            continue
        parts.append((clause, text))

    def joined() -> str:
        return template.joiner.join(t for _, t in parts)

    while not _fits(draft, joined()) and any(c.optional for c, _ in parts):
        del parts[max(i for i, (c, _) in enumerate(parts) if c.optional)]
    if not _fits(draft, joined()):
        parts = [(c, _shortest(c.alternatives, known) or t) for c, t in parts]
    return _fold(draft, joined())


def render(draft: Draft, override: Override | None = None) -> Written:
    if override is not None:
        return _render_override(draft, override, values(draft.facts, draft.language))
    language = draft.language if (draft.channel, draft.purpose, draft.language) in CATALOGUE else ENGLISH
    known = values(draft.facts, language)
    template = choose_variant(draft.lead_id, draft.channel, draft.purpose, draft.step_index, language)
    subject = (pick(template.subject, known) or "") if template.subject else ""
    return Written(
        subject=subject,
        body=_compose(draft, template, known),
        generator=TEMPLATE,
        model=template_id(draft.channel, draft.purpose, template, language),
    )


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> Text:
    return compile_text(source)


def _render_override(draft: Draft, override: Override, known: dict[str, str]) -> Written:
    body = _compiled(override.body).render(known).strip()
    if draft.channel == SMS:  # one line, however the location laid out its source
        body = guardrails.sanitize(body, len(body))
    digest = hashlib.sha256(f"{override.subject}\0{override.body}".encode()).hexdigest()[:8]
    lang = "" if draft.language == ENGLISH else f"{draft.language}."
    return Written(
        subject=_compiled(override.subject).render(known).strip() if override.subject else "",
        body=_fold(draft, body),
        generator=TEMPLATE,
        model=f"{draft.channel}.{draft.purpose}.{lang}override.{digest}",
    )


class TemplateWriter:
    """A MessageWriter: no model, no tokens, no cost. Uses the draft's override when
    generation found one for the location."""

    def __init__(self, overrides: dict[tuple[str, str, str], Override] | None = None) -> None:
        self._overrides = overrides or {}

    def with_overrides(self, overrides: dict[tuple[str, str, str], Override]) -> TemplateWriter:
        return TemplateWriter(overrides) if overrides else self

    async def write(self, draft: Draft) -> Written:
        return render(draft, self._overrides.get((draft.channel, draft.purpose, draft.language)))

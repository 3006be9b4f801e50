"""Every guardrail's verdict on a finished message. Pure: no I/O.

judge() returns one verdict per rule that applies (passed or not), so a stored
message shows what it was checked for. A message with a failed verdict is never
stored: generation regenerates or replaces a model's draft, and refuses a
template's (a template that fails is a bug).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from services.content import guardrails, market, number_words, segments
from services.content.guardrails import UNSUBSCRIBE_PLACEHOLDER, Blocklist
from services.content.writer import EMAIL, ENGLISH, SMS, Draft, Facts, Written
from shared.errors import FailedPrecondition

# Promises and rates no message may make: nothing we know backs them.
PROMISE_PHRASES: tuple[str, ...] = (
    "guarantee",
    "guaranteed",
    "guarantees",
    "we promise",
    "i promise",
    "promise you",
    "risk free",
    "no risk",
    "zero risk",
    "can't lose",
    "cant lose",
    "sure thing",
    "will sell fast",
    "sell in days",
    "top dollar",
    "above asking",
    "lowest rate",
    "lowest rates",
    "best rate",
    "best rates",
    "rates as low as",
    "interest rate",
    "apr",
    "will appreciate",
    "will go up in value",
    "garantizado",
    "garantizada",
    "garantizamos",
    "le prometo",
    "sin riesgo",
    "la mejor tasa",
    "tasa de interés",
)
_PROMISES = re.compile(
    r"\b(?:" + "|".join(re.escape(p) for p in sorted(PROMISE_PHRASES, key=len, reverse=True)) + r")\b"
)
# A number as written: digits with thousands or decimal separators, e.g. 425,000 or 4.5.
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# A link: a scheme or www., or a bare host ending in a top-level domain people type.
_URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"')]+"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|co|ly|gl|to|me|us|info|biz|realty|homes|house|properties"
    r"|app|link|site|online|xyz|ai)\b(?:/[^\s<>\"')]*)?",
    re.IGNORECASE,
)
_HOST = re.compile(r"^(?:https?://)?([^/:?#\s]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    rule: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Policy:
    """What a message is judged against beyond its own draft."""

    postal_address: str = ""
    link_domains: tuple[str, ...] = ()
    sms_max_segments: int = 2
    blocklist: Blocklist = field(default_factory=Blocklist)


def promise_in(text: str) -> str | None:
    hit = _PROMISES.search(guardrails.normalise(text))
    return hit.group(0) if hit else None


def stated_numbers(text: str, language: str = ENGLISH) -> dict[str, str]:
    """Numbers in a text as digits, separators and leading zeros dropped ("$425,000" ->
    "425000"), spelled-out ones included ("three" -> "3"), each with how it was written."""
    found: dict[str, str] = {}
    for raw in _NUMBER.findall(text):
        digits = re.sub(r"[.,]", "", raw).lstrip("0")
        found.setdefault(digits or "0", raw)
    for words, value in number_words.spelled_numbers(text, language):
        found.setdefault(str(value), words)
    return found


def number_tokens(text: str, language: str = ENGLISH) -> set[str]:
    return set(stated_numbers(text, language))


def _as_written(digits: str, raw: str) -> str:
    # "3 ('three')" for a spelled-out number, so a redraft knows which words to drop.
    return digits if raw.replace(",", "").replace(".", "").isdigit() else f"{digits} ({raw!r})"


def allowed_numbers(draft: Draft, policy: Policy) -> set[str]:
    """Every number the input states, in any form a writer may print it."""
    facts = draft.facts
    texts: list[str] = [policy.postal_address]
    for f in fields(Facts):
        value = getattr(facts, f.name)
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, bool):
            continue
        elif isinstance(value, int):
            texts.append(str(value))
    texts.extend(text for _, text in facts.thread)
    if facts.market_median_price_usd:
        texts.append(market.price_text(facts.market_median_price_usd, draft.language))
    if facts.market_as_of:
        texts.append(market.as_of_text(facts.market_as_of, draft.language))
    if facts.lead_score > 0:
        texts.append(f"{facts.lead_score:.0f}/100")
    return set().union(*(number_tokens(t, draft.language) for t in texts))


def link_hosts(text: str) -> list[str]:
    hosts = []
    for url in _URL.findall(text.replace(UNSUBSCRIBE_PLACEHOLDER, "")):
        host = _HOST.match(url)
        hosts.append((host.group(1) if host else url).lower().rstrip("."))
    return hosts


def host_allowed(host: str, domains: Iterable[str]) -> bool:
    host = host.removeprefix("www.")
    return any(host == d or host.endswith(f".{d}") for d in domains)


def judge(draft: Draft, written: Written, policy: Policy) -> list[Verdict]:
    text = f"{written.subject}\n{written.body}"
    out: list[Verdict] = []
    shape = "" if written.body.strip() else "the body is empty"
    if not shape and draft.channel == EMAIL and not written.subject.strip():
        shape = "an email needs a subject"
    out.append(Verdict("shape", not shape, shape or "body (and email subject) present"))
    if draft.channel == SMS:
        n = segments.count(written.body)
        out.append(
            Verdict(
                "sms_segments",
                n.segments <= policy.sms_max_segments,
                f"{n.segments} {n.encoding} segment(s), {n.units} units (cap {policy.sms_max_segments})",
            )
        )
        if draft.to_lead:
            line = guardrails.stop_line(draft.language)
            out.append(Verdict("opt_out", written.body.endswith(line), f"ends with {line!r}"))
            brand = draft.facts.brand_name
            out.append(Verdict("sender_id", brand in written.body, f"names the brand {brand!r}"))
    if draft.channel == EMAIL and draft.to_lead:
        out.append(
            Verdict("unsubscribe", UNSUBSCRIBE_PLACEHOLDER in written.body, "carries the unsubscribe link")
        )
        address = policy.postal_address
        out.append(
            Verdict("postal_address", bool(address) and address in written.body, "carries the postal address")
        )
        if guardrails.needs_ad_notice(draft):
            notice = guardrails.ad_notice(draft)
            out.append(Verdict("advertisement", notice in written.body, f"says {notice!r}"))
    phrase = policy.blocklist.find_phrase(text)
    out.append(
        Verdict(
            "fair_housing",
            phrase is None,
            f"describes people, not the home: {phrase!r}" if phrase else "no protected-class language",
        )
    )
    promise = _PROMISES.search(guardrails.normalise(text))
    out.append(
        Verdict(
            "promises",
            promise is None,
            f"makes a promise or quotes a rate: {promise.group(0)!r}" if promise else "no promises or rates",
        )
    )
    stated = stated_numbers(text.replace(UNSUBSCRIBE_PLACEHOLDER, ""), draft.language)
    allowed = allowed_numbers(draft, policy)
    invented = [_as_written(n, stated[n]) for n in sorted(stated) if n not in allowed]
    out.append(
        Verdict(
            "numbers",
            not invented,
            f"numbers not in the input: {', '.join(invented)}" if invented else "numbers all from the input",
        )
    )
    foreign = [h for h in link_hosts(text) if not host_allowed(h, policy.link_domains)]
    out.append(
        Verdict(
            "links",
            not foreign,
            f"links outside the location's domains: {', '.join(foreign)}" if foreign else "no foreign links",
        )
    )
    return out


def failures(verdicts: Iterable[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if not v.passed]


def feedback(failed: Iterable[Verdict]) -> tuple[str, ...]:
    """What a regeneration is told to fix, one line a failed rule."""
    return tuple(f"{v.rule}: {v.detail}" for v in failed)


def refusal(failed: list[Verdict], what: str) -> FailedPrecondition:
    first = failed[0]
    return FailedPrecondition(
        f"{what} failed the {first.rule} guardrail ({first.detail}); it was not stored",
        reason="CONTENT_GUARDRAIL",
        metadata={"rule": first.rule, "rules": ",".join(v.rule for v in failed)},
    )


def check_output(draft: Draft, written: Written, policy: Policy) -> list[Verdict]:
    """The verdicts, or FAILED_PRECONDITION naming the first failed rule."""
    verdicts = judge(draft, written, policy)
    failed = failures(verdicts)
    if failed:
        raise refusal(failed, "the written message")
    return verdicts

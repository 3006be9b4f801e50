"""Every built-in template (purpose x channel x language x variant) renders and passes every guardrail."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.content import guardrails, segments, verdicts
from services.content.facts import FIELD_LIMITS
from services.content.templates import CATALOGUE, choose_variant, render, variants
from services.content.writer import (
    AGENT_NOTIFICATION,
    EMAIL,
    ENGLISH,
    FOLLOW_UP,
    LANGUAGES,
    RE_ENGAGEMENT,
    SMS,
    SPANISH,
    TEMPLATE,
    Draft,
    Facts,
)

ADDRESS = "100 Congress Ave, Austin, TX 78701"
POLICY = verdicts.Policy(postal_address=ADDRESS)
PURPOSES = sorted({p for _, p, _ in CATALOGUE})
FULL = Facts(
    lead_first_name="Maria",
    agent_name="Ana Lopez",
    agent_phone="(512) 555-0100",
    city="Austin",
    source="web form",
    brand_name="LeadEngine Realty",
    lead_full_name="Maria Garcia",
    lead_score=82,
    listing_label="12 Oak St",
    value_proposition="We answer every message the same day.",
    market_area="78701",
    market_median_price_usd=425_000,
    market_days_on_market=34,
    market_inventory=812,
    market_as_of="2026-10-01",
    appointment_label="Tue Dec 1 at 3:00 PM, 12 Oak St",
)
EMPTY = Facts(brand_name="LeadEngine Realty")
LONG = Facts(
    lead_first_name="A" * FIELD_LIMITS["lead_first_name"],
    agent_name="B" * FIELD_LIMITS["agent_name"],
    agent_phone="(512) 555-0100",
    city="C" * FIELD_LIMITS["city"],
    source="D" * FIELD_LIMITS["source"],
    brand_name="E" * FIELD_LIMITS["brand_name"],
    listing_label="F" * FIELD_LIMITS["listing_label"],
    appointment_label="G" * FIELD_LIMITS["appointment_label"],
    value_proposition="H" * 120,
)


def draft(channel: str, purpose: str, language: str, facts: Facts, lead: str, step: int = 0) -> Draft:
    return Draft(
        lead_id=lead,
        channel=channel,
        purpose=purpose,
        facts=facts,
        max_body_chars=guardrails.body_budget(channel, purpose != AGENT_NOTIFICATION, language),
        step_index=step,
        language=language,
    )


def leads_hitting_every_variant(channel: str, purpose: str, language: str) -> list[str]:
    wanted = {t.key for t in variants(channel, purpose, language)}
    found: dict[str, str] = {}
    for i in range(200):
        lead = str(uuid.UUID(int=i))
        found.setdefault(choose_variant(lead, channel, purpose, 0, language).key, lead)
        if set(found) == wanted:
            break
    assert set(found) == wanted
    return list(found.values())


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("channel", [SMS, EMAIL])
@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_variant_renders_and_passes_every_guardrail(purpose: str, channel: str, language: str) -> None:
    assert len(variants(channel, purpose, language)) >= (1 if purpose == AGENT_NOTIFICATION else 2)
    for lead in leads_hitting_every_variant(channel, purpose, language):
        for facts in (FULL, EMPTY, LONG):
            d = draft(channel, purpose, language, facts, lead)
            out = guardrails.finish(d, render(d), postal_address=ADDRESS)
            failed = verdicts.failures(verdicts.judge(d, out, POLICY))
            assert not failed, (out.model, out.body, failed)
            assert out.generator == TEMPLATE
            assert "{" not in out.body.replace(guardrails.UNSUBSCRIBE_PLACEHOLDER, "")
            assert "  " not in out.body
            expected_lang = language if purpose != AGENT_NOTIFICATION else ENGLISH
            assert (f".{SPANISH}." in out.model) == (expected_lang == SPANISH)


def test_spanish_reads_spanish_and_english_reads_english() -> None:
    lead = str(uuid.uuid4())
    es = render(draft(SMS, FOLLOW_UP, SPANISH, FULL, lead, 1))
    en = render(draft(SMS, FOLLOW_UP, ENGLISH, FULL, lead, 1))
    assert es.body.startswith(("Hola", "¿", "Maria"))
    assert en.body.startswith(("Hi", "Maria"))
    finished = guardrails.finish(draft(SMS, FOLLOW_UP, SPANISH, FULL, lead), es, postal_address="")
    assert finished.body.endswith("Responda STOP para cancelar.")


def test_follow_ups_rotate_by_step_and_each_step_is_stable() -> None:
    lead = str(uuid.uuid4())
    models = [render(draft(SMS, FOLLOW_UP, ENGLISH, FULL, lead, step)).model for step in range(1, 7)]
    assert all(a != b for a, b in itertools.pairwise(models))
    assert len(set(models)) == len(variants(SMS, FOLLOW_UP))
    assert models == [render(draft(SMS, FOLLOW_UP, ENGLISH, FULL, lead, s)).model for s in range(1, 7)]


def test_market_facts_and_value_propositions_appear_only_when_given() -> None:
    with_market = [
        render(draft(EMAIL, RE_ENGAGEMENT, ENGLISH, FULL, lead)).body
        for lead in leads_hitting_every_variant(EMAIL, RE_ENGAGEMENT, ENGLISH)
    ]
    assert all("$425,000" in body and "34 days" in body for body in with_market)
    assert all("We answer every message the same day." in body for body in with_market)
    bare = replace(FULL, market_median_price_usd=0, market_as_of="", value_proposition="")
    for lead in leads_hitting_every_variant(EMAIL, RE_ENGAGEMENT, ENGLISH):
        body = render(draft(EMAIL, RE_ENGAGEMENT, ENGLISH, bare, lead)).body
        assert "$" not in body
        assert "days" not in body
        assert "same day" not in body
    es = render(
        draft(
            EMAIL, RE_ENGAGEMENT, SPANISH, FULL, leads_hitting_every_variant(EMAIL, RE_ENGAGEMENT, SPANISH)[0]
        )
    )
    assert "$425.000" in es.body or "We answer" in es.body


def test_spanish_sms_over_its_cap_is_folded_to_gsm7_not_cut() -> None:
    # A long name pushes the accented (UCS-2) text past two segments; folded to GSM-7 it fits.
    facts = replace(FULL, lead_first_name="Maximiliana Guadalupe", agent_name="Ana Lucía Fernández Ortega")
    for lead in leads_hitting_every_variant(SMS, RE_ENGAGEMENT, SPANISH):
        d = draft(SMS, RE_ENGAGEMENT, SPANISH, facts, lead)
        out = guardrails.finish(d, render(d), postal_address="")
        n = segments.count(out.body)
        assert n.segments <= 2
        assert not verdicts.failures(verdicts.judge(d, out, POLICY))


def test_a_non_gsm_brand_is_never_respelled() -> None:
    facts = replace(EMPTY, brand_name="Ramírez Realty")
    for lead in leads_hitting_every_variant(SMS, FOLLOW_UP, ENGLISH):
        d = draft(SMS, FOLLOW_UP, ENGLISH, facts, lead)
        out = guardrails.finish(d, render(d), postal_address="")
        assert "Ramírez Realty" in out.body
        assert not verdicts.failures(verdicts.judge(d, out, POLICY))


name_chars = st.characters(blacklist_categories=("Cs", "Cc"))


@settings(max_examples=200, deadline=None)
@given(
    st.text(name_chars, max_size=40),
    st.text(name_chars, max_size=50),
    st.sampled_from(sorted(CATALOGUE)),
    st.integers(min_value=0, max_value=8),
)
def test_any_gsm_brand_and_any_name_fit_the_cap(name: str, agent: str, kind, step: int) -> None:
    channel, purpose, language = kind
    facts = replace(
        FULL,
        lead_first_name=guardrails.sanitize(name, FIELD_LIMITS["lead_first_name"]),
        agent_name=guardrails.sanitize(agent, FIELD_LIMITS["agent_name"]),
    )
    d = draft(channel, purpose, language, facts, str(uuid.uuid4()), step)
    out = guardrails.finish(d, render(d), postal_address=ADDRESS)
    found = {v.rule: v for v in verdicts.judge(d, out, POLICY)}
    assert found["sms_segments"].passed if channel == SMS else found["shape"].passed

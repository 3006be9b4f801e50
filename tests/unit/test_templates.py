"""Message templates and the guardrails every message passes."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.content import guardrails, verdicts
from services.content.facts import FIELD_LIMITS
from services.content.guardrails import STOP_LINE, UNSUBSCRIBE_PLACEHOLDER, Blocklist, sanitize
from services.content.templates import TEMPLATES, render
from services.content.writer import (
    AGENT_NOTIFICATION,
    EMAIL,
    FIRST_TOUCH,
    FOLLOW_UP,
    SMS,
    TEMPLATE,
    Draft,
    Facts,
    Written,
)
from shared.errors import FailedPrecondition

ADDRESS = "100 Congress Ave, Austin, TX 78701"
BLOCKLIST = Blocklist()
POLICY = verdicts.Policy(postal_address=ADDRESS, blocklist=BLOCKLIST)
FULL = Facts(
    lead_first_name="Maria",
    agent_name="Ana Lopez",
    agent_phone="(512) 555-0100",
    city="Austin",
    source="web form",
    brand_name="LeadEngine Realty",
    lead_full_name="Maria Garcia",
    lead_score=82,
)
KINDS = sorted(TEMPLATES)


def draft(channel: str, purpose: str, facts: Facts = FULL, lead_id: str | None = None) -> Draft:
    to_lead = purpose != AGENT_NOTIFICATION
    return Draft(
        lead_id=lead_id or str(uuid.uuid4()),
        channel=channel,
        purpose=purpose,
        facts=facts,
        max_body_chars=guardrails.body_budget(channel, to_lead),
    )


def finished(d: Draft) -> Written:
    return guardrails.finish(d, render(d), postal_address=ADDRESS)


facts_st = st.builds(
    Facts,
    lead_first_name=st.text(max_size=60).map(lambda s: sanitize(s, FIELD_LIMITS["lead_first_name"])),
    agent_name=st.text(max_size=80).map(lambda s: sanitize(s, FIELD_LIMITS["agent_name"])),
    agent_phone=st.sampled_from(["", "(512) 555-0100", "+44 20 7946 0958"]),
    city=st.text(max_size=80).map(lambda s: sanitize(s, FIELD_LIMITS["city"])),
    source=st.text(max_size=80).map(lambda s: sanitize(s, FIELD_LIMITS["source"])),
    brand_name=st.text(min_size=1, max_size=80).map(lambda s: sanitize(s, 50) or "LeadEngine Realty"),
    lead_full_name=st.text(max_size=80).map(lambda s: sanitize(s, FIELD_LIMITS["lead_full_name"])),
    lead_score=st.floats(min_value=0, max_value=100),
)


@settings(max_examples=300)
@given(facts_st, st.sampled_from(KINDS), st.uuids())
def test_every_sms_fits_two_segments_and_lead_sms_end_with_stop(facts: Facts, kind, lead_id) -> None:
    channel, purpose = kind
    d = draft(channel, purpose, facts, str(lead_id))
    out = finished(d)
    assert out.body.strip()
    if channel == SMS:
        assert len(out.body) <= 306
        if purpose != AGENT_NOTIFICATION:
            assert out.body.endswith(STOP_LINE)
            assert facts.brand_name in out.body
    else:
        assert out.subject
        if purpose != AGENT_NOTIFICATION:
            assert UNSUBSCRIBE_PLACEHOLDER in out.body
            assert ADDRESS in out.body


@pytest.mark.parametrize(("channel", "purpose"), KINDS)
def test_every_variant_reads_clean_with_full_and_empty_context(channel: str, purpose: str) -> None:
    for facts in (FULL, Facts(brand_name="LeadEngine Realty")):
        for i in range(40):  # enough lead ids to hit every variant
            out = finished(draft(channel, purpose, facts, str(uuid.UUID(int=i))))
            verdicts.check_output(draft(channel, purpose, facts), out, POLICY)
            assert "{" not in out.body.replace(UNSUBSCRIBE_PLACEHOLDER, "")
            assert "  " not in out.body
            assert out.generator == TEMPLATE
            assert (out.input_tokens, out.output_tokens, out.cost_micros_usd) == (0, 0, 0)
            assert out.model.startswith(f"{channel}.{purpose}.")


def test_sms_first_touch_names_lead_agent_brand_and_city() -> None:
    out = finished(draft(SMS, FIRST_TOUCH))
    for word in ("Maria", "Ana Lopez", "LeadEngine Realty"):
        assert word in out.body
    assert "Austin" in out.body or "web form" in out.body
    assert out.body.endswith("Reply STOP to opt out.")


def test_missing_first_name_greets_there() -> None:
    out = finished(draft(SMS, FIRST_TOUCH, Facts(brand_name="LeadEngine Realty")))
    assert out.body.startswith(("Hi there,", "Hello there!"))
    assert "LeadEngine Realty" in out.body


def test_same_lead_same_words_and_variants_differ_across_leads() -> None:
    lead = str(uuid.uuid4())
    assert finished(draft(SMS, FIRST_TOUCH, lead_id=lead)) == finished(draft(SMS, FIRST_TOUCH, lead_id=lead))
    models = {finished(draft(SMS, FIRST_TOUCH, lead_id=str(uuid.UUID(int=i)))).model for i in range(40)}
    assert models == {"sms.first_touch.a.v1", "sms.first_touch.b.v1"}


def test_long_context_drops_optional_clauses_to_fit() -> None:
    long = Facts(
        lead_first_name="A" * 30,
        agent_name="B" * 40,
        agent_phone="(512) 555-0100",
        city="C" * 40,
        source="D" * 40,
        brand_name="E" * 50,
    )
    for i in range(10):
        d = draft(SMS, FIRST_TOUCH, long, str(uuid.UUID(int=i)))
        out = finished(d)
        assert len(out.body) <= 306
        assert "A" * 30 in out.body
        assert "E" * 50 in out.body


def test_email_footer_and_agent_notifications_carry_no_opt_out_lines() -> None:
    email = finished(draft(EMAIL, FOLLOW_UP))
    assert email.body.rstrip().endswith(f"LeadEngine Realty, {ADDRESS}")
    agent_sms = finished(draft(SMS, AGENT_NOTIFICATION))
    assert STOP_LINE not in agent_sms.body
    assert "Maria Garcia" in agent_sms.body
    assert "82/100" in agent_sms.body
    agent_email = finished(draft(EMAIL, AGENT_NOTIFICATION))
    assert agent_email.subject == "New lead: Maria Garcia"
    assert UNSUBSCRIBE_PLACEHOLDER not in agent_email.body


# --- guardrails ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "a Family-Friendly area",
        "family friendly",
        "SAFE  neighborhood",
        "No children please",
        "adults-only building",
        "an exclusive community",
        "perfect for young professionals",
        "Up-and-coming",
    ],
)
def test_blocklist_catches_variants_of_spelling_and_case(text: str) -> None:
    found = BLOCKLIST.find(text)
    assert found is not None
    assert found.rule == "fair_housing"


@pytest.mark.parametrize(
    "text",
    ["family room", "walk-in closet", "near St. Mary's", "wheelchair ramp", "exclusively", "safety deposit"],
)
def test_blocklist_allows_describing_the_home(text: str) -> None:
    assert BLOCKLIST.find(text) is None


def test_links_are_refused_but_the_unsubscribe_placeholder_is_not() -> None:
    assert BLOCKLIST.find("see bit.ly/abc")
    assert BLOCKLIST.find("https://example.com")
    assert BLOCKLIST.find(f"Unsubscribe: {UNSUBSCRIBE_PLACEHOLDER}") is None


def test_extra_phrases_from_config_extend_the_list() -> None:
    assert Blocklist(["Section-8 not accepted"]).find("section 8 not accepted here")
    assert BLOCKLIST.find("section 8 not accepted here") is None


def test_guardrail_names_the_offending_field() -> None:
    with pytest.raises(FailedPrecondition) as exc:
        BLOCKLIST.check_fields({"city": "a safe neighborhood in Austin"})
    assert exc.value.reason == "CONTENT_GUARDRAIL"
    assert exc.value.metadata["field"] == "context.city"


def test_output_missing_stop_line_is_refused() -> None:
    d = draft(SMS, FIRST_TOUCH)
    bare = render(d)  # never finished
    with pytest.raises(FailedPrecondition) as exc:
        verdicts.check_output(d, bare, POLICY)
    assert exc.value.metadata["rule"] == "opt_out"


@given(st.text(max_size=500), st.integers(min_value=1, max_value=100))
def test_sanitize_yields_one_printable_line_within_the_limit(raw: str, limit: int) -> None:
    out = sanitize(raw, limit)
    assert len(out) <= limit
    assert "\n" not in out
    assert "\x00" not in out
    assert out == out.strip()
    assert sanitize(out, limit) == out


def test_sanitize_cuts_at_a_word() -> None:
    assert sanitize("Maria\x07 de\tla\nCruz", 100) == "Maria de la Cruz"
    assert sanitize("Maria de la Cruz", 12) == "Maria de la"

"""The guardrail catalogue (tests/data/guardrail_catalogue.csv): known-bad and known-fine phrases,
each with the rule it exercises and the verdict that rule must give."""

from __future__ import annotations

import csv
import uuid
from pathlib import Path

import pytest

from services.content import guardrails, verdicts
from services.content.writer import EMAIL, FIRST_TOUCH, SMS, Draft, Facts, Written

CATALOGUE = Path(__file__).parent.parent / "data" / "guardrail_catalogue.csv"
ROWS = list(csv.DictReader(CATALOGUE.open(encoding="utf-8")))
ADDRESS = "100 Congress Ave, Austin, TX 78701"
FACTS = Facts(
    lead_first_name="Maria",
    agent_name="Ana Lopez",
    agent_phone="(512) 555-0100",
    city="Austin",
    brand_name="Oak Realty",
    listing_label="12 Oak St",
)
POLICY = verdicts.Policy(postal_address=ADDRESS, link_domains=("oakrealty.com",))


def judged(channel: str, text: str) -> dict[str, verdicts.Verdict]:
    draft = Draft(
        lead_id=str(uuid.uuid4()),
        channel=channel,
        purpose=FIRST_TOUCH,
        facts=FACTS,
        max_body_chars=guardrails.body_budget(channel, True),
    )
    body = f"Hi Maria, Ana Lopez with Oak Realty. {text}"
    written = guardrails.finish(
        draft,
        Written(subject="Your search", body=body, generator="claude", model="m"),
        postal_address=ADDRESS,
    )
    return {v.rule: v for v in verdicts.judge(draft, written, POLICY)}


def test_the_catalogue_covers_every_content_rule_both_ways() -> None:
    seen = {(r["rule"], r["expected"]) for r in ROWS}
    for rule in ("fair_housing", "promises", "numbers", "links"):
        assert {(rule, "fail"), (rule, "pass")} <= seen
    assert len(ROWS) >= 60


@pytest.mark.parametrize("channel", [SMS, EMAIL])
@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['rule']}-{r['expected']}-{r['text'][:30]}")
def test_catalogue_verdicts(row: dict[str, str], channel: str) -> None:
    verdict = judged(channel, row["text"])[row["rule"]]
    assert verdict.passed == (row["expected"] == "pass"), verdict.detail


def test_a_clean_message_passes_every_rule_and_each_verdict_is_recorded() -> None:
    found = judged(SMS, "When is a good time for a quick call?")
    assert all(v.passed for v in found.values()), [v for v in found.values() if not v.passed]
    assert {
        "shape",
        "sms_segments",
        "opt_out",
        "sender_id",
        "fair_housing",
        "promises",
        "numbers",
        "links",
    } <= set(found)
    email = judged(EMAIL, "When is a good time for a quick call?")
    assert {"unsubscribe", "postal_address"} <= set(email)
    assert all(v.passed for v in email.values())


def test_configured_phrases_extend_the_fair_housing_rule() -> None:
    policy = verdicts.Policy(
        postal_address=ADDRESS, blocklist=guardrails.Blocklist(["Section-8 not accepted"])
    )
    draft = Draft(lead_id="x", channel=EMAIL, purpose=FIRST_TOUCH, facts=FACTS, max_body_chars=5000)
    written = guardrails.finish(
        draft,
        Written(subject="s", body="Section 8 not accepted here.", generator="claude", model="m"),
        postal_address=ADDRESS,
    )
    assert not {v.rule: v for v in verdicts.judge(draft, written, policy)}["fair_housing"].passed


def test_the_segment_cap_replaces_the_character_budget() -> None:
    # 150 GSM-7 characters fit two segments with the STOP line; with one emoji the same text is
    # UCS-2, where two segments hold 134 units, so it fails the default cap of two.
    text = "a" * 100
    assert judged(SMS, text)["sms_segments"].passed
    assert not judged(SMS, text + " 😀")["sms_segments"].passed
    draft = Draft(lead_id="x", channel=SMS, purpose=FIRST_TOUCH, facts=FACTS, max_body_chars=300)
    long = guardrails.finish(
        draft,
        Written(subject="", body="Oak Realty. " + "a" * 300, generator="claude", model="m"),
        postal_address="",
    )
    assert not {v.rule: v for v in verdicts.judge(draft, long, POLICY)}["sms_segments"].passed
    roomy = verdicts.Policy(sms_max_segments=3)
    assert {v.rule: v for v in verdicts.judge(draft, long, roomy)}["sms_segments"].passed

"""How opt-outs and suppressions reach the gates, the inbound notes and the agent's notice."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator import envelope
from services.coordinator.compliance import gates
from services.coordinator.compliance.evaluation import Caps, History, Limits, evaluate
from services.coordinator.compliance.gates import Action, ContactFacts
from services.coordinator.compliance.keywords import Classification, Intent
from services.coordinator.compliance.recipient import Recipient
from services.coordinator.inbound.messages import classification_note
from services.coordinator.notifications import notifier
from shared.errors import InvalidArgument

LIMITS = Limits(Caps())
CHICAGO = Recipient(zones=("America/Chicago",), states=(), why=())
PHONE = "+15125550100"
EMAIL = "lee@example.com"
NOON_CHICAGO = datetime(2026, 7, 1, 17, 0, tzinfo=UTC)


@given(
    sms_suppressed=st.sampled_from(["", "lead sent STOP"]),
    email_suppressed=st.sampled_from(["", "SendGrid bounce"]),
    sms_consent=st.booleans(),
    email_consent=st.booleans(),
)
def test_a_suppressed_address_loses_to_one_that_is_not(
    sms_suppressed: str, email_suppressed: str, sms_consent: bool, email_consent: bool
) -> None:
    facts = ContactFacts(
        phone=PHONE,
        email=EMAIL,
        sms_consent=sms_consent,
        email_consent=email_consent,
        sms_suppressed=sms_suppressed,
        email_suppressed=email_suppressed,
    )
    chosen = gates.choose_channel(facts)
    allowed = [c for c, ok in ((gates.SMS, sms_consent), (gates.EMAIL, email_consent)) if ok]
    clear = [c for c in allowed if not facts.suppression(c)]
    assert chosen == (clear[0] if clear else allowed[0] if allowed else None)


def test_gate_names_the_suppression() -> None:
    facts = ContactFacts(
        phone=PHONE, timezone="America/Chicago", sms_consent=True, sms_suppressed="lead sent STOP"
    )
    decision = evaluate(gates.SMS, PHONE, facts, CHICAGO, NOON_CHICAGO, LIMITS, History()).decision
    assert decision.action is Action.BLOCK
    assert decision.reason == f"SMS to {PHONE} is suppressed: lead sent STOP"
    assert gates.refusal(gates.SMS, PHONE, facts) == decision.reason


def test_email_suppression_blocks_email_at_any_hour() -> None:
    facts = ContactFacts(email=EMAIL, email_consent=True, email_suppressed="SendGrid spamreport")
    decision = evaluate(gates.EMAIL, EMAIL, facts, None, NOON_CHICAGO, LIMITS, History()).decision
    assert decision.action is Action.BLOCK
    assert "SendGrid spamreport" in decision.reason


def test_refusal_is_empty_for_a_clean_address() -> None:
    facts = ContactFacts(phone=PHONE, sms_consent=True)
    assert gates.refusal(gates.SMS, PHONE, facts) == ""


@pytest.mark.parametrize(
    ("found", "channel", "note"),
    [
        (Classification(Intent.OPT_OUT, "STOP"), gates.SMS, "opt-out keyword STOP: SMS revoked"),
        (
            Classification(Intent.OPT_OUT, "UNSUBSCRIBE"),
            gates.EMAIL,
            "opt-out keyword UNSUBSCRIBE: email revoked",
        ),
        (Classification(Intent.OPT_IN, "START"), gates.SMS, "opt-in keyword START"),
        (Classification(Intent.HELP, "HELP"), gates.SMS, "help keyword HELP: no change"),
        (Classification(Intent.NONE), gates.SMS, ""),
    ],
)
def test_inbound_rows_say_what_the_classifier_made_of_them(
    found: Classification, channel: int, note: str
) -> None:
    assert classification_note(found, channel) == note


def test_reply_notice_quotes_the_reply_and_says_the_journey_stopped() -> None:
    subject, body = notifier.reply_notice("Lee Park", gates.SMS, "Can we  see it\nSaturday?")
    assert subject == "Lee Park replied"
    assert '"Can we see it Saturday?"' in body
    assert "stopped" in body
    _, long_body = notifier.reply_notice("", gates.EMAIL, "x" * 1000)
    assert long_body.startswith("A lead replied by email")
    assert "x" * 160 not in long_body  # a snippet, not the whole email
    _, stop_body = notifier.reply_notice("Lee", gates.SMS, "STOP", opt_out_keyword="STOP")
    assert "opted out" in stop_body
    assert "do not text" in stop_body


def _event(**kw: object) -> pb.LeadEventEnvelope:
    return pb.LeadEventEnvelope(event_id="e", **kw)  # type: ignore[arg-type]


def test_delivery_and_suppression_need_no_lead() -> None:
    report = envelope.parse(
        _event(
            kind=pb.LEAD_EVENT_KIND_DELIVERY_STATUS,
            delivery=pb.DeliveryFacts(provider_message_id="SM1", provider_status="Delivered"),
        )
    )
    assert report.lead_id is None
    assert report.delivery is not None
    assert report.delivery.provider_status == "delivered"
    suppressed = envelope.parse(
        _event(
            kind=pb.LEAD_EVENT_KIND_SUPPRESSION,
            suppression=pb.SuppressionFacts(channel=gates.SMS, address="(512) 555-0100"),
        )
    )
    assert suppressed.suppression is not None
    assert suppressed.suppression.address == PHONE  # keyed by E.164
    assert suppressed.suppression.reason == "suppressed"


def test_a_suppression_naming_a_lead_may_lack_an_address() -> None:
    lead = str(uuid.uuid4())
    parsed = envelope.parse(
        _event(
            kind=pb.LEAD_EVENT_KIND_SUPPRESSION,
            lead_id=lead,
            suppression=pb.SuppressionFacts(channel=gates.SMS, reason="GHL do-not-disturb"),
        )
    )
    assert parsed.suppression is not None
    assert parsed.suppression.address == ""
    with pytest.raises(InvalidArgument):
        envelope.parse(
            _event(kind=pb.LEAD_EVENT_KIND_SUPPRESSION, suppression=pb.SuppressionFacts(channel=gates.SMS))
        )


def test_an_inbound_sender_that_does_not_parse_is_kept_but_not_keyed() -> None:
    parsed = envelope.parse(
        _event(
            kind=pb.LEAD_EVENT_KIND_INBOUND_MESSAGE,
            lead_id=str(uuid.uuid4()),
            message=pb.MessageFacts(channel=gates.SMS, body="STOP", lead_address="short code 12345"),
        )
    )
    assert parsed.message is not None
    assert parsed.message.address == "short code 12345"
    assert parsed.message.address_key == ""

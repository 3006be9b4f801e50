"""The consent basis rules, pure: tags against a policy, email under CAN-SPAM or opt-in."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.coordinator.compliance import basis
from services.coordinator.compliance.basis import Policy
from shared.errors import InvalidArgument

AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
POLICY = Policy("loc", version=3, sms_consent_tags=("SMS-Opt-In",), attestation="form /contact")


def test_a_tag_matches_whatever_its_case_and_names_its_evidence() -> None:
    got = basis.sms_basis(lead_consent=True, lead_tags=["buyer", " sms-opt-in "], policy=POLICY, at=AT)
    assert got.text == "tag 'SMS-Opt-In' under policy v3 (attestation: form /contact), 2026-11-27T10:00Z"
    assert got.key == "tag:3:sms-opt-in"


def test_without_a_tag_the_lead_record_or_nothing() -> None:
    for flag, expected in ((True, basis.LEAD_RECORD), (False, "")):
        got = basis.sms_basis(lead_consent=flag, lead_tags=["newsletter"], policy=POLICY, at=AT)
        assert got.text == expected


def test_email_under_can_spam_unless_opt_in_is_required() -> None:
    assert basis.email_basis(lead_consent=False, policy=POLICY).text == basis.CAN_SPAM
    strict = Policy("loc", email_requires_opt_in=True)
    assert basis.email_basis(lead_consent=False, policy=strict) == basis.NONE
    assert basis.email_basis(lead_consent=True, policy=strict).text == basis.LEAD_RECORD


def test_validation_trims_dedupes_and_names_every_bad_field() -> None:
    ok = basis.validated(" loc ", [" A ", "a", "b"], " form ", False)
    assert (ok.location_id, ok.sms_consent_tags, ok.attestation) == ("loc", ("A", "b"), "form")
    with pytest.raises(InvalidArgument) as exc:
        basis.validated("", ["x", ""], "", True)
    assert [v.field for v in exc.value.violations] == [
        "location_id",
        "policy.sms_consent_tags[1]",
        "policy.attestation",
    ]

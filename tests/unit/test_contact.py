from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import contact
from shared.errors import InvalidArgument


@given(st.emails())
def test_valid_emails_normalise_idempotently(email: str) -> None:
    once = contact.normalize_email(email, "lead.email")
    assert contact.normalize_email(once, "lead.email") == once


@given(st.text(max_size=60))
def test_any_phone_text_is_e164_or_invalid_argument(raw: str) -> None:
    try:
        phone = contact.normalize_phone(raw, "lead.phone")
    except InvalidArgument as err:
        fields = [v.field for v in err.violations]
    else:
        fields = []
        assert contact.normalize_phone(phone, "lead.phone") == phone
    if fields:
        assert fields == ["lead.phone"]
        return
    assert phone == "" or (phone.startswith("+") and phone[1:].isdigit())


@pytest.mark.parametrize(
    ("raw", "e164"), [("(512) 555-0142", "+15125550142"), ("+1 212 555 0199", "+12125550199")]
)
def test_us_numbers_become_e164(raw: str, e164: str) -> None:
    assert contact.normalize_phone(raw, "lead.phone") == e164


def test_unknown_timezone_is_rejected() -> None:
    with pytest.raises(InvalidArgument) as exc:
        contact.check_timezone("Mars/Olympus", "lead.timezone")
    assert exc.value.violations[0].field == "lead.timezone"


@pytest.mark.parametrize(
    ("tz", "phone", "zone"),
    [
        ("America/Denver", "+12125550199", "America/Denver"),  # an explicit zone beats the area code
        ("", "+15125550142", "America/Chicago"),
        ("", "+13105550123", "America/Los_Angeles"),
        ("", "+18005550100", None),  # toll-free: nowhere in particular
        ("", "", None),
    ],
)
def test_zone_resolution(tz: str, phone: str, zone: str | None) -> None:
    found = contact.zone_for(tz, phone)
    assert found == (ZoneInfo(zone) if zone else None)

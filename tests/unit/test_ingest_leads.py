"""Lead validation, normalisation and merge rules (services.ingest.leads)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from google.protobuf import struct_pb2
from hypothesis import given
from hypothesis import strategies as st
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest import leads
from services.ingest.leads import LeadFields
from shared.errors import InvalidArgument

NOW = datetime(2025, 1, 1, tzinfo=UTC)

text = st.text(max_size=40)
lead_fields = st.builds(
    LeadFields,
    external_contact_id=st.one_of(st.none(), st.text(min_size=1, max_size=10)),
    first_name=text,
    last_name=text,
    email=text,
    phone=text,
    city=text,
    tags=st.lists(st.text(max_size=5), max_size=4).map(tuple),
    custom_fields=st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    sms_consent=st.booleans(),
    budget_usd=st.integers(min_value=0, max_value=10**9),
    timeline_months=st.integers(min_value=0, max_value=600),
)
paths = st.frozensets(st.sampled_from(sorted(leads.WRITABLE)))


@given(lead_fields, lead_fields, paths)
def test_merge_takes_named_paths_from_incoming_and_keeps_the_rest(
    existing: LeadFields, incoming: LeadFields, named: frozenset[str]
) -> None:
    merged = leads.merge(existing, incoming, named)
    for name in leads.WRITABLE:
        source = incoming if name in named else existing
        assert getattr(merged, name) == getattr(source, name)


@given(lead_fields, lead_fields)
def test_merge_without_paths_changes_nothing(existing: LeadFields, incoming: LeadFields) -> None:
    assert leads.merge(existing, incoming, frozenset()) == existing


@given(lead_fields)
def test_merging_a_lead_onto_itself_is_a_no_op(fields: LeadFields) -> None:
    assert leads.merge(fields, fields, leads.WRITABLE) == fields


@given(lead_fields)
def test_erase_blanks_personal_fields_only(fields: LeadFields) -> None:
    erased = leads.erase(fields)
    for name in leads.WRITABLE:
        expected = getattr(LeadFields(), name) if name in leads.PERSONAL else getattr(fields, name)
        assert getattr(erased, name) == expected
    assert leads.erase(erased) == erased


@given(
    st.builds(
        pb.Lead,
        first_name=text,
        last_name=text,
        email=text,
        phone=text,
        timezone=st.one_of(text, st.sampled_from(["America/Chicago", "Europe/Paris"])),
        company=text,
        state=text,
        country=st.one_of(text, st.sampled_from(["us", "CA"])),
        tags=st.lists(text, max_size=5),
        source=st.integers(min_value=-1, max_value=9),
        budget_usd=st.integers(min_value=-5, max_value=10**13),
        timeline_months=st.integers(min_value=-5, max_value=700),
    )
)
def test_any_lead_validates_idempotently_or_names_its_bad_field(lead: pb.Lead) -> None:
    try:
        once = leads.from_proto(lead)
    except InvalidArgument as err:
        fields = [v.field for v in err.violations]
    else:
        fields = []
    if fields:
        assert len(fields) == 1
        assert fields[0].removeprefix("lead.") in leads.WRITABLE
        assert fields[0].startswith("lead.")
        return
    again = pb.Lead(
        **{name: getattr(once, name) for name in leads.WRITABLE - {"custom_fields", "external_contact_id"}},
        external_contact_id=once.external_contact_id or "",
    )
    assert leads.from_proto(again) == once


@given(st.lists(st.text(max_size=20), max_size=20))
def test_tags_are_trimmed_lowercased_and_unique(raw: list[str]) -> None:
    tags = leads.clean_tags(raw, "lead.tags")
    assert len(set(tags)) == len(tags)
    assert all(t and t == t.lower() and t == t.strip() for t in tags)
    assert leads.clean_tags(tags, "lead.tags") == tags


def test_present_fields_are_the_non_default_ones() -> None:
    lead = pb.Lead(
        lead_id="x",
        location_id="loc",
        first_name="Ana",
        tags=["a"],
        sms_consent=True,
        custom_fields=struct_pb2.Struct(),
    )
    assert leads.present_fields(lead) == {"first_name", "tags", "sms_consent", "custom_fields"}


def test_update_paths_rules() -> None:
    lead = pb.Lead(first_name="Ana", phone="+15125550100")
    assert leads.update_paths([], lead) == {"first_name", "phone"}
    assert leads.update_paths(["*"], lead) == leads.WRITABLE
    assert leads.update_paths(["email", "lead.tags"], lead) == {"email", "tags"}


@pytest.mark.parametrize("mask", [["nope"], ["lead_id"], ["update_time"], ["*", "email"]])
def test_bad_update_mask_names_update_mask(mask: list[str]) -> None:
    with pytest.raises(InvalidArgument) as exc:
        leads.update_paths(mask, pb.Lead())
    assert [v.field for v in exc.value.violations] == ["update_mask"]
    assert exc.value.reason == "INVALID_UPDATE_MASK"


def test_import_key_is_stable_and_tells_people_apart() -> None:
    ana = LeadFields(first_name="Ana", email="ana@example.com")
    assert leads.import_key("loc", ana) == leads.import_key("loc", dataclasses.replace(ana, first_name="ANA"))
    assert leads.import_key("loc", ana) != leads.import_key("loc", dataclasses.replace(ana, email="b@x.io"))
    assert leads.import_key("loc", ana) != leads.import_key("other", ana)


def test_behavior_type_is_the_lower_case_name() -> None:
    assert leads.behavior_type(pb.EVENT_TYPE_LISTING_VIEW) == "listing_view"
    assert leads.behavior_type(pb.EVENT_TYPE_SMS_REPLY) == "sms_reply"


def test_event_defaults_and_request_id_fallback() -> None:
    lead_id = "2f1c2b4e-2d9a-4c55-9a57-0d6f7f6f0a11"
    event = pb.LeadEvent(lead_id=lead_id, location_id="loc", type=pb.EVENT_TYPE_CALL)
    parsed = leads.event_from_proto(event, request_id="req-1", now=NOW)
    assert (parsed.event_id, parsed.occurred_time) == ("req-1", NOW)
    generated = leads.event_from_proto(event, request_id=None, now=NOW)
    assert generated.event_id
    assert generated.event_id != "req-1"


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (pb.LeadEvent(lead_id="2f1c2b4e-2d9a-4c55-9a57-0d6f7f6f0a11", location_id="loc"), "event.type"),
        (
            pb.LeadEvent(lead_id="2f1c2b4e-2d9a-4c55-9a57-0d6f7f6f0a11", location_id="loc", type=99),
            "event.type",
        ),
        (pb.LeadEvent(lead_id="nope", location_id="loc", type=1), "event.lead_id"),
        (pb.LeadEvent(lead_id="2f1c2b4e-2d9a-4c55-9a57-0d6f7f6f0a11", type=1), "event.location_id"),
    ],
)
def test_bad_events_name_the_field(event: pb.LeadEvent, field: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        leads.event_from_proto(event, request_id=None, now=NOW)
    assert [v.field for v in exc.value.violations] == [field]

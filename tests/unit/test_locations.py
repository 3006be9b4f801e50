"""Location profiles without a database: field checks, the update mask, the merge; the
settings they add; and how the coordinator lays a profile over a message request."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadengine.content.v1 import content_service_pb2 as content_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.coordinator.config import Config as CoordinatorConfig
from services.coordinator.journeys.branding import Branding, branded
from services.ingest import locations
from services.ingest.config import Config as IngestConfig
from services.ingest.locations import LocationFields
from shared.config import ConfigError
from shared.errors import InvalidArgument

DB = {"DATABASE_URL": "postgresql://x/y"}


@given(st.lists(st.text(max_size=20), max_size=4))
def test_any_update_mask_is_a_set_of_writable_fields_or_invalid_argument(paths: list[str]) -> None:
    result: frozenset[str] | InvalidArgument
    try:
        result = locations.update_paths(paths, pb.Location(name="x"))
    except InvalidArgument as err:
        result = err
    if isinstance(result, InvalidArgument):
        assert [v.field for v in result.violations] == ["update_mask"]
    else:
        assert result <= locations.WRITABLE


@given(st.lists(st.text(max_size=20), max_size=3))
def test_any_sms_numbers_normalise_or_name_the_bad_one(numbers: list[str]) -> None:
    fields: LocationFields | InvalidArgument
    try:
        fields = locations.from_proto(pb.Location(sms_from_numbers=numbers))
    except InvalidArgument as err:
        fields = err
    if isinstance(fields, InvalidArgument):
        [violation] = fields.violations
        assert violation.field.startswith("location.sms_from_numbers[")
    else:
        assert all(n.startswith("+") for n in fields.sms_from_numbers)
        assert len(set(fields.sms_from_numbers)) == len(fields.sms_from_numbers)


def test_an_empty_mask_writes_the_fields_that_are_set_and_merge_keeps_the_rest() -> None:
    incoming = pb.Location(location_id="loc", brand_name="Casa", sms_from_numbers=["+15125550100"])
    paths = locations.update_paths([], incoming)
    assert paths == {"brand_name", "sms_from_numbers"}
    before = LocationFields(name="HQ", brand_name="Old", postal_address="1 Main St")
    after = locations.merge(before, locations.from_proto(incoming), paths)
    assert after == LocationFields(
        name="HQ", brand_name="Casa", postal_address="1 Main St", sms_from_numbers=("+15125550100",)
    )
    assert locations.update_paths(["location.name"], incoming) == {"name"}
    assert locations.update_paths(["*"], incoming) == locations.WRITABLE


def test_the_attempt_limit_and_the_profile_cache_are_settings() -> None:
    assert IngestConfig.from_env(DB).outbox_max_attempts == 10
    assert IngestConfig.from_env({**DB, "INGEST_OUTBOX_MAX_ATTEMPTS": "3"}).outbox_max_attempts == 3
    with pytest.raises(ConfigError, match="INGEST_OUTBOX_MAX_ATTEMPTS"):
        IngestConfig.from_env({**DB, "INGEST_OUTBOX_MAX_ATTEMPTS": "0"})
    assert CoordinatorConfig.from_env(DB).location_cache_s == 30.0
    with pytest.raises(ConfigError, match="COORDINATOR_LOCATION_CACHE_S"):
        CoordinatorConfig.from_env({**DB, "COORDINATOR_LOCATION_CACHE_S": "-1"})


def test_a_profile_replaces_only_what_it_sets_and_never_the_callers_request() -> None:
    request = content_pb.GenerateMessageRequest(
        location_id="loc", context=content_pb.MessageContext(brand_name="LeadEngine", lead_first_name="Ada")
    )
    both = branded(request, Branding(brand_name="Casa", postal_address="9 Elm St"))
    assert (both.context.brand_name, both.context.postal_address) == ("Casa", "9 Elm St")
    assert both.context.lead_first_name == "Ada"
    assert request.context.brand_name == "LeadEngine"  # a copy: a retry starts from the original
    assert branded(request, Branding()) == request

"""Location profiles through gRPC against real PostgreSQL: GetLocation, UpdateLocation (an
upsert, idempotent on request_id, all-or-nothing), ListLocations (keyset pages)."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
from google.protobuf import field_mask_pb2
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from shared.clients import IngestClient, PeerError, Peers
from tests.journeys import unique_phone
from tests.support import error_reason, field_violations


def new_location() -> str:
    return f"loc-{uuid.uuid4()}"


async def update(
    ingest, location: pb.Location, *paths: str, request_id: str = ""
) -> pb.UpdateLocationResponse:
    return await ingest.UpdateLocation(
        pb.UpdateLocationRequest(
            location=location, update_mask=field_mask_pb2.FieldMask(paths=list(paths)), request_id=request_id
        ),
        timeout=5,
    )


async def get(ingest, location_id: str) -> pb.Location:
    return (await ingest.GetLocation(pb.GetLocationRequest(location_id=location_id), timeout=5)).location


def profile(location_id: str, *numbers: str) -> pb.Location:
    return pb.Location(
        location_id=location_id,
        name="Austin office",
        brand_name="Hill Country Homes",
        time_zone="America/Chicago",
        postal_address="9 Elm St, Austin, TX 78701",
        sms_from_numbers=list(numbers),
        email_from="Team@HillCountry.example.com",
    )


async def test_update_creates_then_updates_and_get_reads_it_back(ingest) -> None:
    loc, number = new_location(), unique_phone()
    national = f"({number[2:5]}) {number[5:8]}-{number[8:]}"
    created = await update(ingest, profile(loc, national, number))
    assert created.created
    got = await get(ingest, loc)
    assert got == created.location
    assert (got.name, got.brand_name, got.time_zone) == (
        "Austin office",
        "Hill Country Homes",
        "America/Chicago",
    )
    assert list(got.sms_from_numbers) == [number]  # normalised to E.164, the repeat dropped
    assert got.email_from == "team@hillcountry.example.com"
    assert got.HasField("create_time")
    assert got.HasField("update_time")

    # Only the masked field changes; the others stay as they were.
    changed = await update(ingest, pb.Location(location_id=loc, brand_name="Lone Star Realty"), "brand_name")
    assert not changed.created
    assert changed.location.brand_name == "Lone Star Realty"
    assert changed.location.postal_address == got.postal_address
    assert list(changed.location.sms_from_numbers) == [number]
    # No mask: the fields that are set. "*": every writable field, so unset ones are cleared.
    await update(ingest, pb.Location(location_id=loc, name="HQ"))
    assert (await get(ingest, loc)).brand_name == "Lone Star Realty"
    cleared = await update(ingest, pb.Location(location_id=loc, name="HQ"), "*")
    assert (cleared.location.name, cleared.location.brand_name, list(cleared.location.sms_from_numbers)) == (
        "HQ",
        "",
        [],
    )


async def test_a_repeated_request_id_answers_the_first_call_and_changes_nothing(ingest) -> None:
    loc, key = new_location(), str(uuid.uuid4())
    first = await update(ingest, profile(loc), request_id=key)
    again = await update(
        ingest, pb.Location(location_id=loc, brand_name="Other"), "brand_name", request_id=key
    )
    assert again == first
    assert again.created
    assert (await get(ingest, loc)).brand_name == "Hill Country Homes"


@pytest.mark.parametrize(
    ("location", "paths", "field", "reason"),
    [
        (pb.Location(brand_name="x"), (), "location.location_id", "MISSING_FIELD"),
        (
            pb.Location(sms_from_numbers=["+15125550100", "12"]),
            (),
            "location.sms_from_numbers[1]",
            "INVALID_PHONE",
        ),
        (pb.Location(sms_from_numbers=[""]), (), "location.sms_from_numbers[0]", "INVALID_PHONE"),
        (pb.Location(time_zone="Mars/Olympus"), (), "location.time_zone", "INVALID_TIMEZONE"),
        (pb.Location(email_from="not-an-email"), (), "location.email_from", "INVALID_EMAIL"),
        (pb.Location(brand_name="B" * 51), (), "location.brand_name", "FIELD_TOO_LONG"),
        (pb.Location(name="x"), ("colour",), "update_mask", "INVALID_UPDATE_MASK"),
        (pb.Location(name="x"), ("create_time",), "update_mask", "INVALID_UPDATE_MASK"),
        (pb.Location(name="x"), ("*", "name"), "update_mask", "INVALID_UPDATE_MASK"),
    ],
)
async def test_bad_input_names_the_field_and_changes_nothing(ingest, location, paths, field, reason) -> None:
    loc = new_location()
    before = (await update(ingest, profile(loc))).location
    if field != "location.location_id":
        location.location_id = loc
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await update(ingest, location, *paths)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_reason(caught.value) == reason
    assert field_violations(caught.value) == [field]
    assert await get(ingest, loc) == before


async def test_a_number_belongs_to_one_location(ingest) -> None:
    first, second, number, other = new_location(), new_location(), unique_phone(), unique_phone()
    await update(ingest, profile(first, number))
    before = (await update(ingest, profile(second, other))).location
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await update(ingest, pb.Location(location_id=second, name="Taken", sms_from_numbers=[other, number]))
    assert caught.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert error_reason(caught.value) == "SMS_NUMBER_TAKEN"
    assert await get(ingest, second) == before  # nothing changed, not even the name
    # Released by its owner, the number can move.
    await update(ingest, pb.Location(location_id=first), "sms_from_numbers")
    moved = await update(ingest, pb.Location(location_id=second, sms_from_numbers=[number]))
    assert list(moved.location.sms_from_numbers) == [number]


async def test_get_location_not_found_and_the_empty_profile_of_a_lead_only_location(ingest) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get(ingest, new_location())
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_reason(caught.value) == "LOCATION_NOT_FOUND"
    loc = new_location()
    await ingest.UpsertLead(pb.UpsertLeadRequest(lead=pb.Lead(location_id=loc, first_name="Al")), timeout=5)
    got = await get(ingest, loc)
    assert (got.location_id, got.brand_name, list(got.sms_from_numbers)) == (loc, "", [])


async def test_list_locations_pages_newest_first_without_repeats(ingest) -> None:
    mine = [new_location() for _ in range(3)]
    for loc in mine:
        await update(ingest, pb.Location(location_id=loc, name=loc))
    seen: list[pb.Location] = []
    token = ""
    while True:
        page = await ingest.ListLocations(pb.ListLocationsRequest(page_size=2, page_token=token), timeout=5)
        assert len(page.locations) <= 2
        seen.extend(page.locations)
        token = page.next_page_token
        if not token:
            break
    ids = [loc.location_id for loc in seen]
    assert len(ids) == len(set(ids))
    assert set(mine) <= set(ids)
    assert [ids.index(loc) for loc in reversed(mine)] == sorted(ids.index(loc) for loc in mine)
    times = [(loc.create_time.ToDatetime(), loc.location_id) for loc in seen]
    assert times == sorted(times, reverse=True)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await ingest.ListLocations(pb.ListLocationsRequest(page_token="garbage"), timeout=5)
    assert error_reason(caught.value) == "INVALID_PAGE_TOKEN"


async def test_typed_client_reads_and_writes_locations(ingest_addr) -> None:
    peers = Peers({"ingest": ingest_addr})
    try:
        client = IngestClient(peers)
        loc = new_location()
        assert await client.get_location(loc) is None
        written = await client.update_location(
            pb.Location(location_id=loc, brand_name="Casa"), paths=["brand_name"]
        )
        assert written.created
        assert (await client.get_location(loc)) == written.location
        with pytest.raises(PeerError) as caught:
            await client.update_location(pb.Location(location_id=loc, time_zone="Nowhere"))
        assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
        locations, _ = await client.list_locations(page_size=500)
        assert loc in {item.location_id for item in locations}
    finally:
        await peers.close()


async def test_concurrent_claims_of_one_number_leave_it_with_exactly_one_location(ingest) -> None:
    number = unique_phone()
    contenders = [new_location() for _ in range(4)]
    outcomes = await asyncio.gather(
        *(update(ingest, pb.Location(location_id=loc, sms_from_numbers=[number])) for loc in contenders),
        return_exceptions=True,
    )
    won = [loc for loc, o in zip(contenders, outcomes, strict=True) if not isinstance(o, BaseException)]
    lost = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(won) == 1
    assert all(isinstance(o, grpc.aio.AioRpcError) and error_reason(o) == "SMS_NUMBER_TAKEN" for o in lost)
    assert list((await get(ingest, won[0])).sms_from_numbers) == [number]
    for loc in set(contenders) - set(won):  # rolled back whole: not even created
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get(ingest, loc)
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_concurrent_repeats_of_one_request_id_create_once(ingest) -> None:
    loc, key = new_location(), str(uuid.uuid4())
    answers = await asyncio.gather(*(update(ingest, profile(loc), request_id=key) for _ in range(5)))
    assert all(a == answers[0] for a in answers)
    assert answers[0].created

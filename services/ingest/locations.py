"""What a valid location profile is, how an update mask applies and how an update merges. Pure."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest.leads import clean_text
from services.ingest.update_masks import MaskRules
from shared import contact
from shared.errors import AlreadyExists, FieldViolation, InvalidArgument, NotFound

MAX_NAME = 200
# Content names the brand in a 160-character text; it refuses longer brands anyway.
MAX_BRAND = 50
MAX_POSTAL = 300
MAX_SMS_NUMBERS = 50


@dataclass(frozen=True)
class LocationFields:
    """Every writable field of a location, normalised. Identity and times live outside."""

    name: str = ""
    brand_name: str = ""
    time_zone: str = ""
    postal_address: str = ""
    sms_from_numbers: tuple[str, ...] = ()
    email_from: str = ""


WRITABLE = frozenset(f.name for f in dataclasses.fields(LocationFields))
READ_ONLY = frozenset({"location_id", "create_time", "update_time"})
_MASK = MaskRules("Location", WRITABLE, READ_ONLY, "brand_name or sms_from_numbers")


def _numbers(raw: Iterable[str], path: str) -> tuple[str, ...]:
    numbers: list[str] = []
    for index, value in enumerate(raw):
        field = f"{path}[{index}]"
        if not value.strip():
            raise InvalidArgument(
                f"{field} is empty", reason="INVALID_PHONE", violations=[FieldViolation(field, "a number")]
            )
        number = contact.normalize_phone(value, field)
        if number not in numbers:
            numbers.append(number)
    if len(numbers) > MAX_SMS_NUMBERS:
        raise InvalidArgument(
            f"{path} holds {len(numbers)} numbers; the limit is {MAX_SMS_NUMBERS}",
            reason="TOO_MANY_VALUES",
            violations=[FieldViolation(path, f"at most {MAX_SMS_NUMBERS} numbers")],
        )
    return tuple(numbers)


def from_proto(location: pb.Location, prefix: str = "location") -> LocationFields:
    """Every field checked and normalised; InvalidArgument names the first bad one."""
    return LocationFields(
        name=clean_text(location.name, f"{prefix}.name", max_len=MAX_NAME),
        brand_name=clean_text(location.brand_name, f"{prefix}.brand_name", max_len=MAX_BRAND),
        time_zone=contact.check_timezone(location.time_zone, f"{prefix}.time_zone"),
        postal_address=clean_text(location.postal_address, f"{prefix}.postal_address", max_len=MAX_POSTAL),
        sms_from_numbers=_numbers(location.sms_from_numbers, f"{prefix}.sms_from_numbers"),
        email_from=contact.normalize_email(location.email_from, f"{prefix}.email_from"),
    )


def present_fields(location: pb.Location) -> frozenset[str]:
    present = {f.name for f, _ in location.ListFields()} & WRITABLE
    return frozenset(present)


def update_paths(mask_paths: Iterable[str], location: pb.Location) -> frozenset[str]:
    """AIP-134: no mask = the populated fields; "*" = every writable field; else exactly those."""
    return _MASK.paths(mask_paths, present_fields(location))


def merge(existing: LocationFields, incoming: LocationFields, paths: frozenset[str]) -> LocationFields:
    return dataclasses.replace(existing, **{p: getattr(incoming, p) for p in paths})


def location_missing(location_id: str) -> NotFound:
    return NotFound(
        f"location {location_id} is not known; UpdateLocation creates it",
        reason="LOCATION_NOT_FOUND",
        metadata={"location_id": location_id},
    )


def number_taken(number: str, owner: str, numbers: tuple[str, ...]) -> AlreadyExists:
    """An inbound text to a number must name one location, so a number has one owner."""
    index = numbers.index(number)
    field = f"location.sms_from_numbers[{index}]"
    return AlreadyExists(
        f"{field} {number} already belongs to location {owner}; remove it there first",
        reason="SMS_NUMBER_TAKEN",
        metadata={"number": number, "location_id": owner, "field": field},
    )

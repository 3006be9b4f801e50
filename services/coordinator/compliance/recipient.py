"""Where a text's recipient is, as far as the rules are concerned (compliance.md §3). Pure.

Signals, in order: the lead's own IANA zone, the phone's area code, the lead's state,
the lead's ZIP code. The first signal that names a zone gives the zone; a later signal
whose zones do not include it is a conflict, and its zones are added, so the window is
the intersection of both (most restrictive). Every state any signal names applies:
a Florida or Oklahoma area code counts as that state wherever the lead says it lives.
No zone at all: the recipient is unknown, and automated texts are held for review.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.coordinator.compliance import places
from services.coordinator.compliance.gates import ContactFacts


@dataclass(frozen=True)
class Recipient:
    zones: tuple[str, ...]
    states: tuple[str, ...]
    # How each zone and state was found, in words, for the compliance record.
    why: tuple[str, ...]

    @property
    def known(self) -> bool:
        return bool(self.zones)

    @property
    def zone_infos(self) -> tuple[ZoneInfo, ...]:
        return tuple(_zone(z) for z in self.zones)

    def as_record(self) -> dict[str, Any]:
        return {"zones": list(self.zones), "states": list(self.states), "why": list(self.why)}


@cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _valid_zone(name: str) -> bool:
    try:
        _zone(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def resolve(*, timezone: str, phone: str, state: str = "", postal_code: str = "") -> Recipient:
    zones: list[str] = []
    states: list[str] = []
    why: list[str] = []

    def signal(found_zones: tuple[str, ...], what: str) -> None:
        if not zones:
            zones.extend(found_zones)
            why.append(f"zone {', '.join(found_zones)} from {what}")
        elif not set(found_zones) & set(zones):
            zones.extend(z for z in found_zones if z not in zones)
            why.append(f"conflict: {what} says {', '.join(found_zones)}; the windows of all zones apply")

    def place(code: str, what: str) -> None:
        if code and code not in states:
            states.append(code)
            why.append(f"state {code} from {what}")

    zone_name = timezone.strip()
    if zone_name and _valid_zone(zone_name):
        signal((zone_name,), "the lead's time zone")
    elif zone_name:
        why.append(f"the lead's time zone {zone_name!r} is not an IANA zone; ignored")
    by_phone = places.phone_place(phone)
    if by_phone is not None:
        npa = places.area_code(phone)
        place(by_phone[0], f"area code {npa}")
        signal(by_phone[1], f"area code {npa}")
    elif phone:
        why.append(f"area code of {phone[:5]}… places the number in no US state")
    lead_state = state.strip().upper()
    if lead_state in places.STATE_ZONES:
        place(lead_state, "the lead's state")
        signal(places.STATE_ZONES[lead_state], f"the lead's state {lead_state}")
    by_zip = places.zip_state(postal_code)
    if by_zip:
        place(by_zip, f"ZIP {postal_code.strip()[:5]}")
        signal(places.STATE_ZONES[by_zip], f"ZIP {postal_code.strip()[:5]} ({by_zip})")
    if not zones:
        why.append("no zone from any signal: recipient's local time unknown")
    return Recipient(zones=tuple(zones), states=tuple(states), why=tuple(why))


def of(facts: ContactFacts) -> Recipient:
    """The recipient of a lead's texts, from the contact facts the coordinator holds."""
    return resolve(
        timezone=facts.timezone, phone=facts.phone, state=facts.state, postal_code=facts.postal_code
    )

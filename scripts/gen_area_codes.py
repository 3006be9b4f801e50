"""Regenerate services/coordinator/compliance/data/area_codes.csv from libphonenumber's
geocoding and time-zone data (the `phonenumbers` package pinned in pyproject.toml).

    .venv/bin/python scripts/gen_area_codes.py

One row per US area code (NPA) that libphonenumber places in a US state or DC:
npa, state (two letters), zones (IANA, ';'-separated). Run it after upgrading
phonenumbers and commit the result; the coordinator reads only the CSV, so the rules a
send was judged by do not move under a dependency bump unnoticed.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import phonenumbers
from phonenumbers import geocoder
from phonenumbers import timezone as phone_timezone

STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC",
    "Washington D.C.": "DC", "Washington DC": "DC", "Florida": "FL", "Georgia": "GA", "Hawaii": "HI",
    "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY",
    "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA", "Michigan": "MI",
    "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT", "Nebraska": "NE",
    "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY",
    "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR",
    "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD",
    "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA",
    "Washington": "WA", "Washington State": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
}  # fmt: skip
CODES = frozenset(STATES.values())
OUT = Path(__file__).resolve().parent.parent / "services/coordinator/compliance/data/area_codes.csv"


def state_of(description: str) -> str:
    if description in STATES:
        return STATES[description]
    tail = description.rsplit(",", 1)[-1].strip()
    return tail if tail in CODES else ""


def main() -> int:
    rows = []
    for npa in range(200, 1000):
        number = phonenumbers.parse(f"+1{npa}5550100")
        if phonenumbers.region_code_for_number(number) != "US":
            continue
        state = state_of(geocoder.description_for_number(number, "en"))
        zones = sorted(phone_timezone.time_zones_for_number(number))
        if not state or not zones or len(zones) > 4:
            continue
        rows.append((f"{npa}", state, ";".join(zones)))
    with OUT.open("w", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("npa", "state", "zones"))
        writer.writerows(rows)
    print(f"{len(rows)} area codes -> {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

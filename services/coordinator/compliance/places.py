"""Where a US phone number, state or ZIP code places a recipient: tables, read once. Pure.

Area codes come from data/area_codes.csv (generated from libphonenumber by
scripts/gen_area_codes.py). A state's zones are every IANA zone used in some part
of it, so a state alone yields all of them and the intersection of their windows
applies. ZIP codes are placed by their first three digits (the USPS sectional
centre), which never crosses a state line.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import phonenumbers
from phonenumbers import timezone as phone_timezone

_AREA_CODES = Path(__file__).resolve().parent / "data" / "area_codes.csv"

_ET, _CT, _MT, _PT = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"
STATE_ZONES: dict[str, tuple[str, ...]] = {
    "AL": (_CT,), "AK": ("America/Anchorage", "America/Adak"), "AZ": ("America/Phoenix", _MT),
    "AR": (_CT,), "CA": (_PT,), "CO": (_MT,), "CT": (_ET,), "DE": (_ET,), "DC": (_ET,),
    "FL": (_ET, _CT), "GA": (_ET,), "HI": ("Pacific/Honolulu",), "ID": (_MT, _PT),
    "IL": (_CT,), "IN": ("America/Indiana/Indianapolis", _CT), "IA": (_CT,), "KS": (_CT, _MT),
    "KY": (_ET, _CT), "LA": (_CT,), "ME": (_ET,), "MD": (_ET,), "MA": (_ET,), "MI": ("America/Detroit", _CT),
    "MN": (_CT,), "MS": (_CT,), "MO": (_CT,), "MT": (_MT,), "NE": (_CT, _MT), "NV": (_PT, _MT),
    "NH": (_ET,), "NJ": (_ET,), "NM": (_MT,), "NY": (_ET,), "NC": (_ET,), "ND": (_CT, _MT),
    "OH": (_ET,), "OK": (_CT,), "OR": (_PT, "America/Boise"), "PA": (_ET,), "RI": (_ET,), "SC": (_ET,),
    "SD": (_CT, _MT), "TN": (_CT, _ET), "TX": (_CT, _MT), "UT": (_MT,), "VT": (_ET,), "VA": (_ET,),
    "WA": (_PT,), "WV": (_ET,), "WI": (_CT,), "WY": (_MT,),
}  # fmt: skip

# (first ZIP3, last ZIP3, state), USPS sectional centres.
_ZIP3: tuple[tuple[int, int, str], ...] = (
    (5, 5, "NY"), (10, 27, "MA"), (28, 29, "RI"), (30, 38, "NH"), (39, 49, "ME"), (50, 54, "VT"),
    (55, 55, "MA"), (56, 59, "VT"), (60, 69, "CT"), (70, 89, "NJ"), (100, 149, "NY"), (150, 196, "PA"),
    (197, 199, "DE"), (200, 200, "DC"), (201, 201, "VA"), (202, 205, "DC"), (206, 219, "MD"),
    (220, 246, "VA"), (247, 268, "WV"), (270, 289, "NC"), (290, 299, "SC"), (300, 319, "GA"),
    (320, 339, "FL"), (341, 349, "FL"), (350, 369, "AL"), (370, 385, "TN"), (386, 397, "MS"),
    (398, 399, "GA"), (400, 427, "KY"), (430, 459, "OH"), (460, 479, "IN"), (480, 499, "MI"),
    (500, 528, "IA"), (530, 549, "WI"), (550, 567, "MN"), (569, 569, "DC"), (570, 577, "SD"),
    (580, 588, "ND"), (590, 599, "MT"), (600, 629, "IL"), (630, 658, "MO"), (660, 679, "KS"),
    (680, 693, "NE"), (700, 715, "LA"), (716, 729, "AR"), (730, 732, "OK"), (733, 733, "TX"),
    (734, 749, "OK"), (750, 799, "TX"), (800, 816, "CO"), (820, 831, "WY"), (832, 838, "ID"),
    (840, 847, "UT"), (850, 865, "AZ"), (870, 884, "NM"), (885, 885, "TX"), (889, 898, "NV"),
    (900, 961, "CA"), (967, 968, "HI"), (970, 979, "OR"), (980, 994, "WA"), (995, 999, "AK"),
)  # fmt: skip


@cache
def area_codes() -> dict[str, tuple[str, tuple[str, ...]]]:
    """NPA -> (state, zones) for every US area code libphonenumber places in a state."""
    with _AREA_CODES.open(newline="") as f:
        return {row["npa"]: (row["state"], tuple(row["zones"].split(";"))) for row in csv.DictReader(f)}


def area_code(phone_e164: str) -> str:
    """The NPA of a +1 number, or "" for anything else."""
    return phone_e164[2:5] if phone_e164.startswith("+1") and len(phone_e164) == 12 else ""


def phone_place(phone_e164: str) -> tuple[str, tuple[str, ...]] | None:
    """(state, zones) the number's area code places it in; the number's own exchange
    may name a narrower zone (850-432 is Pensacola, Central), so both are kept."""
    found = area_codes().get(area_code(phone_e164))
    if found is None:
        return None
    state, zones = found
    try:
        number = phonenumbers.parse(phone_e164)
    except phonenumbers.NumberParseException:
        return found
    exact = [z for z in phone_timezone.time_zones_for_number(number) if "/" in z]
    if 0 < len(exact) <= len(zones) + 1:
        zones = tuple(dict.fromkeys((*zones, *exact)))
    return state, zones


def zip_state(postal_code: str) -> str:
    """The state of a US ZIP code (5 digits, optionally +4), or "" when it is not one."""
    digits = postal_code.strip()[:5]
    if len(digits) != 5 or not digits.isdigit():
        return ""
    zip3 = int(digits[:3])
    return next((state for lo, hi, state in _ZIP3 if lo <= zip3 <= hi), "")

"""Market facts: how they are read from CSV, when they are fresh, how they are written. Pure: no I/O.

Figures reach a message only from a stored row for the lead's ZIP (else city)
whose as-of date is at most the configured age: an old or missing row means the
message says nothing about the market, never a guess.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, replace
from datetime import date, timedelta

from services.content.writer import ENGLISH, Facts
from shared.errors import FieldViolation, InvalidArgument

ZIP = re.compile(r"^\d{5}$")
CSV_COLUMNS = ("zip", "city", "median_price_usd", "days_on_market", "inventory", "as_of_date")
MAX_ROWS = 10_000


@dataclass(frozen=True)
class MarketFact:
    area_kind: str  # "zip" or "city"
    area: str  # a 5-digit ZIP or a lower-cased city
    median_price_usd: int
    days_on_market: int
    inventory: int
    as_of_date: date


def city_key(city: str) -> str:
    return " ".join(city.lower().split())


def validated(
    index: int, *, zip_code: str, city: str, price: int, dom: int, inventory: int, as_of: str, today: date
) -> MarketFact:
    """One row checked; `index` names it in the error (facts[i])."""
    where = f"facts[{index}]"

    def bad(field: str, why: str) -> InvalidArgument:
        name = f"{where}.{field}"
        return InvalidArgument(f"{name}: {why}", violations=[FieldViolation(name, why)])

    zip_code, city = zip_code.strip(), city_key(city)
    if bool(zip_code) == bool(city):
        raise bad("zip", "give exactly one of zip and city")
    if zip_code and not ZIP.match(zip_code):
        raise bad("zip", "a 5-digit ZIP code")
    if len(city) > 60:
        raise bad("city", "at most 60 characters")
    if not 0 < price <= 1_000_000_000:
        raise bad("median_price_usd", "whole US dollars, above 0")
    if not 0 <= dom <= 3650:
        raise bad("days_on_market", "0..3650")
    if not 0 <= inventory <= 10_000_000:
        raise bad("inventory", "0 or more")
    try:
        day = date.fromisoformat(as_of.strip())
    except ValueError:
        raise bad("as_of_date", "a date, YYYY-MM-DD") from None
    if day > today:
        raise bad("as_of_date", "not in the future")
    return MarketFact("zip" if zip_code else "city", zip_code or city, price, dom, inventory, day)


def parse_csv(text: str) -> list[dict[str, str]]:
    """Rows of a market CSV (header: CSV_COLUMNS, zip or city may be blank), as text."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(f"the CSV header lacks {', '.join(missing)}; expected {','.join(CSV_COLUMNS)}")
    rows = [{k: (v or "").strip() for k, v in row.items() if k in CSV_COLUMNS} for row in reader]
    if len(rows) > MAX_ROWS:
        raise ValueError(f"{len(rows)} rows; import at most {MAX_ROWS} at a time")
    return rows


def fresh(fact: MarketFact | None, today: date, max_age_days: int) -> bool:
    return fact is not None and today - fact.as_of_date <= timedelta(days=max_age_days)


def with_market(facts: Facts, fact: MarketFact | None, today: date, max_age_days: int) -> Facts:
    if fact is None or not fresh(fact, today, max_age_days):
        return facts
    return replace(
        facts,
        market_area=fact.area if fact.area_kind == "zip" else facts.city,
        market_median_price_usd=fact.median_price_usd,
        market_days_on_market=fact.days_on_market,
        market_inventory=fact.inventory,
        market_as_of=fact.as_of_date.isoformat(),
    )


_MONTHS = {
    ENGLISH: "January February March April May June July August September October November December",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
}


def price_text(usd: int, language: str) -> str:
    grouped = f"{usd:,}"
    return f"${grouped}" if language == ENGLISH else f"${grouped.replace(',', '.')}"


def as_of_text(iso: str, language: str) -> str:
    day = date.fromisoformat(iso)
    month = _MONTHS.get(language, _MONTHS[ENGLISH]).split()[day.month - 1]
    return f"{month} {day.year}" if language == ENGLISH else f"{month} de {day.year}"

"""What an agent is made of when a caller writes one, and how a missing one is reported. Pure."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from shared import contact, inputs
from shared.errors import FieldViolation, InvalidArgument, NotFound

SPECIALTIES = frozenset({"buyer", "seller", "luxury", "rental", "commercial", "investor", "relocation"})
MAX_LIST = 200
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True)
class Window:
    """One weekly working window, minutes from midnight in the agent's zone; end may be 1440."""

    day_of_week: int  # 1 = Monday ... 7 = Sunday
    start_minute: int
    end_minute: int


@dataclass(frozen=True)
class AgentFields:
    location_id: str
    external_user_id: str | None
    name: str
    email: str
    phone: str
    timezone: str
    capacity: int
    available: bool
    languages: tuple[str, ...] = ()
    specialties: tuple[str, ...] = ()
    territories: tuple[str, ...] = ()
    min_price_usd: int = 0
    max_price_usd: int = 0
    working_hours: tuple[Window, ...] = ()
    team_id: str = ""
    team_lead: bool = False
    notify_channel: int = 0


def _invalid(field: str, message: str, expected: str) -> InvalidArgument:
    return InvalidArgument(message, reason="INVALID_AGENT", violations=[FieldViolation(field, expected)])


def language_tag(raw: str) -> str:
    """The lower-cased primary subtag of a BCP 47 tag ("es-MX" -> "es"); "" when it is not one."""
    primary = raw.strip().lower().replace("_", "-").split("-", 1)[0]
    return primary if _LANGUAGE.match(primary) else ""


def territory_key(raw: str) -> str:
    """Postal codes and city names compare case- and space-insensitively."""
    return " ".join(raw.lower().split())


def _languages(raw: Iterable[str]) -> tuple[str, ...]:
    result: list[str] = []
    for i, value in enumerate(raw):
        tag = language_tag(value)
        if not tag:
            raise _invalid(f"agent.languages[{i}]", f"{value[:20]!r} is not a language tag", "e.g. en, es")
        if tag not in result:
            result.append(tag)
    return tuple(result)


def _specialties(raw: Iterable[str]) -> tuple[str, ...]:
    result: list[str] = []
    for i, value in enumerate(raw):
        key = value.strip().lower()
        if key not in SPECIALTIES:
            raise _invalid(
                f"agent.specialties[{i}]",
                f"{value[:20]!r} is not a specialty",
                ", ".join(sorted(SPECIALTIES)),
            )
        if key not in result:
            result.append(key)
    return tuple(result)


def _territories(raw: Iterable[str]) -> tuple[str, ...]:
    result = [territory_key(v) for v in raw]
    return tuple(dict.fromkeys(t for t in result if t))


def _minute(raw: str, field: str) -> int:
    if not _HHMM.match(raw.strip()):
        raise _invalid(field, f"{field} {raw[:10]!r} is not HH:MM", '"HH:MM", 00:00 to 24:00')
    hours, minutes = raw.strip().split(":")
    return int(hours) * 60 + int(minutes)


def window(day_of_week: int, start_time: str, end_time: str, index: int) -> Window:
    field = f"agent.working_hours[{index}]"
    if not 1 <= day_of_week <= 7:
        raise _invalid(f"{field}.day_of_week", f"day_of_week {day_of_week} is not 1..7", "1 = Monday .. 7")
    start = _minute(start_time, f"{field}.start_time")
    end = _minute(end_time, f"{field}.end_time")
    if start >= 1440 or end <= start:
        raise _invalid(f"{field}.end_time", f"{field} ends before it starts", "end_time after start_time")
    return Window(day_of_week, start, end)


def agent_fields(
    *,
    location_id: str,
    external_user_id: str,
    name: str,
    email: str,
    phone: str,
    timezone: str,
    capacity: int,
    available: bool,
    languages: Iterable[str] = (),
    specialties: Iterable[str] = (),
    territories: Iterable[str] = (),
    min_price_usd: int = 0,
    max_price_usd: int = 0,
    working_hours: Iterable[Window] = (),
    team_id: str = "",
    team_lead: bool = False,
    notify_channel: int = 0,
) -> AgentFields:
    """A caller's agent, checked and normalised; field names are those of UpsertAgentRequest."""
    if capacity < 0:
        raise InvalidArgument(
            "agent.capacity must not be negative",
            violations=[FieldViolation("agent.capacity", "0 (default) or more")],
        )
    for field, value in (("agent.min_price_usd", min_price_usd), ("agent.max_price_usd", max_price_usd)):
        if value < 0:
            raise _invalid(field, f"{field} must not be negative", "0 (no bound) or more")
    if min_price_usd and max_price_usd and max_price_usd < min_price_usd:
        raise _invalid("agent.max_price_usd", "max_price_usd is below min_price_usd", ">= min_price_usd")
    lists = {"languages": list(languages), "specialties": list(specialties), "territories": list(territories)}
    for key, values in lists.items():
        if len(values) > MAX_LIST:
            raise _invalid(f"agent.{key}", f"agent.{key} has {len(values)} entries", f"at most {MAX_LIST}")
    phone = contact.normalize_phone(phone, "agent.phone")
    email = contact.normalize_email(email, "agent.email")
    _check_notify_channel(notify_channel, phone=phone, email=email)
    return AgentFields(
        location_id=inputs.require_text(location_id, "agent.location_id"),
        external_user_id=external_user_id.strip() or None,
        name=inputs.require_text(name, "agent.name"),
        email=email,
        phone=phone,
        timezone=contact.check_timezone(timezone, "agent.timezone"),
        capacity=capacity,
        available=available,
        languages=_languages(lists["languages"]),
        specialties=_specialties(lists["specialties"]),
        territories=_territories(lists["territories"]),
        min_price_usd=min_price_usd,
        max_price_usd=max_price_usd,
        working_hours=tuple(working_hours),
        team_id=team_id.strip(),
        team_lead=team_lead,
        notify_channel=notify_channel,
    )


# AgentNotifyChannel: UNSPECIFIED, SMS, EMAIL, NONE.
NOTIFY_DEFAULT, NOTIFY_SMS, NOTIFY_EMAIL, NOTIFY_NONE = 0, 1, 2, 3


def _check_notify_channel(channel: int, *, phone: str, email: str) -> None:
    # A preference nothing can honour would silently drop every notification: refuse it.
    if channel not in (NOTIFY_DEFAULT, NOTIFY_SMS, NOTIFY_EMAIL, NOTIFY_NONE):
        raise _invalid("agent.notify_channel", f"notify_channel {channel} is unknown", "SMS, EMAIL or NONE")
    if channel == NOTIFY_SMS and not phone:
        raise _invalid("agent.notify_channel", "notify_channel SMS needs agent.phone", "a phone, or EMAIL")
    if channel == NOTIFY_EMAIL and not email:
        raise _invalid("agent.notify_channel", "notify_channel EMAIL needs agent.email", "an email, or SMS")


def agent_missing(agent_id: uuid.UUID) -> NotFound:
    # The same answer for an agent of another location: never confirm another tenant's ids.
    return NotFound(
        f"agent {agent_id} does not exist in this location; list agents with ListAgents",
        reason="AGENT_NOT_FOUND",
        metadata={"agent_id": str(agent_id)},
    )

"""Time-of-day rules for automated texts, per US state, as data (compliance.md §2). Pure.

A text may go out at an instant only when every rule that might apply allows it in
every time zone the recipient might be in (compliance.md §3.4: the intersection). The
federal rule always applies; a state's rule applies when any signal places the
recipient there. The configured quiet hours are one more rule, so they can only
narrow the legal window.

Sources are the compliance-vendor tables and law-firm summaries cited in
compliance.md §2 (tag [S]); where they disagree the narrower reading is used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from services.coordinator.compliance.gates import first_instant_at_or_after

# Bump when any rule below changes: every compliance record names the version it used.
RULES_VERSION = "2026-11-27.2"  # .2: AL, LA and RI state holidays


@dataclass(frozen=True)
class Hours:
    """[start, end) on the local wall clock, within one day."""

    start: time
    end: time

    def contains(self, wall: time) -> bool:
        return self.start <= wall < self.end


@dataclass(frozen=True, eq=False)  # identity: rules are table entries, hashed on every evaluation
class TimeRule:
    key: str  # "US" for the federal rule, the state's code, or "config"
    name: str
    # Monday..Sunday; None = no automated texts that day.
    days: tuple[Hours | None, ...]
    source: str
    no_holidays: bool = False
    # Automated texts per rolling 24 h to one phone number, across every lead and
    # location (FL, OK, MD: at most 3 on the same subject; we count every subject).
    cap_24h: int | None = None

    def hours_on(self, day: date) -> Hours | None:
        if self.no_holidays and (day in holidays(day.year) or day in state_holidays(self.key, day.year)):
            return None
        return self.days[day.weekday()]

    def allows(self, local: datetime) -> bool:
        hours = self.hours_on(local.date())
        return hours is not None and hours.contains(local.time())

    def describe(self) -> str:
        return f"{self.name}: {_days_words(self.days)}{'; not on holidays' if self.no_holidays else ''}"


def _every_day(start: int, end: int) -> tuple[Hours | None, ...]:
    return (Hours(time(start), time(end)),) * 7


def _no_sunday(start: int, end: int) -> tuple[Hours | None, ...]:
    return (Hours(time(start), time(end)),) * 6 + (None,)


_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _days_words(days: tuple[Hours | None, ...]) -> str:
    parts: list[str] = []
    for i, hours in enumerate(days):
        words = f"{hours.start:%H:%M}-{hours.end:%H:%M}" if hours else "none"
        if parts and parts[-1].endswith(f" {words}"):
            first = parts[-1].split(" ", 1)[0].split("-")[0]
            parts[-1] = f"{first}-{_DAY_NAMES[i]} {words}"
        else:
            parts.append(f"{_DAY_NAMES[i]} {words}")
    return ", ".join(parts)


FEDERAL = TimeRule("US", "federal (47 CFR 64.1200(c)(1))", _every_day(8, 21), "47 CFR 64.1200(c)(1) [V]")

_TABLE = "compliance.md §2 (Drop Cowboy 2025-11-01, ClickPoint 2025-07) [S]"
STATE_RULES: dict[str, TimeRule] = {
    r.key: r
    for r in (
        TimeRule("FL", "Florida (FTSA)", _every_day(8, 20), "Fla. Stat. 501.059, 501.616 [S]", cap_24h=3),
        TimeRule(
            "OK",
            "Oklahoma (OTSA 2022)",
            _every_day(8, 20),
            "Oklahoma Telephone Solicitation Act [S]",
            cap_24h=3,
        ),
        TimeRule(
            "MD",
            "Maryland (Stop the Spam Calls Act)",
            _every_day(8, 20),
            "Md. Stop the Spam Calls Act 2023 [S]",
            cap_24h=3,
        ),
        TimeRule(
            "TX",
            "Texas (SB 140)",
            (Hours(time(9), time(21)),) * 6 + (Hours(time(12), time(21)),),
            "Texas SB 140 (2025) [S]",
        ),
        TimeRule("VA", "Virginia (VTPPA)", _every_day(8, 21), "Va. Code 59.1-510 ff. [S]"),
        TimeRule("WA", "Washington", _every_day(8, 20), "RCW 80.36.390 [S]"),
        # One table says 09:00-21:00; the narrower reading of the 2023 amendment is used.
        TimeRule("CT", "Connecticut", _every_day(9, 20), _TABLE),
        TimeRule("AL", "Alabama", _no_sunday(8, 20), _TABLE, no_holidays=True),
        TimeRule("LA", "Louisiana", _no_sunday(8, 20), _TABLE, no_holidays=True),
        TimeRule("MS", "Mississippi", _no_sunday(8, 20), _TABLE),
        TimeRule("KY", "Kentucky", _every_day(10, 21), _TABLE),
        TimeRule("MI", "Michigan", _every_day(9, 21), _TABLE),
        TimeRule("MN", "Minnesota", _every_day(9, 21), _TABLE),
        TimeRule("NM", "New Mexico", _every_day(9, 21), _TABLE),
        TimeRule("MA", "Massachusetts", _every_day(8, 20), _TABLE),
        TimeRule("NV", "Nevada", _every_day(9, 20), _TABLE),
        # [U] in the tables ("shorter Saturday"): 10:00-17:00 is our narrow guess.
        TimeRule(
            "RI",
            "Rhode Island",
            (Hours(time(9), time(18)),) * 5 + (Hours(time(10), time(17)), None),
            _TABLE + " [U]",
            no_holidays=True,
        ),
    )
}


def configured(window_start: time, window_end: time) -> TimeRule:
    """The operator's quiet hours as a rule (only ever narrower than FEDERAL; see config)."""
    return TimeRule(
        "config",
        "configured quiet hours",
        (Hours(window_start, window_end),) * 7,
        "COORDINATOR_QUIET_START / COORDINATOR_QUIET_END",
    )


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = (date(year, month + 1, 1) if month < 12 else date(year + 1, 1, 1)) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


@cache
def holidays(year: int) -> frozenset[date]:
    """Federal holidays the no-holiday states also keep, on the day itself and the
    weekday it is observed on; their own extra ones are in state_holidays."""
    fixed = [date(year, 1, 1), date(year, 6, 19), date(year, 7, 4), date(year, 11, 11), date(year, 12, 25)]
    observed = [
        d - timedelta(days=1) if d.weekday() == 5 else d + timedelta(days=1)
        for d in fixed
        if d.weekday() >= 5
    ]
    return frozenset(
        fixed
        + observed
        + [
            _nth_weekday(year, 1, 0, 3),  # Martin Luther King Jr. Day
            _nth_weekday(year, 2, 0, 3),  # Washington's Birthday
            _last_weekday(year, 5, 0),  # Memorial Day
            _nth_weekday(year, 9, 0, 1),  # Labor Day
            _nth_weekday(year, 10, 0, 2),  # Columbus Day
            _nth_weekday(year, 11, 3, 4),  # Thanksgiving
        ]
    )


def _easter(year: int) -> date:
    """Western Easter Sunday (the anonymous Gregorian computus)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    weekday_shift = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 19 * weekday_shift) // 433
    month = (h + weekday_shift - 7 * m + 90) // 25
    return date(year, month, (h + weekday_shift - 7 * m + 33 * month + 19) % 32)


@cache
def state_holidays(state: str, year: int) -> frozenset[date]:
    """The no-holiday states' own legal holidays beyond the federal ones. Where a holiday is
    kept only in some parishes or counties (Mardi Gras), it counts everywhere in the state:
    the narrower reading."""
    if state == "AL":  # Ala. Code 1-3-8
        return frozenset(
            {
                _nth_weekday(year, 4, 0, 4),  # Confederate Memorial Day
                _nth_weekday(year, 6, 0, 1),  # Jefferson Davis' birthday
            }
        )
    if state == "LA":  # La. R.S. 1:55
        easter = _easter(year)
        return frozenset({easter - timedelta(days=47), easter - timedelta(days=2)})  # Mardi Gras, Good Friday
    if state == "RI":  # R.I. Gen. Laws 25-1-1
        return frozenset({_nth_weekday(year, 8, 0, 2)})  # Victory Day
    return frozenset()


def rules_for(states: Iterable[str], window: TimeRule | None) -> tuple[TimeRule, ...]:
    return _rules_for(tuple(sorted(set(states))), window)


@cache
def _rules_for(states: tuple[str, ...], window: TimeRule | None) -> tuple[TimeRule, ...]:
    found = [FEDERAL, *(STATE_RULES[s] for s in states if s in STATE_RULES)]
    if window is not None:
        found.append(window)
    return tuple(found)


def allowed(instant: datetime, zones: Sequence[ZoneInfo], rules: Sequence[TimeRule]) -> bool:
    for zone in zones:
        local = instant.astimezone(zone)
        for rule in rules:
            if not rule.allows(local):
                return False
    return True


def first_refusal(
    instant: datetime, zones: Sequence[ZoneInfo], rules: Sequence[TimeRule]
) -> tuple[TimeRule, ZoneInfo] | None:
    """The rule (and zone) that refuses `instant`, or None when all allow it."""
    for zone in zones:
        local = instant.astimezone(zone)
        for rule in rules:
            if not rule.allows(local):
                return rule, zone
    return None


# Far enough for any rule table (AL/LA lose Sundays and holidays: at most 3 days in a row).
_HORIZON_DAYS = 10


def next_opening(now: datetime, zones: Sequence[ZoneInfo], rules: Sequence[TimeRule]) -> datetime | None:
    """`now` when every rule allows it, else the first later instant all do; None when
    there is none within the horizon. The answer is always some rule's opening in some
    zone (an intersection of windows opens when its last member opens), so only those
    instants are tried, day by day, each day's with the next day's (zones differ by
    hours, so day d in one zone can open after day d+1 in another)."""
    if allowed(now, zones, rules):
        return now
    base = now.astimezone(zones[0]).date()
    tried: set[datetime] = set()
    for offset in range(-1, _HORIZON_DAYS):
        pool: set[datetime] = set()
        for k in (offset, offset + 1):
            day = base + timedelta(days=k)
            for zone in zones:
                for rule in rules:
                    hours = rule.hours_on(day)
                    if hours is not None:
                        pool.add(first_instant_at_or_after(day, hours.start, zone))
        for candidate in sorted(pool - tried):
            if candidate > now and allowed(candidate, zones, rules):
                return candidate.astimezone(UTC)
        tried |= pool
    return None

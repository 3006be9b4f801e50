"""Campaign rules, purely: enrolment times spread inside each lead's window and day,
who is excluded from an audience, and what a valid campaign is."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb

from services.coordinator.campaigns import campaign as rules
from services.coordinator.campaigns.campaign import SendWindow, Standing
from services.coordinator.journeys import cadence
from shared.errors import InvalidArgument

# hypothesis takes naive bounds and attaches the zone itself.
FIRST, LAST = datetime(2026, 1, 1), datetime(2027, 12, 31)  # noqa: DTZ001
WINDOW = SendWindow(start=time(8, 0), end=time(21, 0))
ZONES = ["America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "Europe/Paris", "Australia/Sydney"]


@given(
    start=st.datetimes(min_value=FIRST, max_value=LAST, timezones=st.just(UTC)),
    position=st.integers(min_value=0, max_value=50_000),
    limit=st.integers(min_value=1, max_value=5_000),
    zone=st.sampled_from(ZONES),
)
def test_each_member_is_due_on_its_day_inside_its_window(
    start: datetime, position: int, limit: int, zone: str
) -> None:
    due = rules.due_time(start, position, limit, ZoneInfo(zone), WINDOW)
    day = position // limit
    # A DST change can move a wall time by an hour across the day's end.
    assert start + timedelta(days=day) <= due < start + timedelta(days=day + 1, hours=1)
    assert WINDOW.contains(due.astimezone(ZoneInfo(zone)).time())


def test_a_day_of_members_spreads_through_the_window_in_order() -> None:
    start = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # 01:00 in New York
    zone = ZoneInfo("America/New_York")
    times = [rules.due_time(start, p, 4, zone, WINDOW) for p in range(4)]
    assert times == sorted(times)
    local = [t.astimezone(zone).time() for t in times]
    assert local[0] > time(8, 0)
    assert local[-1] < time(21, 0)
    assert times[-1] - times[0] > timedelta(hours=9)  # not bunched at the opening


def test_a_lead_without_a_zone_is_spread_over_the_whole_day() -> None:
    start = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    assert rules.due_time(start, 5, 10, None, WINDOW) == start + timedelta(hours=13, minutes=12)


def test_day_start_counts_whole_days_from_the_campaign_start() -> None:
    start = datetime(2026, 3, 2, 6, 30, tzinfo=UTC)
    assert rules.day_start(start, start + timedelta(days=2, hours=23)) == start + timedelta(days=2)
    assert rules.day_start(start, start - timedelta(hours=1)) == start


@pytest.mark.parametrize(
    ("lead", "standing", "score", "why"),
    [
        (ingest_pb.Lead(), Standing(), None, ""),
        (ingest_pb.Lead(sms_dnd=True), Standing(), None, rules.CRM_DND),
        (ingest_pb.Lead(), Standing(opted_out=True, in_journey=True), None, rules.OPTED_OUT),
        (ingest_pb.Lead(), Standing(suppressed=True), None, rules.SUPPRESSED),
        (ingest_pb.Lead(), Standing(in_journey=True), None, rules.IN_JOURNEY),
        (ingest_pb.Lead(), Standing(in_campaign=True), None, rules.IN_CAMPAIGN),
        (ingest_pb.Lead(), Standing(), 61.0, rules.SCORE_ABOVE),
        (ingest_pb.Lead(), Standing(), 60.0, ""),
    ],
)
def test_exclusion(lead: ingest_pb.Lead, standing: Standing, score: float | None, why: str) -> None:
    assert rules.exclusion(lead, standing, score, 60.0) == why


def test_a_deleted_lead_is_excluded_whatever_else() -> None:
    lead = ingest_pb.Lead()
    lead.delete_time.GetCurrentTime()
    assert rules.exclusion(lead, Standing(), None, 0) == rules.DELETED


@pytest.mark.parametrize(
    ("campaign", "field"),
    [
        (pb.Campaign(name="x", daily_limit=1), "campaign.location_id"),
        (pb.Campaign(location_id="l", name="x", daily_limit=100_001), "campaign.daily_limit"),
        (
            pb.Campaign(
                location_id="l", name="x", daily_limit=1, audience=pb.CampaignAudience(min_days_inactive=-1)
            ),
            "campaign.audience.min_days_inactive",
        ),
        (
            pb.Campaign(location_id="l", name="x", daily_limit=1, audience=pb.CampaignAudience(sources=[99])),  # type: ignore[list-item]
            "campaign.audience.sources",
        ),
    ],
)
def test_invalid_campaigns_name_the_field(campaign: pb.Campaign, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        rules.validated(campaign, campaign_id=rules.campaign_id_for("l", "r"), cadence_id=None)
    assert [v.field for v in err.value.violations] == [field]


def test_tags_are_normalised_and_recovery_steps_are_valid() -> None:
    c = rules.validated(
        pb.Campaign(
            location_id=" l ",
            name=" Spring   push ",
            daily_limit=5,
            audience=pb.CampaignAudience(tags=["Past Client", "past  client", " "]),
        ),
        campaign_id=rules.campaign_id_for("l", "r"),
        cadence_id=None,
    )
    assert c.location_id == "l"
    assert c.name == "Spring push"
    assert c.audience.tags == ("past client",)
    cadence.validate(rules.RECOVERY_STEPS, "l")

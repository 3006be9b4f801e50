"""Outbox relay rules that need no database: backoff and the envelope it sends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadengine.common.v1 import common_pb2 as common_pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from services.ingest.config import Config
from services.ingest.outbox import envelope
from services.ingest.repository.outbox import OutboxRow
from shared.config import ConfigError
from shared.outbox import retry_delay


@given(st.integers(min_value=1, max_value=10_000))
def test_backoff_grows_and_is_capped(attempts: int) -> None:
    now = retry_delay(attempts, base_s=0.5, max_s=60.0)
    nxt = retry_delay(attempts + 1, base_s=0.5, max_s=60.0)
    assert 0.5 <= now <= nxt <= 60.0


def test_backoff_doubles_from_the_base() -> None:
    assert [retry_delay(n, base_s=0.5, max_s=60.0) for n in range(1, 10)] == [
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        32.0,
        60.0,
        60.0,
    ]


NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def outbox_row(kind: int, lead_id: uuid.UUID | None, **changes: object) -> OutboxRow:
    values: dict[str, object] = {
        "id": 1,
        "event_id": uuid.uuid4(),
        "kind": kind,
        "lead_id": lead_id,
        "location_id": "loc",
        "occurred_time": NOW,
        "behavior_type": "",
        "payload": b"",
        "attempts": 0,
    }
    return OutboxRow(**{**values, **changes})  # type: ignore[arg-type]


def test_envelope_carries_the_row() -> None:
    lead_id = uuid.uuid4()
    row = outbox_row(
        coordinator_pb.LEAD_EVENT_KIND_BEHAVIOR,
        lead_id,
        occurred_time=datetime(2025, 5, 1, 9, 30, tzinfo=UTC),
        behavior_type="listing_view",
    )
    event_id = row.event_id
    env = envelope(row)
    assert (env.event_id, env.lead_id, env.location_id, env.behavior_type) == (
        str(event_id),
        str(lead_id),
        "loc",
        "listing_view",
    )
    assert env.kind == coordinator_pb.LEAD_EVENT_KIND_BEHAVIOR
    assert env.occurred_time.ToDatetime(tzinfo=UTC) == row.occurred_time
    assert not env.HasField("lead")


def test_relay_envelope_merges_the_facts_and_allows_no_lead() -> None:
    facts = coordinator_pb.LeadEventEnvelope(
        suppression=coordinator_pb.SuppressionFacts(channel=common_pb.CHANNEL_EMAIL, address="a@example.com"),
        lead_id="forged",  # the row's own columns always win over what the payload holds
    )
    row = outbox_row(
        coordinator_pb.LEAD_EVENT_KIND_SUPPRESSION, None, location_id="", payload=facts.SerializeToString()
    )
    env = envelope(row)
    assert (env.event_id, env.lead_id, env.kind) == (
        str(row.event_id),
        "",
        coordinator_pb.LEAD_EVENT_KIND_SUPPRESSION,
    )
    assert env.suppression.address == "a@example.com"


def test_envelope_carries_the_lead_snapshot_when_the_row_has_one() -> None:
    lead_id = uuid.uuid4()
    snapshot = pb.Lead(lead_id=str(lead_id), location_id="loc", first_name="Ada")
    facts = coordinator_pb.LeadEventEnvelope(lead=snapshot)
    row = outbox_row(coordinator_pb.LEAD_EVENT_KIND_LEAD_CREATED, lead_id, payload=facts.SerializeToString())
    assert envelope(row).lead == snapshot
    # A row written before snapshots existed still relays, without one.
    assert not envelope(outbox_row(coordinator_pb.LEAD_EVENT_KIND_LEAD_CREATED, lead_id)).HasField("lead")


def test_config_reads_outbox_settings() -> None:
    env = {"DATABASE_URL": "postgresql://x/y", "INGEST_OUTBOX_BATCH": "7", "INGEST_OUTBOX_POLL_S": "0.25"}
    cfg = Config.from_env(env)
    assert (cfg.outbox_batch, cfg.outbox_poll_s, cfg.import_batch) == (7, 0.25, 5000)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INGEST_OUTBOX_BATCH": "0"}, "INGEST_OUTBOX_BATCH"),
        ({"INGEST_OUTBOX_LEASE_S": "2", "INGEST_OUTBOX_CALL_TIMEOUT_S": "5"}, "INGEST_OUTBOX_LEASE_S"),
    ],
)
def test_bad_outbox_config_names_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config.from_env({"DATABASE_URL": "postgresql://x/y", **env})

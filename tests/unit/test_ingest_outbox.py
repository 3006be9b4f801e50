"""Outbox relay rules that need no database: backoff and the envelope it sends."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb

from services.ingest.config import Config
from services.ingest.outbox import envelope, retry_delay
from shared.config import ConfigError


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


def test_envelope_carries_the_row() -> None:
    event_id, lead_id = uuid.uuid4(), uuid.uuid4()
    row = {
        "event_id": event_id,
        "kind": coordinator_pb.LEAD_EVENT_KIND_BEHAVIOR,
        "lead_id": lead_id,
        "location_id": "loc",
        "occurred_time": datetime(2025, 5, 1, 9, 30, tzinfo=UTC),
        "behavior_type": "listing_view",
    }
    env = envelope(row)
    assert (env.event_id, env.lead_id, env.location_id, env.behavior_type) == (
        str(event_id),
        str(lead_id),
        "loc",
        "listing_view",
    )
    assert env.kind == coordinator_pb.LEAD_EVENT_KIND_BEHAVIOR
    assert env.occurred_time.ToDatetime(tzinfo=UTC) == row["occurred_time"]


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

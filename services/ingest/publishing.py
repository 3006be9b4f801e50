"""What ingest tells the coordinator, written to the outbox inside the caller's transaction.

The relay (outbox.py) turns each row back into a LeadEventEnvelope: identity
comes from the row's columns, everything else (message, delivery or suppression
facts, and the lead snapshot of LEAD_CREATED / LEAD_UPDATED) from its payload.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb

from services.ingest import leads
from services.ingest.conversions import lead_to_proto
from services.ingest.repository import outbox
from services.ingest.repository.leads import StoredLead
from shared.db import Conn

KIND_CREATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_CREATED
KIND_UPDATED = coordinator_pb.LEAD_EVENT_KIND_LEAD_UPDATED
KIND_DELETED = coordinator_pb.LEAD_EVENT_KIND_LEAD_DELETED
KIND_BEHAVIOR = coordinator_pb.LEAD_EVENT_KIND_BEHAVIOR
KIND_INBOUND = coordinator_pb.LEAD_EVENT_KIND_INBOUND_MESSAGE
KIND_OUTBOUND = coordinator_pb.LEAD_EVENT_KIND_OUTBOUND_MESSAGE
KIND_DELIVERY = coordinator_pb.LEAD_EVENT_KIND_DELIVERY_STATUS
KIND_SUPPRESSION = coordinator_pb.LEAD_EVENT_KIND_SUPPRESSION
KIND_APP_UNINSTALLED = coordinator_pb.LEAD_EVENT_KIND_APP_UNINSTALLED


async def publish(
    conn: Conn,
    kind: int,
    lead_id: uuid.UUID | None,
    location_id: str,
    occurred: datetime,
    *,
    behavior_type: str = "",
    facts: coordinator_pb.LeadEventEnvelope | None = None,
) -> None:
    """Queue one envelope for the coordinator. `facts` holds the envelope's parts beyond its
    identity; the relay merges them into the envelope it builds from the row."""
    payload = facts.SerializeToString() if facts is not None else b""
    await outbox.insert(conn, kind, lead_id, location_id, occurred, behavior_type, payload)


async def publish_lead_change(conn: Conn, kind: int, lead: StoredLead) -> None:
    """LEAD_CREATED / LEAD_UPDATED with the lead as this transaction wrote it: the same Lead
    GetLead answers once it commits, so the coordinator need not read it back."""
    await publish(
        conn,
        kind,
        lead.lead_id,
        lead.location_id,
        lead.update_time,
        facts=coordinator_pb.LeadEventEnvelope(lead=lead_to_proto(lead)),
    )


async def publish_dnd(conn: Conn, before: StoredLead | None, after: StoredLead) -> None:
    """A do-not-disturb mark that just turned on suppresses its channel. Queued ahead of the
    lead's CREATED/UPDATED row, so the coordinator never sends a first touch before it."""
    for channel, address in leads.dnd_turned_on(before.fields if before else None, after.fields):
        await publish(
            conn,
            KIND_SUPPRESSION,
            after.lead_id,
            after.location_id,
            after.update_time,
            facts=coordinator_pb.LeadEventEnvelope(
                suppression=coordinator_pb.SuppressionFacts(
                    channel=channel,
                    address=address,
                    reason=leads.DND_REASON,
                )
            ),
        )

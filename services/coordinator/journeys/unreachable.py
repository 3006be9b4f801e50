"""Stopping journeys at the moment their lead becomes unreachable.

An opt-out or suppression that takes away a lead's last lawful channel ends its
journey in the same transaction that revokes the channel: nothing waits for the next
step to be scheduled to notice. A suppression is by address, so every lead with that
address is checked (revoke-all), not only the one who opted out.
"""

from __future__ import annotations

import uuid

from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from shared import deadlines
from shared.db import Conn

OPTED_OUT_EVERYWHERE = "opted out of every channel"

SMS = common_pb2.CHANNEL_SMS
EMAIL = common_pb2.CHANNEL_EMAIL

# Mirrors journeys/steps.py reachable(): a channel is open while the lead has an address
# on it that is neither opted out nor on the suppression list.
_STOP = f"""
WITH candidates AS (
    SELECT c.lead_id FROM consents c
    LEFT JOIN suppressions ss ON ss.channel = {SMS} AND ss.address = c.phone AND ss.lift_time IS NULL
    LEFT JOIN suppressions se ON se.channel = {EMAIL} AND se.address = c.email AND se.lift_time IS NULL
    WHERE (c.lead_id = $1 OR ($2 <> '' AND $3 = {SMS} AND c.phone = $2)
           OR ($2 <> '' AND $3 = {EMAIL} AND c.email = $2))
      AND NOT (c.phone <> '' AND NOT c.sms_opted_out AND ss.address IS NULL)
      AND NOT (c.email <> '' AND NOT c.email_opted_out AND se.address IS NULL)
), stopped AS (
    UPDATE journeys j SET state = {pb.JOURNEY_STATE_STOPPED}, stop_reason = $4, next_step_time = NULL,
        update_time = now()
    FROM candidates WHERE j.lead_id = candidates.lead_id AND j.state = {pb.JOURNEY_STATE_ACTIVE}
    RETURNING j.lead_id
)
UPDATE communications SET status = {pb.COMMUNICATION_STATUS_BLOCKED}, status_reason = $5,
    claim_until = NULL, update_time = now()
WHERE lead_id IN (SELECT lead_id FROM stopped) AND status = {pb.COMMUNICATION_STATUS_SCHEDULED}
"""


async def stop_unreachable(
    conn: Conn, channel: common_pb2.Channel.ValueType, address: str, lead_id: uuid.UUID | None
) -> None:
    """Stop the active journey of every lead (this one, and any with `address` on
    `channel`) left with no open channel; their waiting steps become BLOCKED."""
    await conn.execute(
        _STOP,
        lead_id,
        address,
        channel,
        OPTED_OUT_EVERYWHERE,
        f"journey stopped: {OPTED_OUT_EVERYWHERE}",
        timeout=deadlines.timeout(5.0),
    )

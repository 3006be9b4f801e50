"""The demo's last leg: a first touch a provider accepted (QUEUED), followed through the
provider's status callbacks to SENT and DELIVERED."""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb
from rich.markup import escape

from cli.terminal import console
from shared.clients import Peers

# Statuses a provider's callbacks move a message through, in order, and the demo step each one is.
FOLLOWED = {"QUEUED": "queued at provider", "SENT": "sent", "DELIVERED": "delivered"}
FINAL = ("DELIVERED", "UNDELIVERED", "FAILED")
POLL_S = 0.1


class Marks(Protocol):
    def mark(self, step: str, detail: str) -> None: ...


async def follow(peers: Peers, trace: Marks, lead_id: str, location_id: str, timeout_s: float) -> str:
    """Print each status the first touch reaches until a final one or the timeout; returns
    the last status seen ("" when the message never reached a provider)."""
    deadline = time.perf_counter() + timeout_s
    last = ""
    while time.perf_counter() < deadline:
        comms = await peers.coordinator.ListCommunications(
            coordinator_pb.ListCommunicationsRequest(lead_id=lead_id, location_id=location_id), timeout=5
        )
        if not comms.communications:
            return ""
        c = comms.communications[-1]
        status = coordinator_pb.CommunicationStatus.Name(c.status).removeprefix("COMMUNICATION_STATUS_")
        if last == "" and status not in FOLLOWED and status not in FINAL:
            return ""  # SIMULATED, SCHEDULED or BLOCKED: nothing went to a provider
        if status != last:
            if status in FOLLOWED:
                # A fast provider may skip a poll: show every step the status has passed.
                for word, step in FOLLOWED.items():
                    trace.mark(step, f"status {word}")
                    if word == status:
                        break
            else:
                trace.mark(status.lower(), f"status {status}: {escape(c.status_reason)}")
            last = status
        if status in FINAL:
            return status
        await asyncio.sleep(POLL_S)
    console.print(f"[yellow]the provider reported no final status within {timeout_s:g}s (last: {last})[/]")
    return last

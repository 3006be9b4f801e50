"""Opt-out latency: from the inbound STOP (its occurred time, else when we recorded it) to the
revocation committed, and to the confirmation text handed to the provider."""

from __future__ import annotations

from datetime import datetime

from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from prometheus_client import Histogram

from services.coordinator.delivery.dispatch import label_of
from shared import timestamps

OPT_OUT_LATENCY = Histogram(
    "optout_latency_seconds",
    "Seconds from an inbound opt-out to its revocation committed (stage=revoked) and to the"
    " confirmation text accepted for sending (stage=confirmed).",
    ["channel", "stage"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
# A confirmation in any of these left us (or would have, without credentials).
_CONFIRMED = (
    pb.COMMUNICATION_STATUS_QUEUED,
    pb.COMMUNICATION_STATUS_SENT,
    pb.COMMUNICATION_STATUS_DELIVERED,
    pb.COMMUNICATION_STATUS_SIMULATED,
)


def observe(channel: int, stage: str, since: datetime) -> None:
    # A provider's clock ahead of ours must not show as negative latency.
    elapsed = max(0.0, (timestamps.now() - since).total_seconds())
    OPT_OUT_LATENCY.labels(label_of(channel), stage).observe(elapsed)


def confirmed(status: int) -> bool:
    return status in _CONFIRMED

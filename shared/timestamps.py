"""datetime <-> google.protobuf.Timestamp, always timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp


def to_proto(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromDatetime(value.astimezone(UTC))
    return ts


def from_proto(ts: Timestamp) -> datetime | None:
    """None for an unset (zero) Timestamp."""
    if ts.seconds == 0 and ts.nanos == 0:
        return None
    return ts.ToDatetime(tzinfo=UTC)


def now() -> datetime:
    return datetime.now(UTC)

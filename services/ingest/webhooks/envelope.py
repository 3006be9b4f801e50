"""The envelope of a RecordWebhook event: who sent it, its id, its size. Pure.

Every envelope is checked before anything is written, and a bad one refuses the
whole request (INVALID_ARGUMENT: the gateway answers 400). The payloads are not
checked here: a payload problem is stored with its reason instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from leadengine.ingest.v1 import ingest_service_pb2 as pb

from shared.errors import FieldViolation, InvalidArgument

MAX_WEBHOOK_PAYLOAD = 1 << 20
MAX_PROVIDER_EVENT_ID = 256
MAX_EVENT_TYPE = 256
MAX_LOCATION_ID = 200
_PROVIDERS = frozenset({pb.PROVIDER_GHL, pb.PROVIDER_TWILIO, pb.PROVIDER_SENDGRID})


@dataclass(frozen=True)
class InboxEvent:
    provider: int
    provider_event_id: str
    event_type: str
    payload: bytes
    location_id: str  # "" when the gateway could not name the tenant


def _envelope_text(raw: str, path: str, max_len: int, *, required: bool = False) -> str:
    if required and not raw.strip():
        raise InvalidArgument(
            f"{path} is required", reason="MISSING_FIELD", violations=[FieldViolation(path, "required")]
        )
    if len(raw) > max_len:
        raise InvalidArgument(
            f"{path} is {len(raw)} characters; the limit is {max_len}",
            reason="FIELD_TOO_LONG",
            violations=[FieldViolation(path, f"at most {max_len} characters")],
        )
    if "\x00" in raw:
        raise InvalidArgument(
            f"{path} contains a NUL character",
            reason="INVALID_CHARACTER",
            violations=[FieldViolation(path, "no NUL characters")],
        )
    return raw


def inbox_events(request: pb.RecordWebhookRequest) -> list[InboxEvent]:
    """The envelope of every event checked before anything is written; the payloads are not."""
    events = []
    for i, event in enumerate(request.events):
        path = f"events[{i}]"
        if event.provider not in _PROVIDERS:
            raise InvalidArgument(
                f"{path}.provider must be PROVIDER_GHL, PROVIDER_TWILIO or PROVIDER_SENDGRID",
                reason="MISSING_FIELD" if event.provider == pb.PROVIDER_UNSPECIFIED else "INVALID_PROVIDER",
                violations=[FieldViolation(f"{path}.provider", "a Provider other than PROVIDER_UNSPECIFIED")],
            )
        provider_event_id = _envelope_text(
            event.provider_event_id, f"{path}.provider_event_id", MAX_PROVIDER_EVENT_ID, required=True
        )
        if len(event.payload) > MAX_WEBHOOK_PAYLOAD:
            raise InvalidArgument(
                f"{path}.payload is {len(event.payload)} bytes; the limit is {MAX_WEBHOOK_PAYLOAD}",
                reason="FIELD_TOO_LARGE",
                violations=[FieldViolation(f"{path}.payload", f"at most {MAX_WEBHOOK_PAYLOAD} bytes")],
            )
        events.append(
            InboxEvent(
                provider=event.provider,
                provider_event_id=provider_event_id,
                event_type=_envelope_text(event.event_type, f"{path}.event_type", MAX_EVENT_TYPE).strip(),
                payload=event.payload,
                location_id=_envelope_text(event.location_id, f"{path}.location_id", MAX_LOCATION_ID).strip(),
            )
        )
    return events

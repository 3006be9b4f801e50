"""A decision log entry as the timeline shows it: its kind and a one-line summary.

The log keeps facts (enum numbers, reasons, ids); the words are made here at read
time, so they can improve without rewriting history. Pure: no I/O.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from services.coordinator.journeys import keys
from services.coordinator.timeline.repository import Decision

# Kinds the coordinator logs itself (Python) ...
STORED = "stored"
EVENT = "event"
SCORED = "scored"
ROUTED = "routed"
WRITTEN = "written"
TRIGGER_FIRED = "trigger_fired"
REASSIGNED = "reassigned"
# ... and the kinds the timeline shows for rows the triggers logged.
GATE = "gate"
SCHEDULED = "scheduled"
STATUS = "status"
REPLY = "reply"
OPT_OUT = "opt_out"
OPT_IN = "opt_in"
CONSENT = "consent"
JOURNEY = "journey"
NOTIFICATION = "notification"
MESSAGE = "message"

_SENT_LIKE = frozenset(
    {
        pb.COMMUNICATION_STATUS_SIMULATED,
        pb.COMMUNICATION_STATUS_QUEUED,
        pb.COMMUNICATION_STATUS_SENT,
    }
)


def channel_name(channel: int) -> str:
    if channel in common_pb2.Channel.values() and channel != common_pb2.CHANNEL_UNSPECIFIED:
        return common_pb2.Channel.Name(channel).removeprefix("CHANNEL_")  # type: ignore[arg-type]
    return "no channel"


def status_name(status: int | None) -> str:
    if status is not None and status in pb.CommunicationStatus.values():
        return pb.CommunicationStatus.Name(status).removeprefix("COMMUNICATION_STATUS_")  # type: ignore[arg-type]
    return ""


def state_name(state: int | None) -> str:
    if state is not None and state in pb.JourneyState.values():
        return pb.JourneyState.Name(state).removeprefix("JOURNEY_STATE_")  # type: ignore[arg-type]
    return ""


def step_words(step_key: str) -> str:
    """'first touch', 'step 2', or '' for a row that is no cadence step; a later journey's
    steps say which journey ('step 2 of journey 2')."""
    generation, step_key = keys.unscoped(step_key)
    of = f" of journey {generation}" if generation > 1 else ""
    if step_key == "first_touch":
        return f"first touch{of}"
    if step_key.startswith("step:"):
        return f"step {step_key.removeprefix('step:')}{of}"
    return ""


def step_index(step_key: str) -> int | None:
    """The cadence step a row is (0: the first touch), None for other rows."""
    _, step_key = keys.unscoped(step_key)
    if step_key == "first_touch":
        return 0
    if step_key.startswith("step:") and step_key.removeprefix("step:").isdigit():
        return int(step_key.removeprefix("step:"))
    return None


def _when(value: Any) -> str:
    """A logged timestamp (ISO text from jsonb) to the second, in UTC."""
    if not value:
        return "now"
    try:
        return datetime.fromisoformat(str(value)).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return str(value)


def _with_reason(text: str, reason: str) -> str:
    return f"{text}: {reason}" if reason else text


def _scored(d: dict[str, Any]) -> tuple[str, str]:
    top = sorted(d.get("factors", []), key=lambda f: abs(float(f.get("points", 0))), reverse=True)[:3]
    factors = ", ".join(f"{f['name']} {float(f['points']):+.0f}" for f in top) or "no factors"
    return SCORED, f"scored {float(d.get('score', 0)):.0f}/100 ({d.get('tier', '')}): {factors}"


def _routed(d: dict[str, Any]) -> tuple[str, str]:
    if not d.get("routed"):
        return ROUTED, f"not routed: {d.get('why', '')}"
    reasons = "; ".join(d.get("reasons", [])) or "no reason given"
    return ROUTED, f"routed to {d.get('agent_name') or d.get('agent_id')}: {reasons}"


def _reassigned(d: dict[str, Any]) -> tuple[str, str]:
    before = d.get("from_agent_name") or d.get("from_agent_id") or "no agent"
    after = d.get("to_agent_name") or d.get("to_agent_id") or "the pond"
    reason = f" ({d['reason']})" if d.get("reason") else ""
    return REASSIGNED, f"reassigned from {before} to {after}{reason}"


def _written(d: dict[str, Any]) -> tuple[str, str]:
    what = f"{d.get('channel', '')} {str(d.get('purpose', '')).lower().replace('_', ' ')}"
    if d.get("refused"):
        return GATE, f"content refused to write the {what}: {d.get('message', d.get('reason', ''))}"
    model = f" {d['model']}" if d.get("model") else ""
    return WRITTEN, f"content wrote the {what} ({str(d.get('generator', '')).lower()}{model})"


def _communication(d: dict[str, Any], inserted: bool) -> tuple[str, str]:
    step = step_words(d.get("step_key", ""))
    channel = channel_name(int(d.get("channel", 0)))
    what = f"{channel} {step}".strip()
    status = d.get("status")
    reason = d.get("status_reason", "")
    key = d.get("step_key", "")
    if d.get("direction") == pb.DIRECTION_INBOUND:
        return REPLY, _with_reason(f"lead wrote by {channel}", reason)
    if key.startswith("crm:"):
        return MESSAGE, f"a person wrote to the lead by {channel} from the CRM"
    if status == pb.COMMUNICATION_STATUS_BLOCKED:
        return GATE, f"{what} blocked: {reason}"
    if status == pb.COMMUNICATION_STATUS_SCHEDULED:
        when = _when(d.get("scheduled_time"))
        if inserted and d.get("claimed"):
            return (
                GATE,
                f"{what} passed the gates (consent, opt-outs, suppression, quiet hours): goes out now",
            )
        if reason.startswith("cadence step"):
            return SCHEDULED, f"{what} scheduled for {when} (written when due)"
        return GATE, f"{what} held: {reason or 'until ' + when}"
    if status in _SENT_LIKE and d.get("from_status") == pb.COMMUNICATION_STATUS_SCHEDULED:
        return STATUS, _with_reason(f"{what} {status_name(status)} (gates passed at send time)", reason)
    return STATUS, _with_reason(f"{what} {status_name(status)}", reason)


def _journey(d: dict[str, Any]) -> tuple[str, str]:
    state = d.get("state")
    before = d.get("from_state")
    if d.get("backfilled"):
        return JOURNEY, _with_reason(f"journey {state_name(state)} (as found)", d.get("stop_reason", ""))
    if before is None:
        if state == pb.JOURNEY_STATE_ACTIVE:
            agent = "" if d.get("agent_id") else f" without an agent ({d.get('agent_reason', '')})"
            return JOURNEY, f"journey started{agent}"
        return JOURNEY, _with_reason(f"journey created {state_name(state)}", d.get("stop_reason", ""))
    if state != before:
        verbs: dict[int, str] = {pb.JOURNEY_STATE_STOPPED: "stopped", pb.JOURNEY_STATE_COMPLETED: "completed"}
        verb = verbs.get(int(state or 0), state_name(state).lower())
        return JOURNEY, _with_reason(f"journey {verb}", d.get("stop_reason", ""))
    if d.get("pause_reason"):
        until = f" until {_when(d['pause_end_time'])}" if d.get("pause_end_time") else " until resumed"
        return JOURNEY, f"journey paused{until}: {d['pause_reason']}"
    if d.get("was_paused"):
        return JOURNEY, "journey resumed"
    if d.get("cadence_pinned"):
        return JOURNEY, f"journey walks cadence {d.get('cadence_id')}"
    return JOURNEY, _with_reason(f"journey {state_name(state).lower()}", d.get("stop_reason", ""))


def _consent(d: dict[str, Any]) -> tuple[str, str]:
    channel = channel_name(int(d.get("channel", 0)))
    change = d.get("change")
    by = f" (by {d['actor']})" if d.get("actor") else ""
    if change == "opt_out":
        return OPT_OUT, f"{channel} opted out: {d.get('basis', '')}{by}"
    if change == "opt_in":
        return OPT_IN, f"{channel} opted back in: {d.get('basis', '')}{by}"
    if change == "basis_withdrawn":
        return CONSENT, f"{channel} consent basis withdrawn{by}"
    return CONSENT, f"{channel} consent basis: {d.get('basis', '')}{by}"


def _notification(d: dict[str, Any]) -> tuple[str, str]:
    channel = channel_name(int(d.get("channel", 0)))
    about = keys.unscoped(str(d.get("step_key", "")))[1].split(":", 1)[0].replace("_", " ")
    if d.get("status") == pb.COMMUNICATION_STATUS_SCHEDULED:
        # Recorded, not yet with the provider (being sent, or waiting to retry).
        return NOTIFICATION, _with_reason(
            f"agent notification ({about}) by {channel}: sending", d.get("status_reason", "")
        )
    return NOTIFICATION, _with_reason(
        f"agent notified ({about}) by {channel}: {status_name(d.get('status'))}", d.get("status_reason", "")
    )


def _event(d: dict[str, Any]) -> tuple[str, str]:
    return EVENT, f"ingest reported {str(d.get('event_kind', '')).lower().replace('_', ' ')}"


def _stored(d: dict[str, Any]) -> tuple[str, str]:
    source = str(d.get("source", "")).lower().replace("_", " ").replace("unspecified", "")
    return STORED, "lead stored by ingest" + (f" (source: {source})" if source else "")


def summarize(entry: Decision) -> tuple[str, str]:
    """(kind, summary) for the timeline. Unknown kinds (a newer writer's) show as logged."""
    d = entry.details
    if entry.kind == "communication":
        return _communication(d, inserted=True)
    if entry.kind == "communication_status":
        return _communication(d, inserted=False)
    render = {
        STORED: _stored,
        EVENT: _event,
        SCORED: _scored,
        ROUTED: _routed,
        REASSIGNED: _reassigned,
        WRITTEN: _written,
        JOURNEY: _journey,
        CONSENT: _consent,
        NOTIFICATION: _notification,
    }.get(entry.kind)
    if render is None:
        return entry.kind, str(d.get("summary", entry.kind))
    return render(d)


def readable_details(entry: Decision) -> dict[str, Any]:
    """The logged facts with enum numbers spelled out, and the step index made explicit."""
    d = dict(entry.details)
    if "channel" in d and isinstance(d["channel"], int):
        d["channel"] = channel_name(d["channel"])
    for key in ("status", "from_status"):
        if isinstance(d.get(key), int):
            d[key] = status_name(d[key])
    for key in ("state", "from_state"):
        if entry.kind == JOURNEY and isinstance(d.get(key), int):
            d[key] = state_name(d[key])
    if isinstance(d.get("direction"), int):
        d["direction"] = pb.Direction.Name(d["direction"]).removeprefix("DIRECTION_")
    if "step_key" in d:
        index = step_index(str(d["step_key"]))
        if index is not None:
            d["step_index"] = index
    return {k: v for k, v in d.items() if v is not None}

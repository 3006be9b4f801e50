"""Content's messages and enums between proto and Python, for every handler mixin."""

from __future__ import annotations

from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as pb

from services.content.repository import APPROVED, PENDING_APPROVAL, READY, Message
from services.content.writer import (
    AGENT_NOTIFICATION,
    APPOINTMENT_REMINDER,
    CLAUDE,
    EMAIL,
    FALLBACK,
    FIRST_TOUCH,
    FOLLOW_UP,
    RE_ENGAGEMENT,
    REPLY_TO_INBOUND,
    SMS,
    TEMPLATE,
    TRIGGER,
)
from shared import timestamps

CHANNELS = {common_pb2.CHANNEL_SMS: SMS, common_pb2.CHANNEL_EMAIL: EMAIL}
PURPOSES = {
    pb.MESSAGE_PURPOSE_FIRST_TOUCH: FIRST_TOUCH,
    pb.MESSAGE_PURPOSE_FOLLOW_UP: FOLLOW_UP,
    pb.MESSAGE_PURPOSE_AGENT_NOTIFICATION: AGENT_NOTIFICATION,
    pb.MESSAGE_PURPOSE_TRIGGER: TRIGGER,
    pb.MESSAGE_PURPOSE_RE_ENGAGEMENT: RE_ENGAGEMENT,
    pb.MESSAGE_PURPOSE_REPLY_TO_INBOUND: REPLY_TO_INBOUND,
    pb.MESSAGE_PURPOSE_APPOINTMENT_REMINDER: APPOINTMENT_REMINDER,
}
GENERATORS = {TEMPLATE: pb.GENERATOR_TEMPLATE, CLAUDE: pb.GENERATOR_CLAUDE, FALLBACK: pb.GENERATOR_FALLBACK}
STATUSES = {
    READY: pb.MESSAGE_STATUS_READY,
    PENDING_APPROVAL: pb.MESSAGE_STATUS_PENDING_APPROVAL,
    APPROVED: pb.MESSAGE_STATUS_APPROVED,
}
_CHANNEL_ENUM = {v: k for k, v in CHANNELS.items()}
_PURPOSE_ENUM = {v: k for k, v in PURPOSES.items()}


def message_to_proto(message: Message) -> pb.Message:
    return pb.Message(
        message_id=str(message.message_id),
        lead_id=str(message.lead_id),
        channel=_CHANNEL_ENUM[message.channel],
        purpose=_PURPOSE_ENUM[message.purpose],
        subject=message.subject,
        body=message.body,
        generator=GENERATORS[message.generator],
        model=message.model,
        input_tokens=message.input_tokens,
        output_tokens=message.output_tokens,
        cost_micros_usd=message.cost_micros_usd,
        create_time=timestamps.to_proto(message.create_time),
        guardrail_verdicts=[
            pb.GuardrailVerdict(rule=v["rule"], passed=v["passed"], detail=v["detail"])
            for v in message.guardrail_verdicts
        ],
        status=STATUSES[message.status],
        language=message.language,
        approved_by_agent_id=message.approved_by_agent_id,
        approve_time=timestamps.to_proto(message.approve_time) if message.approve_time else None,
        edited=message.edited,
        revisions=message.revisions,
        fallback_reason=message.fallback_reason,
        cache_read_input_tokens=message.cache_read_input_tokens,
        cache_creation_input_tokens=message.cache_creation_input_tokens,
        latency_ms=message.latency_ms,
        prompt_sha256=message.prompt_sha256,
    )

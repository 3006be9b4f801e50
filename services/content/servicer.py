"""ContentService handlers: proto in, domain calls, proto out. No SQL, no status codes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeVar

import phonenumbers
from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as pb
from leadengine.content.v1 import content_service_pb2_grpc as pb_grpc

from services.content import guardrails
from services.content.config import Config
from services.content.repository import MessageRepository
from services.content.writer import (
    AGENT_NOTIFICATION,
    CLAUDE,
    EMAIL,
    FIRST_TOUCH,
    FOLLOW_UP,
    SMS,
    TEMPLATE,
    Draft,
    Facts,
    MessageWriter,
)
from shared import contact, ids, pagination, timestamps
from shared.errors import FailedPrecondition, FieldViolation, InvalidArgument
from shared.rpc import Context

CHANNELS = {common_pb2.CHANNEL_SMS: SMS, common_pb2.CHANNEL_EMAIL: EMAIL}
PURPOSES = {
    pb.MESSAGE_PURPOSE_FIRST_TOUCH: FIRST_TOUCH,
    pb.MESSAGE_PURPOSE_FOLLOW_UP: FOLLOW_UP,
    pb.MESSAGE_PURPOSE_AGENT_NOTIFICATION: AGENT_NOTIFICATION,
}
GENERATORS = {TEMPLATE: pb.GENERATOR_TEMPLATE, CLAUDE: pb.GENERATOR_CLAUDE}
_CHANNEL_ENUM = {v: k for k, v in CHANNELS.items()}
_PURPOSE_ENUM = {v: k for k, v in PURPOSES.items()}

# Longest each context field may be after sanitising: together they keep the
# longest required SMS text inside two segments.
FIELD_LIMITS = {
    "lead_first_name": 30,
    "agent_name": 40,
    "city": 40,
    "source": 40,
    "brand_name": 50,
    "lead_full_name": 60,
}


def message_to_proto(row: Any) -> pb.Message:
    return pb.Message(
        message_id=str(row["message_id"]),
        lead_id=str(row["lead_id"]),
        channel=_CHANNEL_ENUM[row["channel"]],
        purpose=_PURPOSE_ENUM[row["purpose"]],
        subject=row["subject"],
        body=row["body"],
        generator=GENERATORS[row["generator"]],
        model=row["model"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cost_micros_usd=row["cost_micros_usd"],
        create_time=timestamps.to_proto(row["create_time"]),
    )


# A proto enum's ValueType: CHANNELS and PURPOSES are keyed by theirs, and a Mapping is invariant in its keys.
_Enum = TypeVar("_Enum", bound=int)


def _required_enum(value: _Enum, known: Mapping[_Enum, str], field: str, allowed: str) -> str:
    if value not in known:
        raise InvalidArgument(
            f"{field} is required; use one of {allowed}",
            reason="MISSING_FIELD" if value == 0 else "INVALID_ENUM",
            violations=[FieldViolation(field, f"one of {allowed}")],
        )
    return known[value]


def _display_phone(raw: str) -> str:
    e164 = contact.normalize_phone(raw, "context.agent_phone")
    if not e164:
        return ""
    number = phonenumbers.parse(e164)
    style = phonenumbers.PhoneNumberFormat.NATIONAL if number.country_code == 1 else None
    return phonenumbers.format_number(number, style or phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def facts_from_proto(ctx: pb.MessageContext, default_brand: str) -> Facts:
    """Caller text is untrusted: printable, one line, length-capped."""
    clean = {name: guardrails.sanitize(getattr(ctx, name), limit) for name, limit in FIELD_LIMITS.items()}
    if not math.isfinite(ctx.lead_score) or not 0 <= ctx.lead_score <= 100:
        raise InvalidArgument(
            f"context.lead_score {ctx.lead_score} is outside 0..100",
            violations=[FieldViolation("context.lead_score", "0 (unknown) up to 100")],
        )
    return Facts(
        lead_first_name=clean["lead_first_name"],
        agent_name=clean["agent_name"],
        agent_phone=_display_phone(ctx.agent_phone),
        city=clean["city"],
        source=clean["source"],
        brand_name=clean["brand_name"] or default_brand,
        lead_full_name=clean["lead_full_name"],
        lead_score=ctx.lead_score,
    )


class ContentServicer(pb_grpc.ContentServiceServicer):
    def __init__(self, repo: MessageRepository, writer: MessageWriter, cfg: Config) -> None:
        self._repo = repo
        self._writer = writer
        self._cfg = cfg
        self._blocklist = guardrails.Blocklist(cfg.blocked_phrases)

    async def GenerateMessage(
        self, request: pb.GenerateMessageRequest, context: Context
    ) -> pb.GenerateMessageResponse:
        lead_id = ids.parse_uuid(request.lead_id, "lead_id", what="lead id")
        location_id = ids.require_text(request.location_id, "location_id")
        channel = _required_enum(request.channel, CHANNELS, "channel", "CHANNEL_SMS, CHANNEL_EMAIL")
        purpose = _required_enum(
            request.purpose, PURPOSES, "purpose", "FIRST_TOUCH, FOLLOW_UP, AGENT_NOTIFICATION"
        )
        facts = facts_from_proto(request.context, guardrails.sanitize(self._cfg.brand_name, 50))
        request_id = ids.request_key(request.request_id)
        if request_id:
            seen = await self._repo.by_request(request_id)
            if seen is not None:
                return pb.GenerateMessageResponse(message=message_to_proto(seen))
        draft = Draft(
            lead_id=str(lead_id),
            channel=channel,
            purpose=purpose,
            facts=facts,
            max_body_chars=guardrails.body_budget(channel, purpose != AGENT_NOTIFICATION),
        )
        if channel == EMAIL and draft.to_lead and not self._cfg.postal_address:
            raise FailedPrecondition(
                "lead-facing email needs a physical postal address in its footer (CAN-SPAM); "
                "set CONTENT_POSTAL_ADDRESS or send by SMS",
                reason="POSTAL_ADDRESS_NOT_CONFIGURED",
            )
        self._blocklist.check_fields(
            {name: getattr(facts, name) for name in FIELD_LIMITS} | {"agent_phone": facts.agent_phone}
        )
        written = await self._writer.write(draft)
        written = guardrails.finish(draft, written, postal_address=self._cfg.postal_address)
        self._blocklist.check_output(draft, written)
        row = await self._repo.add(draft, location_id, written, request_id)
        return pb.GenerateMessageResponse(message=message_to_proto(row))

    async def GetConversation(
        self, request: pb.GetConversationRequest, context: Context
    ) -> pb.GetConversationResponse:
        lead_id = ids.parse_uuid(request.lead_id, "lead_id", what="lead id")
        size = pagination.page_size(request.page_size)
        after = pagination.decode_cursor(request.page_token, pagination.time_and_uuid, query=str(lead_id))
        rows = await self._repo.conversation(lead_id, after, size)
        page, token = pagination.page_of(
            rows,
            size,
            lambda r: {"t": r["create_time"].isoformat(), "id": str(r["message_id"])},
            query=str(lead_id),
        )
        return pb.GetConversationResponse(messages=[message_to_proto(r) for r in page], next_page_token=token)

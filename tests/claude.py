"""ContentService with Claude configured against the local fake Anthropic API
(cli/fake_anthropic.py): the real SDK path, over real HTTP, on real PostgreSQL."""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as pb
from leadengine.content.v1 import content_service_pb2_grpc as pb_grpc

from cli import fake_anthropic, fake_providers
from cli.fake_anthropic import FakeAnthropic
from services.content.claude.settings import ClaudeSettings
from tests.support import mesh

ADDRESS = "100 Congress Ave, Austin, TX 78701"
# Fast enough for tests; each test that needs a slower or stricter API says so.
FAST = {"backoff_base_s": 0.01, "backoff_cap_s": 0.05, "attempt_timeout_s": 5.0, "total_timeout_s": 10.0}


@dataclass
class ClaudeContent:
    content: pb_grpc.ContentServiceStub
    fake: FakeAnthropic
    settings: ClaudeSettings


@contextlib.asynccontextmanager
async def claude_content(dsn: str, **settings: Any) -> AsyncIterator[ClaudeContent]:
    """Content on its own, with ANTHROPIC_API_KEY set and the base URL at a fresh fake."""
    async with fake_providers.running_fakes() as (fakes, base):
        env = fake_anthropic.env_for(base)
        claude = dataclasses.replace(ClaudeSettings.from_env(env), **{**FAST, **settings})
        overrides = {"content": {"postal_address": ADDRESS, "claude": claude}}
        async with mesh(dsn, only=("content",), overrides=overrides) as m:
            yield ClaudeContent(m.clients.content, fakes.anthropic, claude)


def request(
    location: str = "loc-claude",
    *,
    lead: str = "",
    channel: int = common_pb2.CHANNEL_SMS,
    request_id: str = "",
    purpose: int = pb.MESSAGE_PURPOSE_FIRST_TOUCH,
) -> pb.GenerateMessageRequest:
    return pb.GenerateMessageRequest(
        lead_id=lead or str(uuid.uuid4()),
        location_id=location,
        channel=channel,  # type: ignore[arg-type]
        purpose=purpose,  # type: ignore[arg-type]
        context=pb.MessageContext(
            lead_first_name="Maria", agent_name="Ana Lopez", city="Austin", source="web form"
        ),
        request_id=request_id,
    )

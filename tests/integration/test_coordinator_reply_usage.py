"""A lead's reply, read by Claude for the agent's hand-off, counts against the lead's
location: the coordinator names it on AnalyzeReply. All five services in-process, content
with Claude against the local fake Anthropic API, real PostgreSQL."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from leadengine.content.v1 import content_service_pb2 as content_pb

from cli import fake_anthropic, fake_providers
from services.content.claude.settings import ClaudeSettings
from shared import timestamps
from tests.claude import ADDRESS, FAST
from tests.journeys import handle, inbound, notes_of, started_lead
from tests.support import Mesh, mesh


@pytest.fixture(scope="module")
async def claude_mesh(migrated_dsn: str) -> AsyncIterator[Mesh]:
    async with fake_providers.running_fakes() as (_, base):
        claude = dataclasses.replace(ClaudeSettings.from_env(fake_anthropic.env_for(base)), **FAST)
        overrides: dict[str, dict[str, Any]] = {
            "ingest": {"outbox_poll_s": 0.1},
            "content": {"postal_address": ADDRESS, "claude": claude},
        }
        async with mesh(migrated_dsn, overrides=overrides) as m:
            yield m


async def claude_calls(m: Mesh, location: str) -> int:
    now = datetime.now(UTC)
    usage = await m.clients.content.GetUsage(
        content_pb.GetUsageRequest(
            location_id=location,
            start_time=timestamps.to_proto(now - timedelta(days=1)),
            end_time=timestamps.to_proto(now + timedelta(days=1)),
        ),
        timeout=5,
    )
    return sum(row.generations + row.fallbacks for row in usage.rows)


async def test_a_reply_analysis_is_counted_under_the_leads_location(claude_mesh: Mesh) -> None:
    m = claude_mesh
    lead = await started_lead(m)
    before = await claude_calls(m, lead.location_id)
    await handle(m, inbound(lead, "Is the house on Oak Street still available? Can we see it Saturday?"))
    notes = await notes_of(m, lead.lead_id)
    handoff = [n for n in notes if "Reads as" in n.body]
    assert handoff, "the agent's hand-off note carries the reply's classification"
    assert "not classified" not in handoff[0].body
    assert await claude_calls(m, lead.location_id) == before + 1

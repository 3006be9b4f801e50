"""`leadengine approve`: an agent's approval from the command line sends the waiting draft once,
through the real content and coordinator servers and the fake Twilio."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb

from cli import content_data, fake_providers
from cli.fake_providers import FakeProviders
from cli.main import build_parser
from services.coordinator.delivery.provider_config import ProviderConfig
from tests.integration.test_coordinator_approved_sends import draft_of, pending_first_touch, texts_to
from tests.support import Mesh, mesh


@pytest.fixture(scope="module")
async def rig(migrated_dsn: str) -> AsyncIterator[tuple[Mesh, FakeProviders]]:
    async with fake_providers.running_fakes() as (fakes, base):
        env = fake_providers.env_for(base) | {"COORDINATOR_SEND_BACKOFF_S": "0.01"}
        overrides: dict[str, dict[str, Any]] = {
            "ingest": {"outbox_poll_s": 0.1},
            "coordinator": {"providers": ProviderConfig.from_env(env), "scheduler_poll_s": 0.1},
        }
        async with mesh(migrated_dsn, overrides=overrides) as m:
            yield m, fakes


async def test_approve_sends_the_edited_draft_once_and_a_repeat_sends_nothing_more(
    rig: tuple[Mesh, FakeProviders],
) -> None:
    m, fakes = rig
    lead, touch = await pending_first_touch(m)
    draft = await draft_of(m, lead.lead_id, touch.message_id)
    edited = draft.body.replace("Reply STOP", "See you soon. Reply STOP", 1)
    assert edited != draft.body

    assert await content_data.approve(touch.message_id, "agent-cli", edited, lead.location_id, m.clients) == 0
    assert await content_data.approve(touch.message_id, "agent-cli", edited, lead.location_id, m.clients) == 0

    sent = texts_to(fakes, lead.phone)
    assert [r.body for r in sent] == [edited]
    page = await m.clients.coordinator.ListCommunications(
        pb.ListCommunicationsRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    step = next(c for c in page.communications if c.message_id == touch.message_id)
    assert not step.awaiting_approval


async def test_a_refused_edit_approves_and_sends_nothing(rig: tuple[Mesh, FakeProviders]) -> None:
    m, fakes = rig
    lead, touch = await pending_first_touch(m)
    # A Fair Housing failure: content refuses the edit, so nothing is approved or sent.
    bad = "No children please. Reply STOP to opt out."
    assert await content_data.approve(touch.message_id, "agent-cli", bad, lead.location_id, m.clients) == 1
    assert texts_to(fakes, lead.phone) == []
    page = await m.clients.coordinator.ListCommunications(
        pb.ListCommunicationsRequest(lead_id=lead.lead_id, location_id=lead.location_id), timeout=5
    )
    assert any(c.awaiting_approval for c in page.communications)


def test_approve_requires_the_location() -> None:
    """Both calls it makes require the lead's location (#15), so the command does too."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["approve", "m-1", "--agent", "agent-cli"])
    args = build_parser().parse_args(["approve", "m-1", "--agent", "agent-cli", "--location", "loc-1"])
    assert (args.message_id, args.agent, args.location, args.body) == ("m-1", "agent-cli", "loc-1", None)

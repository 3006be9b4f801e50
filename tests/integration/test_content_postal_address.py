"""Content takes the CAN-SPAM postal address from the caller's context (the location's) and
falls back to CONTENT_POSTAL_ADDRESS; real content on real PostgreSQL."""

from __future__ import annotations

import uuid

import grpc
import pytest
from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as pb

from tests.support import error_reason, field_violations, mesh

DEFAULT = "1 Main St, Austin, TX 78701"


@pytest.fixture(scope="module")
async def content(migrated_dsn):
    async with mesh(migrated_dsn, only=("content",), overrides={"content": {"postal_address": DEFAULT}}) as m:
        yield m.clients.content


@pytest.fixture(scope="module")
async def content_without_default(migrated_dsn):
    async with mesh(migrated_dsn, only=("content",)) as m:
        yield m.clients.content


def email(postal_address: str) -> pb.GenerateMessageRequest:
    return pb.GenerateMessageRequest(
        lead_id=str(uuid.uuid4()),
        location_id="loc-postal",
        channel=common_pb2.CHANNEL_EMAIL,
        purpose=pb.MESSAGE_PURPOSE_FIRST_TOUCH,
        context=pb.MessageContext(lead_first_name="Ada", brand_name="Casa", postal_address=postal_address),
    )


async def test_the_locations_address_replaces_the_default(content) -> None:
    resp = await content.GenerateMessage(email("9 Elm St,\n Round Rock, TX 78664"), timeout=5)
    assert "9 Elm St, Round Rock, TX 78664" in resp.message.body
    assert DEFAULT not in resp.message.body
    fallback = await content.GenerateMessage(email(""), timeout=5)
    assert DEFAULT in fallback.message.body


async def test_the_locations_address_is_enough_without_a_default(content_without_default) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await content_without_default.GenerateMessage(email(""), timeout=5)
    assert error_reason(caught.value) == "POSTAL_ADDRESS_NOT_CONFIGURED"
    resp = await content_without_default.GenerateMessage(email("9 Elm St, Round Rock, TX 78664"), timeout=5)
    assert "9 Elm St, Round Rock, TX 78664" in resp.message.body


async def test_an_address_too_long_to_print_whole_is_refused(content) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await content.GenerateMessage(email("9 Elm St " * 40), timeout=5)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(caught.value) == ["context.postal_address"]

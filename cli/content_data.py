"""`leadengine import-market`, `load-templates`, `content-settings` and `approve`: a location's
content data, loaded through ContentService (CONTENT_ADDR); `approve` also asks the coordinator
(COORDINATOR_ADDR) to send. Content validates everything; these only read files."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import grpc
from leadengine.common.v1 import common_pb2
from leadengine.content.v1 import content_service_pb2 as pb
from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb

from cli.terminal import console, fail
from services.content import market
from shared.clients import Peers

_CHANNELS = {"sms": common_pb2.CHANNEL_SMS, "email": common_pb2.CHANNEL_EMAIL}
_MODES = {"autopilot": pb.APPROVAL_MODE_AUTOPILOT, "suggest": pb.APPROVAL_MODE_SUGGEST}


def _refused(what: str, err: grpc.aio.AioRpcError) -> int:
    return fail(f"content refused {what}: {err.code().name}: {err.details()}")


def _whole(row: dict[str, str], name: str, line: int) -> int:
    raw = row[name].replace(",", "").removeprefix("$")
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"line {line}: {name} {row[name]!r} is not a whole number") from None


async def import_market(path: Path, peers: Peers) -> int:
    try:
        rows = market.parse_csv(await asyncio.to_thread(path.read_text, encoding="utf-8"))
        facts = [
            pb.MarketFact(
                zip=row["zip"],
                city=row["city"],
                median_price_usd=_whole(row, "median_price_usd", i + 2),
                days_on_market=_whole(row, "days_on_market", i + 2),
                inventory=_whole(row, "inventory", i + 2),
                as_of_date=row["as_of_date"],
            )
            for i, row in enumerate(rows)
        ]
    except (OSError, ValueError) as err:  # UnicodeDecodeError and csv.Error are ValueErrors or close
        return fail(f"cannot read {path}: {err}")
    try:
        resp = await peers.content.ImportMarketFacts(pb.ImportMarketFactsRequest(facts=facts), timeout=60)
    except grpc.aio.AioRpcError as err:
        # facts[i] in content's message is CSV line i + 2 (after the header).
        return _refused(f"the market facts (facts[i] is CSV line i+2) from {path}", err)
    console.print(f"stored {resp.stored} market rows; {resp.skipped_older} older than what is stored")
    return 0


def _override(item: Any, index: int) -> pb.TemplateOverride:
    if not isinstance(item, dict):
        raise ValueError(f"item {index} is not an object")
    channel = _CHANNELS.get(str(item.get("channel", "")).lower())
    purpose = pb.MessagePurpose.Value(f"MESSAGE_PURPOSE_{str(item.get('purpose', '')).upper()}")
    if channel is None:
        raise ValueError(f"item {index}: channel must be sms or email")
    return pb.TemplateOverride(
        channel=channel,
        purpose=purpose,
        language=str(item.get("language", "en")),
        subject=str(item.get("subject", "")),
        body=str(item.get("body", "")),
    )


async def load_templates(path: Path, location_id: str, peers: Peers) -> int:
    """FILE is a JSON list of {channel, purpose, language, subject, body}; it replaces the
    location's overrides ([] goes back to the built-in templates)."""
    try:
        items = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
        if not isinstance(items, list):
            raise ValueError("the file must hold a JSON list of overrides")
        overrides = [_override(item, i) for i, item in enumerate(items)]
    except (OSError, ValueError) as err:  # JSONDecodeError and an unknown purpose are ValueErrors
        return fail(f"cannot read {path}: {err}")
    request = pb.LoadTemplateOverridesRequest(location_id=location_id, overrides=overrides)
    try:
        resp = await peers.content.LoadTemplateOverrides(request, timeout=30)
    except grpc.aio.AioRpcError as err:
        return _refused(f"the templates in {path} (overrides[i] is list item i)", err)
    console.print(f"location {location_id} now has {resp.loaded} template override(s)")
    return 0


async def content_settings(
    location_id: str, mode: str | None, value_props: list[str] | None, domains: list[str] | None, peers: Peers
) -> int:
    """Prints the location's settings; with any option given, first replaces those parts."""
    try:
        current = (
            await peers.content.GetLocationContentSettings(
                pb.GetLocationContentSettingsRequest(location_id=location_id), timeout=10
            )
        ).settings
        if mode is not None or value_props is not None or domains is not None:
            wanted = pb.LocationContentSettings(
                location_id=location_id,
                approval_mode=_MODES[mode] if mode else current.approval_mode,
                value_propositions=current.value_propositions if value_props is None else value_props,
                link_domains=current.link_domains if domains is None else domains,
            )
            current = (
                await peers.content.SetLocationContentSettings(
                    pb.SetLocationContentSettingsRequest(settings=wanted), timeout=10
                )
            ).settings
    except grpc.aio.AioRpcError as err:
        return _refused(f"the settings of {location_id}", err)
    mode_name = "suggest" if current.approval_mode == pb.APPROVAL_MODE_SUGGEST else "autopilot"
    console.print(f"location {location_id}: approval {mode_name}")
    for pitch in current.value_propositions:
        console.print(f"  value proposition: {pitch}")
    for domain in current.link_domains:
        console.print(f"  link domain: {domain}")
    return 0


async def approve(message_id: str, agent_id: str, body: str | None, location: str, peers: Peers) -> int:
    """An agent's approval of a suggest-mode draft, then its send: content keeps the approval
    (and judges an edit by every guardrail), the coordinator sends the step once, re-checking
    consent, quiet hours and caps as of now."""
    request = pb.ApproveMessageRequest(message_id=message_id, agent_id=agent_id, location_id=location)
    if body is not None:
        request.edited_body = body
    try:
        approved = (await peers.content.ApproveMessage(request, timeout=10)).message
    except grpc.aio.AioRpcError as err:
        return _refused(f"the approval of {message_id}", err)
    console.print(f"approved by {approved.approved_by_agent_id}{' (edited)' if approved.edited else ''}")
    try:
        sent = await peers.coordinator.SendApprovedMessage(
            coordinator_pb.SendApprovedMessageRequest(message_id=message_id, location_id=location), timeout=30
        )
    except grpc.aio.AioRpcError as err:
        return fail(
            f"approved, but the coordinator refused to send it: {err.code().name}: {err.details()};"
            " run the command again to retry the send (it is sent at most once)"
        )
    comm = sent.communication
    status = coordinator_pb.CommunicationStatus.Name(comm.status).removeprefix("COMMUNICATION_STATUS_")
    why = f" ({comm.status_reason})" if comm.status_reason else ""
    console.print(f"communication {comm.communication_id}: {status}{why}")
    return 0

"""`leadengine timeline LEAD_ID`: every decision about one lead, oldest first, as a table."""

from __future__ import annotations

import json

import grpc
from google.protobuf import json_format
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from rich.markup import escape
from rich.table import Table

from cli.terminal import console, fail
from shared import timestamps
from shared.clients import Peers

PAGE_SIZE = 200


async def fetch(
    peers: Peers, lead_id: str, location_id: str, page_size: int = PAGE_SIZE
) -> list[pb.TimelineEntry]:
    """Every entry, page after page (raises the RPC's error)."""
    entries: list[pb.TimelineEntry] = []
    token = ""
    while True:
        resp = await peers.coordinator.GetLeadTimeline(
            pb.GetLeadTimelineRequest(
                lead_id=lead_id, location_id=location_id, page_size=page_size, page_token=token
            ),
            timeout=10,
        )
        entries.extend(resp.entries)
        token = resp.next_page_token
        if not token:
            return entries


def table(entries: list[pb.TimelineEntry], *, with_details: bool = False) -> Table:
    out = Table("time (UTC)", "kind", "what was decided", title="decision timeline")
    if with_details:
        out.add_column("details")
    for e in entries:
        at = timestamps.from_proto(e.time)
        row = [at.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] if at else "", e.kind, escape(e.summary)]
        if with_details:
            row.append(escape(json.dumps(json_format.MessageToDict(e.details), sort_keys=True)))
        out.add_row(*row)
    return out


async def run(lead_id: str, location_id: str, peers: Peers, *, with_details: bool) -> int:
    try:
        entries = await fetch(peers, lead_id, location_id)
    except grpc.aio.AioRpcError as err:
        return fail(f"coordinator GetLeadTimeline: {err.code().name}: {err.details()}")
    console.print(table(entries, with_details=with_details))
    return 0

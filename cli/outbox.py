"""`leadengine outbox list|replay [--service ingest|routing]`: the dead letters of ingest's outbox
or of routing's outcome outbox, over gRPC only (ListDeadLetters, ReplayDeadLetters of that
service), for the operator who fixed what made them fail."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from leadengine.routing.v1 import routing_service_pb2 as routing_pb
from rich.table import Column, Table

from cli.terminal import console, fail
from shared import timestamps
from shared.clients import IngestClient, PeerError, Peers, RoutingClient

SERVICES = ("ingest", "routing")


@dataclass(frozen=True)
class _Outbox:
    """One service's dead letters as the commands see them."""

    columns: tuple[str, ...]  # between event_id and lead_id
    page: Callable[[str, int, str], Awaitable[tuple[list[Any], str]]]  # (location, size, token)
    cells: Callable[[Any], tuple[str, ...]]  # the row's `columns`
    replay: Callable[[list[str] | None, str], Awaitable[int]]  # (event ids or None: all, location)


def _kind_name(kind: routing_pb.OutcomeEventKind.ValueType) -> str:
    return routing_pb.OutcomeEventKind.Name(kind).removeprefix("OUTCOME_EVENT_KIND_").lower()


def _outbox(peers: Peers, service: str, subscriber: str) -> _Outbox:
    if service == "routing":
        routing = RoutingClient(peers)
        return _Outbox(
            ("subscriber", "kind"),
            lambda loc, size, token: routing.list_dead_letters(
                location_id=loc, subscriber=subscriber, page_size=size, page_token=token
            ),
            lambda d: (d.subscriber, _kind_name(d.kind)),
            lambda ids, loc: routing.replay_dead_letters(ids, location_id=loc, subscriber=subscriber),
        )
    ingest = IngestClient(peers)
    return _Outbox(
        ("kind",),
        lambda loc, size, token: ingest.list_dead_letters(location_id=loc, page_size=size, page_token=token),
        lambda d: (str(d.kind),),
        lambda ids, loc: ingest.replay_dead_letters(ids, location_id=loc),
    )


async def list_command(
    peers: Peers, location_id: str, limit: int, *, service: str = "ingest", subscriber: str = ""
) -> int:
    source = _outbox(peers, service, subscriber)
    # Ids are what `replay` takes: never wrapped or cut, whatever the terminal's width.
    table = Table(
        Column("event_id", no_wrap=True, min_width=36),
        *source.columns,
        Column("lead_id", no_wrap=True, min_width=36),
        "location",
        "attempts",
        "dead-lettered",
        "last error",
    )
    shown, token = 0, ""
    try:
        while shown < limit:
            page, token = await source.page(location_id, min(500, limit - shown), token)
            for d in page:
                when = timestamps.from_proto(d.dead_letter_time)
                table.add_row(
                    d.event_id,
                    *source.cells(d),
                    d.lead_id or "-",
                    d.location_id or "-",
                    str(d.attempts),
                    when.isoformat(timespec="seconds") if when else "",
                    d.last_error[:80],
                )
            shown += len(page)
            if not token:
                break
    except PeerError as err:
        return fail(f"{service} could not list dead letters: {err.code.name}: {err.message}")
    if not shown:
        console.print("no dead letters")
        return 0
    console.print(table)
    if token:
        console.print(f"(first {shown}; raise --limit to see more)")
    return 0


async def replay_command(
    peers: Peers,
    event_ids: list[str],
    location_id: str,
    replay_all: bool,
    *,
    service: str = "ingest",
    subscriber: str = "",
) -> int:
    if bool(event_ids) == replay_all:
        return fail("name the EVENT_IDs to replay, or pass --all (not both)")
    try:
        source = _outbox(peers, service, subscriber)
        moved = await source.replay(None if replay_all else event_ids, location_id)
    except PeerError as err:
        return fail(f"{service} refused the replay: {err.code.name}: {err.message}")
    console.print(f"{moved} dead letter{'s' if moved != 1 else ''} back on the outbox")
    return 0

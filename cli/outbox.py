"""`leadengine outbox list|replay`: the dead letters of ingest's outbox, over gRPC only
(ListDeadLetters, ReplayDeadLetters), for the operator who fixed what made them fail."""

from __future__ import annotations

from rich.table import Column, Table

from cli.terminal import console, fail
from shared import timestamps
from shared.clients import IngestClient, PeerError, Peers


async def list_command(peers: Peers, location_id: str, limit: int) -> int:
    client = IngestClient(peers)
    # Ids are what `replay` takes: never wrapped or cut, whatever the terminal's width.
    table = Table(
        Column("event_id", no_wrap=True, min_width=36),
        "kind",
        Column("lead_id", no_wrap=True, min_width=36),
        "location",
        "attempts",
        "dead-lettered",
        "last error",
    )
    shown, token = 0, ""
    try:
        while shown < limit:
            page, token = await client.list_dead_letters(
                location_id=location_id, page_size=min(500, limit - shown), page_token=token
            )
            for d in page:
                when = timestamps.from_proto(d.dead_letter_time)
                table.add_row(
                    d.event_id,
                    str(d.kind),
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
        return fail(f"ingest could not list dead letters: {err.code.name}: {err.message}")
    if not shown:
        console.print("no dead letters")
        return 0
    console.print(table)
    if token:
        console.print(f"(first {shown}; raise --limit to see more)")
    return 0


async def replay_command(peers: Peers, event_ids: list[str], location_id: str, replay_all: bool) -> int:
    if bool(event_ids) == replay_all:
        return fail("name the EVENT_IDs to replay, or pass --all (not both)")
    try:
        moved = await IngestClient(peers).replay_dead_letters(
            None if replay_all else event_ids, location_id=location_id
        )
    except PeerError as err:
        return fail(f"ingest refused the replay: {err.code.name}: {err.message}")
    console.print(f"{moved} dead letter{'s' if moved != 1 else ''} back on the outbox")
    return 0

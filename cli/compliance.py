"""`leadengine compliance export` and `leadengine cadence simulate`: the coordinator's
proof per send written to a file, and the dry run of a cadence over a file of leads.

Both talk to a running coordinator (COORDINATOR_ADDR) over gRPC only.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import grpc
from google.protobuf import duration_pb2, json_format
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from rich.markup import escape
from rich.table import Table

from cli import importer
from cli.terminal import console, fail
from shared import timestamps
from shared.clients import Peers

EXPORT_COLUMNS = (
    "communication_id",
    "lead_id",
    "location_id",
    "step_key",
    "channel",
    "address",
    "decision",
    "reason",
    "consent_entry_id",
    "gates",
    "zones",
    "states",
    "recipient_reasons",
    "rules_version",
    "evaluate_time",
    "send_time",
    "evaluations",
)
SHOWN = 40  # planned rows printed; --json prints them all


def _when(ts: Any, present: bool) -> str:
    moment = timestamps.from_proto(ts) if present else None
    return moment.isoformat() if moment is not None else ""


def export_row(record: pb.ComplianceRecord) -> dict[str, Any]:
    """One record, flat: lists joined with "; ", the gates as JSON (CSV keeps one cell)."""
    return {
        "communication_id": record.communication_id,
        "lead_id": record.lead_id,
        "location_id": record.location_id,
        "step_key": record.step_key,
        "channel": common_pb2.Channel.Name(record.channel).removeprefix("CHANNEL_"),
        "address": record.address,
        "decision": record.decision,
        "reason": record.reason,
        "consent_entry_id": record.consent_entry_id or "",
        "gates": [{"gate": g.gate, "verdict": g.verdict, "detail": g.detail} for g in record.gates],
        "zones": list(record.recipient.zones),
        "states": list(record.recipient.states),
        "recipient_reasons": list(record.recipient.reasons),
        "rules_version": record.rules_version,
        "evaluate_time": _when(record.evaluate_time, record.HasField("evaluate_time")),
        "send_time": _when(record.send_time, record.HasField("send_time")),
        "evaluations": record.evaluations,
    }


def write_rows(rows: list[dict[str, Any]], fmt: str, out: TextIO, *, header: bool) -> None:
    if fmt == "jsonl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    if header:
        writer.writeheader()
    for row in rows:
        flat = dict(row)
        flat["gates"] = json.dumps(row["gates"], ensure_ascii=False)
        for name in ("zones", "states", "recipient_reasons"):
            flat[name] = "; ".join(row[name])
        writer.writerow(flat)


async def export(peers: Peers, location: str, start: datetime, end: datetime, fmt: str, out: TextIO) -> int:
    """Pages through ListComplianceRecords, writing as it goes; returns how many."""
    token, count = "", 0
    while True:
        resp = await peers.coordinator.ListComplianceRecords(
            pb.ListComplianceRecordsRequest(
                location_id=location,
                start_time=timestamps.to_proto(start),
                end_time=timestamps.to_proto(end),
                page_size=500,
                page_token=token,
            ),
            timeout=30,
        )
        write_rows([export_row(r) for r in resp.records], fmt, out, header=count == 0)
        count += len(resp.records)
        token = resp.next_page_token
        if not token:
            return count


async def export_command(
    peers: Peers, location: str, start: datetime, end: datetime, fmt: str, output: Path | None
) -> int:
    buffer = io.StringIO()
    try:
        count = await export(peers, location, start, end, fmt, buffer)
    except grpc.aio.AioRpcError as err:
        return fail(f"the coordinator refused the export: {err.code().name}: {err.details()}")
    if output is None:
        sys.stdout.write(buffer.getvalue())
    else:
        try:
            await asyncio.to_thread(output.write_text, buffer.getvalue(), encoding="utf-8")
        except OSError as err:
            return fail(f"cannot write {output}: {err}")
        console.print(f"{count} compliance records written to {escape(str(output))}")
    return 0


# -- cadence simulate ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyArg:
    lead_index: int
    after: timedelta
    body: str


def parse_reply(raw: str) -> ReplyArg:
    """INDEX:HOURS:BODY, e.g. 3:26.5:stop texting me."""
    parts = raw.split(":", 2)
    if len(parts) != 3:
        raise ValueError(f"{raw!r} is not INDEX:HOURS:BODY")
    index, hours = int(parts[0]), float(parts[1])
    if index < 0 or hours < 0:
        raise ValueError(f"{raw!r}: INDEX and HOURS must not be negative")
    return ReplyArg(index, timedelta(hours=hours), parts[2])


def _leads(path: Path) -> Iterator[ingest_pb.Lead]:
    for row, lead, _ in importer.read_leads(path):
        if isinstance(lead, importer.RowError):
            raise ValueError(f"row {row}: {lead.field}: {lead.reason}")
        yield lead


async def simulate_command(
    peers: Peers,
    *,
    location: str,
    leads_file: Path,
    cadence_id: str,
    start: datetime,
    days: int,
    replies: list[ReplyArg],
    as_json: bool,
) -> int:
    try:
        leads = await asyncio.to_thread(lambda: list(_leads(leads_file)))
    except (OSError, ValueError, csv.Error) as err:
        return fail(f"cannot read {leads_file}: {err}")
    request = pb.SimulateCadenceRequest(
        location_id=location,
        cadence_id=cadence_id,
        leads=leads,
        start_time=timestamps.to_proto(start),
        horizon_days=days,
        replies=[
            pb.SimulatedReply(
                lead_index=r.lead_index,
                after=duration_pb2.Duration(seconds=int(r.after.total_seconds())),
                body=r.body,
            )
            for r in replies
        ],
    )
    try:
        resp = await peers.coordinator.SimulateCadence(request, timeout=600)
    except grpc.aio.AioRpcError as err:
        return fail(f"the coordinator refused the simulation: {err.code().name}: {err.details()}")
    if as_json:
        for planned in resp.planned:
            sys.stdout.write(json_format.MessageToJson(planned, indent=None) + "\n")
        return 0
    _print_plan(list(resp.planned), len(leads))
    return 0


def _print_plan(planned: list[pb.PlannedMessage], lead_count: int) -> None:
    table = Table(title=f"{len(planned)} planned messages for {lead_count} leads")
    for name in ("lead", "step", "channel", "status", "send time (UTC)", "reason"):
        table.add_column(name)
    for p in sorted(planned, key=lambda p: (p.lead_index, p.step_index))[:SHOWN]:
        table.add_row(
            str(p.lead_index),
            str(p.step_index),
            common_pb2.Channel.Name(p.channel).removeprefix("CHANNEL_"),
            pb.CommunicationStatus.Name(p.status).removeprefix("COMMUNICATION_STATUS_"),
            _when(p.send_time, p.HasField("send_time")),
            escape(p.reason),
        )
    console.print(table)
    held = sum(
        1 for p in planned if p.status == pb.COMMUNICATION_STATUS_SCHEDULED and not p.HasField("send_time")
    )
    counts = Counter(
        pb.CommunicationStatus.Name(p.status).removeprefix("COMMUNICATION_STATUS_") for p in planned
    )
    console.print(
        f"would send {counts['SCHEDULED'] - held}, held for review {held}, blocked {counts['BLOCKED']}"
        + (f" (first {SHOWN} shown; --json prints all)" if len(planned) > SHOWN else "")
    )

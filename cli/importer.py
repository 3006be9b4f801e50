"""`leadengine import FILE.csv|FILE.jsonl --location LOC`: bulk-load a file of leads through ImportLeads.

Rows are read and converted here, then streamed to ingest in chunks; ingest
validates them again and writes them with COPY. Problems found on either side
land in one validation report (row, field, reason) and never stop the good rows.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import grpc
from leadengine.ingest.v1 import ingest_service_pb2 as pb
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TimeRemainingColumn
from rich.table import Table

from cli.terminal import console, fail
from shared.clients import Peers

# Rows per ImportLeads stream. Ingest itemises at most 1,000 rejections per stream, so with
# chunks this size every rejected row is named in the report.
CHUNK = 1000
SHOWN = 50  # report rows printed; the --report file holds them all

TEXT_COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "timezone",
    "company",
    "city",
    "state",
    "country",
    "job_title",
    "seniority",
    "external_contact_id",
    "postal_code",
    "preferred_language",
)
BOOL_COLUMNS = ("sms_consent", "email_consent", "preapproved")
INT_COLUMNS = ("budget_usd", "timeline_months")
# The lead's last activity before the import (ISO 8601; a date alone is midnight UTC). A HighLevel
# contact export names it dateUpdated (or "last activity"); all spellings land in last_activity_time.
ACTIVITY_COLUMNS = ("last_activity_time", "last_activity", "lastactivity", "dateupdated", "date_updated")
COLUMNS = frozenset((*TEXT_COLUMNS, *BOOL_COLUMNS, *INT_COLUMNS, *ACTIVITY_COLUMNS, "source", "tags"))

_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0", ""})
_INTEGER = re.compile(r"^\$?\s*\d{1,3}(,\d{3})+$|^\$?\s*\d+$")
_TAG_SPLIT = re.compile(r"[,;]")
_SOURCES = frozenset(pb.LeadSource.keys())


@dataclass(frozen=True, order=True)
class Problem:
    row: int
    field: str
    reason: str


class RowError(Exception):
    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


@dataclass
class Report:
    read: int = 0
    imported: int = 0
    skipped: int = 0
    problems: list[Problem] = field(default_factory=list)
    ignored_columns: set[str] = field(default_factory=set)


# -- one record -> one Lead ------------------------------------------------------------------


def _source(value: Any) -> pb.LeadSource.ValueType:
    if value is None or value == "":
        return pb.LEAD_SOURCE_UNSPECIFIED  # ingest marks it LEAD_SOURCE_IMPORT
    if not isinstance(value, str):
        raise RowError("source", "NOT_A_STRING")
    name = "LEAD_SOURCE_" + re.sub(r"[\s-]+", "_", value.strip()).upper().removeprefix("LEAD_SOURCE_")
    if name not in _SOURCES:
        raise RowError("source", "UNKNOWN_SOURCE")
    return pb.LeadSource.Value(name)


def _bool(name: str, value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise RowError(name, "NOT_A_BOOLEAN")


def _int(name: str, value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise RowError(name, "NOT_AN_INTEGER")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str) and _INTEGER.match(value.strip()):
        result = int(re.sub(r"[$,\s]", "", value))
    else:
        raise RowError(name, "NOT_AN_INTEGER")
    if not -(2**63) <= result < 2**63:
        raise RowError(name, "OUT_OF_RANGE")
    return result


def _text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RowError(name, "NOT_A_STRING")
    return str(value)  # a phone written as a JSON number is still a phone


def _tags(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [t.strip() for t in _TAG_SPLIT.split(value) if t.strip()]
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return value
    raise RowError("tags", "NOT_A_LIST")


def lead_from_record(record: Mapping[str, Any]) -> pb.Lead:
    """A file row as a Lead; raises RowError naming the first column it cannot read."""
    lead = pb.Lead()
    for name in TEXT_COLUMNS:
        setattr(lead, name, _text(name, record.get(name)))
    for name in BOOL_COLUMNS:
        setattr(lead, name, _bool(name, record.get(name)))
    for name in INT_COLUMNS:
        setattr(lead, name, _int(name, record.get(name)))
    lead.source = _source(record.get("source"))
    lead.tags.extend(_tags(record.get("tags")))
    for name in ACTIVITY_COLUMNS:
        at = _time(name, record.get(name))
        if at is not None:
            lead.last_activity_time.FromDatetime(at)
            break
    return lead


def _time(name: str, value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RowError(name, "NOT_A_TIME")
    try:
        at = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise RowError(name, "NOT_A_TIME") from None
    # A time without a zone is read as UTC: exports write either.
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).replace(tzinfo=None)


# -- reading files ---------------------------------------------------------------------------

Record = tuple[int, "pb.Lead | RowError", frozenset[str]]


def _records(path: Path) -> Iterator[Record]:
    """(row number, Lead or why not, unknown keys) for every data row; rows count from 1."""
    if path.suffix.lower() == ".csv":
        yield from _csv_records(path)
    else:
        yield from _jsonl_records(path)


def read_leads(path: Path) -> Iterator[Record]:
    """The rows of a .csv or .jsonl file of leads, as `import` reads them."""
    return _records(path)


def _convert(row: int, record: Mapping[str, Any]) -> Record:
    unknown = frozenset(k for k in record if k not in COLUMNS)
    try:
        return row, lead_from_record(record), unknown
    except RowError as err:
        return row, err, unknown


def _csv_records(path: Path) -> Iterator[Record]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = {(name or "").strip().lower() for name in reader.fieldnames or ()}
        if not header & COLUMNS:
            raise ValueError(
                f"{path.name} has no known column; expected some of {', '.join(sorted(COLUMNS))}"
            )
        for row, raw in enumerate(reader, start=1):
            record = {(k or "").strip().lower(): v for k, v in raw.items() if k is not None}
            if None in raw:  # more cells than the header names
                yield row, RowError("row", "TOO_MANY_CELLS"), frozenset()
                continue
            yield _convert(row, record)


def _jsonl_records(path: Path) -> Iterator[Record]:
    with path.open("rb") as handle:
        for row, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)  # a line that is not UTF-8 is a ValueError too
            except (ValueError, RecursionError):
                yield row, RowError("line", "INVALID_JSON"), frozenset()
                continue
            if not isinstance(record, dict):
                yield row, RowError("line", "NOT_AN_OBJECT"), frozenset()
                continue
            yield _convert(row, {str(k).strip().lower(): v for k, v in record.items()})


def _count_rows(path: Path) -> int:
    """Lines after the header: the progress bar's total (a CSV cell may span lines, so approximate)."""
    with path.open("rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return max(0, lines - 1) if path.suffix.lower() == ".csv" else lines


def _take(records: Iterator[Record], count: int) -> list[Record]:
    chunk = []
    for record in records:
        chunk.append(record)
        if len(chunk) == count:
            break
    return chunk


# -- streaming -------------------------------------------------------------------------------


async def _send(peers: Peers, location_id: str, chunk: list[Record], report: Report) -> None:
    requests = []
    for row, lead, unknown in chunk:
        report.read += 1
        report.ignored_columns |= unknown
        if isinstance(lead, RowError):
            report.problems.append(Problem(row, lead.field, lead.reason))
        else:
            requests.append(pb.ImportLeadsRequest(location_id=location_id, lead=lead, row=row))
    if not requests:
        return
    resp = await peers.ingest.ImportLeads(iter(requests), timeout=max(120.0, len(requests) / 50))
    report.imported += resp.imported_count
    report.skipped += resp.skipped_count
    for rejection in resp.rejections:
        report.problems.append(
            Problem(rejection.row, rejection.field.removeprefix("lead."), rejection.reason)
        )


async def import_file(
    peers: Peers,
    path: Path,
    location_id: str,
    report: Report,
    *,
    chunk: int = CHUNK,
    progress: Progress | None = None,
) -> None:
    """Streams the file in chunks into report; reading the next chunk overlaps sending this one.
    Raises grpc.aio.AioRpcError when ingest refuses a stream: the report then holds the chunks
    before it, which are in."""
    total = await asyncio.to_thread(_count_rows, path)
    task = progress.add_task("importing leads", total=total) if progress is not None else None
    records = _records(path)
    pending = await asyncio.to_thread(_take, records, chunk)
    while pending:
        upcoming, _ = await asyncio.gather(
            asyncio.to_thread(_take, records, chunk), _send(peers, location_id, pending, report)
        )
        if progress is not None and task is not None:
            progress.advance(task, len(pending))
        pending = upcoming


def _print(report: Report, shown: int = SHOWN) -> None:
    rejected = len({p.row for p in report.problems})
    console.print(
        f"rows: {report.read} read, {report.imported} imported, {report.skipped} already there,"
        f" {rejected} rejected"
    )
    if report.ignored_columns:
        console.print(f"ignored columns: {escape(', '.join(sorted(report.ignored_columns)))}")
    if not report.problems:
        return
    table = Table("row", "field", "reason", title="validation report")
    for problem in sorted(report.problems)[:shown]:
        table.add_row(str(problem.row), escape(problem.field), problem.reason)
    console.print(table)
    if len(report.problems) > shown:
        console.print(f"... and {len(report.problems) - shown} more")


def write_report(report: Report, path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(("row", "field", "reason"))
        for problem in sorted(report.problems):
            writer.writerow((problem.row, problem.field, problem.reason))


async def run(path: Path, location_id: str, peers: Peers, *, report_path: Path | None = None) -> int:
    """0 when the import ran, rejected rows or not; 1 when it could not run or was cut short."""
    if path.suffix.lower() not in (".csv", ".jsonl"):
        return fail(f"{path} is neither .csv nor .jsonl")
    if not await asyncio.to_thread(path.is_file):
        return fail(f"{path} does not exist")
    if not location_id.strip():
        return fail("--location must name a location")
    columns = (*Progress.get_default_columns()[:1], BarColumn(), MofNCompleteColumn(), TaskProgressColumn())
    status = 0
    report = Report()
    try:
        with Progress(*columns, TimeRemainingColumn(), console=console) as progress:
            await import_file(peers, path, location_id.strip(), report, progress=progress)
    except (OSError, ValueError, csv.Error) as err:  # UnicodeDecodeError is a ValueError
        status = fail(f"cannot read {path}: {err}")
    except grpc.aio.AioRpcError as err:
        status = fail(f"ingest refused the import: {err.code().name}: {err.details()}")
    if status and not report.read:
        return status  # nothing was sent: there is no report to show
    _print(report)
    if report_path is not None:
        try:
            await asyncio.to_thread(write_report, report, report_path)
        except OSError as err:
            return fail(f"cannot write the report to {report_path}: {err}")
        console.print(f"report written to {escape(str(report_path))}")
    return status

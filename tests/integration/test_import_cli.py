"""`leadengine import` against a real ingest: good rows land, bad ones are reported, never fatal."""

from __future__ import annotations

import csv
import json
import uuid
from pathlib import Path

import pytest
from leadengine.ingest.v1 import ingest_service_pb2 as pb

from cli import importer
from cli.main import build_parser
from shared.clients import Peers
from tests.support import mesh


@pytest.fixture(scope="module")
async def m(migrated_dsn):
    async with mesh(migrated_dsn, only=("ingest",)) as running:
        yield running


async def leads_of(ingest, loc: str) -> dict[str, pb.Lead]:
    resp = await ingest.ListLeads(pb.ListLeadsRequest(location_id=loc, page_size=100), timeout=5)
    return {lead.first_name: lead for lead in resp.leads}


def read_report(path: Path) -> list[tuple[int, str, str]]:
    with path.open(newline="") as handle:
        return [(int(r["row"]), r["field"], r["reason"]) for r in csv.DictReader(handle)]


CSV_ROWS = [
    [
        "first_name",
        "last_name",
        "email",
        "phone",
        "tags",
        "budget_usd",
        "sms_consent",
        "source",
        "favourite_colour",
    ],
    [
        "Ana",
        "Silva",
        "Ana@Example.com",
        "(512) 555-0100",
        "buyer; Hot,tampa",
        "$450,000",
        "yes",
        "portal",
        "blue",
    ],
    ["Bad", "Budget", "bad.budget@example.com", "", "", "lots", "", "", ""],
    ["Bad", "Phone", "", "123", "", "", "", "", ""],
    ["Bad", "Email", "nope", "", "", "", "", "", ""],
    ["", "", "", "", "", "", "", "", ""],
    ["Bo", "Ng", "bo@example.com", "", "", "", "maybe", "", ""],
    ["Cy", "Ito", "cy@example.com", "+13035551234", "", "1200", "no", "open house", ""],
    ["Di", "Ray", "di@example.com", "", "", "", "", "billboard", ""],
]


def write_csv(path: Path) -> None:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(CSV_ROWS)


async def test_csv_import_loads_good_rows_and_reports_the_rest(m, tmp_path) -> None:
    loc = f"loc-{uuid.uuid4()}"
    source, report = tmp_path / "leads.csv", tmp_path / "report.csv"
    write_csv(source)
    status = await importer.run(source, loc, m.clients, report_path=report)
    assert status == 0
    found = await leads_of(m.clients.ingest, loc)
    assert set(found) == {"Ana", "Cy"}
    ana = found["Ana"]
    assert (ana.email, ana.phone, list(ana.tags)) == (
        "ana@example.com",
        "+15125550100",
        ["buyer", "hot", "tampa"],
    )
    assert (ana.budget_usd, ana.sms_consent, ana.source) == (450_000, True, pb.LEAD_SOURCE_PORTAL)
    assert (found["Cy"].source, found["Cy"].budget_usd) == (pb.LEAD_SOURCE_OPEN_HOUSE, 1200)
    assert read_report(report) == [
        (2, "budget_usd", "NOT_AN_INTEGER"),  # found here, before sending
        (3, "phone", "INVALID_PHONE"),  # found by ingest
        (4, "email", "INVALID_EMAIL"),
        (5, "lead", "EMPTY_LEAD"),
        (6, "sms_consent", "NOT_A_BOOLEAN"),
        (8, "source", "UNKNOWN_SOURCE"),
    ]
    # Running it again adds nothing and still reports the same rows.
    assert await importer.run(source, loc, m.clients, report_path=report) == 0
    assert set(await leads_of(m.clients.ingest, loc)) == {"Ana", "Cy"}
    assert len(read_report(report)) == 6


async def test_jsonl_import_with_rows_split_across_streams(m, tmp_path) -> None:
    loc = f"loc-{uuid.uuid4()}"
    source = tmp_path / "leads.jsonl"
    lines = [
        json.dumps({"first_name": "Eve", "tags": ["a", "b"], "preapproved": True, "timeline_months": 3}),
        "{not json",
        "",
        json.dumps(["not", "an", "object"]),
        json.dumps({"first_name": "Fay", "budget_usd": "12.5"}),
        json.dumps({"first_name": "Gus", "phone": 4155550199, "external_contact_id": "crm-7"}),
        json.dumps({"first_name": "Hal", "email": "bad@"}),
        json.dumps({"first_name": "Ivy", "timezone": "America/Denver", "country": "us"}),
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = importer.Report()
    await importer.import_file(m.clients, source, loc, report, chunk=2)  # four streams of two rows
    assert (report.read, report.imported, report.skipped) == (7, 3, 0)
    assert sorted(report.problems) == [
        importer.Problem(2, "line", "INVALID_JSON"),
        importer.Problem(4, "line", "NOT_AN_OBJECT"),
        importer.Problem(5, "budget_usd", "NOT_AN_INTEGER"),
        importer.Problem(7, "email", "INVALID_EMAIL"),
    ]
    found = await leads_of(m.clients.ingest, loc)
    assert set(found) == {"Eve", "Gus", "Ivy"}
    assert (list(found["Eve"].tags), found["Eve"].preapproved, found["Eve"].timeline_months) == (
        ["a", "b"],
        True,
        3,
    )
    assert (found["Gus"].phone, found["Gus"].external_contact_id) == ("+14155550199", "crm-7")
    assert (found["Ivy"].timezone, found["Ivy"].country) == ("America/Denver", "US")
    assert found["Ivy"].source == pb.LEAD_SOURCE_IMPORT


async def test_it_fails_only_when_it_cannot_run(m, tmp_path) -> None:
    loc = f"loc-{uuid.uuid4()}"
    assert await importer.run(tmp_path / "missing.csv", loc, m.clients) == 1
    odd = tmp_path / "leads.xlsx"
    odd.write_bytes(b"PK")
    assert await importer.run(odd, loc, m.clients) == 1
    headless = tmp_path / "nothing.csv"
    headless.write_text("colour,shape\nred,round\n")
    assert await importer.run(headless, loc, m.clients) == 1
    good = tmp_path / "leads.csv"
    write_csv(good)
    down = Peers({"ingest": "127.0.0.1:1"})  # nothing listens there
    try:
        assert await importer.run(good, loc, down) == 1
    finally:
        await down.close()
    assert await leads_of(m.clients.ingest, loc) == {}


def test_import_is_a_subcommand() -> None:
    args = build_parser().parse_args(["import", "leads.csv", "--location", "L1", "--report", "out.csv"])
    assert (args.command, args.file, args.location, args.report) == (
        "import",
        Path("leads.csv"),
        "L1",
        Path("out.csv"),
    )

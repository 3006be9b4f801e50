"""`leadengine compliance export` and `leadengine cadence simulate` against a real mesh."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cli import compliance
from cli.main import build_parser
from shared.clients import Peers
from tests.journeys import settled_first_touch, started_lead
from tests.support import Mesh


@pytest.fixture(scope="module")
async def peers(m: Mesh):  # type: ignore[no-untyped-def]
    clients = Peers({"coordinator": m.addr["coordinator"]})
    yield clients
    await clients.close()


def test_the_commands_parse() -> None:
    args = build_parser().parse_args(
        ["compliance", "export", "--location", "loc", "--from", "2026-11-01", "--to", "2026-11-02T00:00Z"]
    )
    assert (args.command, args.action, args.format) == ("compliance", "export", "csv")
    assert args.start == datetime(2026, 11, 1, tzinfo=UTC)
    args = build_parser().parse_args(
        [
            "cadence",
            "simulate",
            "leads.csv",
            "--location",
            "loc",
            "--days",
            "3",
            "--reply",
            "0:26:stop texting me",
        ]
    )
    assert args.reply == [compliance.ReplyArg(0, timedelta(hours=26), "stop texting me")]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["cadence", "simulate", "x.csv", "--location", "l", "--reply", "oops"])


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_export_writes_every_record_of_the_location(m: Mesh, peers: Peers, fmt: str) -> None:
    lead = await started_lead(m)
    touch = await settled_first_touch(m, lead.lead_id)
    out = io.StringIO()
    now = datetime.now(UTC)
    count = await compliance.export(
        peers, lead.location_id, now - timedelta(hours=1), now + timedelta(hours=1), fmt, out
    )
    text = out.getvalue()
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        gates = json.loads(rows[0]["gates"])
    else:
        rows = [json.loads(line) for line in text.splitlines()]
        gates = rows[0]["gates"]
    assert count == len(rows) >= 1
    first = next(r for r in rows if r["step_key"] == "first_touch")
    assert (first["communication_id"], first["decision"]) == (touch.communication_id, "send")
    assert {g["gate"] for g in gates} >= {"consent", "time_window"}


async def test_simulate_reads_a_lead_file_and_prints_the_plan(
    peers: Peers, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "first_name,phone,email,sms_consent,state\n"
        "Ana,+13055550142,ana@example.com,yes,FL\n"
        "Ben,+18005550142,ben@example.com,yes,\n",
        encoding="utf-8",
    )
    status = await compliance.simulate_command(
        peers,
        location="loc-cli-sim",
        leads_file=leads,
        cadence_id="",
        start=datetime(2026, 6, 15, 16, 0, tzinfo=UTC),
        days=2,
        replies=[],
        as_json=True,
    )
    assert status == 0
    planned = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {p.get("leadIndex", 0) for p in planned} == {0, 1}
    held = [p for p in planned if p.get("leadIndex") == 1 and p["channel"] == "CHANNEL_SMS"]
    assert held
    assert all("sendTime" not in p for p in held)

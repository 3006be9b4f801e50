"""`leadengine campaign preview|start|status|pause|resume`: recovery campaigns of a running
mesh, through the coordinator's RPCs (COORDINATOR_ADDR), shown as rich tables."""

from __future__ import annotations

import argparse
import uuid

import grpc
from leadengine.common.v1 import common_pb2
from leadengine.coordinator.v1 import coordinator_service_pb2 as pb
from leadengine.ingest.v1 import ingest_service_pb2 as ingest_pb
from rich.markup import escape
from rich.table import Table

from cli.terminal import console, fail
from shared.clients import Peers

SOURCES = {
    ingest_pb.LeadSource.Name(v).removeprefix("LEAD_SOURCE_").lower(): v
    for v in ingest_pb.LeadSource.values()
    if v != ingest_pb.LEAD_SOURCE_UNSPECIFIED
}


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "campaign",
        help="preview, start and follow recovery campaigns in a running mesh",
        description="Recovery ('database reactivation') campaigns, through the coordinator"
        " (COORDINATOR_ADDR).",
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    definition = argparse.ArgumentParser(add_help=False)
    definition.add_argument("--location", required=True, help="location (sub-account) id")
    definition.add_argument("--name", default="Recovery campaign", help="the campaign's name")
    definition.add_argument("--daily-limit", type=int, required=True, help="most leads enrolled a day")
    definition.add_argument("--min-days-inactive", type=int, default=0, help="only leads quiet this long")
    definition.add_argument("--tag", action="append", default=[], help="only leads with one of these tags")
    definition.add_argument(
        "--source", action="append", default=[], choices=sorted(SOURCES), help="only leads from these sources"
    )
    definition.add_argument("--max-score", type=float, default=0.0, help="only leads scoring at most this")
    definition.add_argument("--cadence", default="", help="cadence id (default: the recovery cadence)")
    q = actions.add_parser(
        "preview", parents=[definition], help="audience size, sample messages, gate verdicts; writes nothing"
    )
    q.add_argument("--sample", type=int, default=5, help="leads shown with their first message (max 20)")
    q = actions.add_parser("start", parents=[definition], help="start the campaign")
    q.add_argument("--request-id", default="", help="idempotency key (default: a new one)")
    q = actions.add_parser("status", help="one campaign's counts, or every campaign of a location")
    q.add_argument("campaign_id", nargs="?", default="", help="campaign id")
    q.add_argument(
        "--location", default="", help="the campaign's location; alone, list this location's campaigns"
    )
    for action in ("pause", "resume"):
        q = actions.add_parser(action, help=f"{action} a campaign")
        q.add_argument("campaign_id", help="campaign id")
        q.add_argument("--location", required=True, help="the campaign's location (sub-account) id")


def _campaign(args: argparse.Namespace) -> pb.Campaign:
    return pb.Campaign(
        location_id=args.location,
        name=args.name,
        cadence_id=args.cadence,
        daily_limit=args.daily_limit,
        audience=pb.CampaignAudience(
            min_days_inactive=args.min_days_inactive,
            tags=args.tag,
            sources=[SOURCES[s] for s in args.source],
            max_score=args.max_score,
        ),
    )


def _state(state: int) -> str:
    return pb.CampaignState.Name(state).removeprefix("CAMPAIGN_STATE_").lower()  # type: ignore[arg-type]


def campaigns_table(campaigns: list[pb.Campaign]) -> Table:
    """A location's campaigns, one row each."""
    table = Table("campaign", "name", "state", "audience", "enrolled", "sent", "replied", title="campaigns")
    for c in campaigns:
        n = c.counts
        table.add_row(
            c.campaign_id,
            escape(c.name),
            _state(c.state),
            *(str(v) for v in (n.audience, n.enrolled, n.sent, n.replied)),
        )
    return table


def campaign_table(c: pb.Campaign) -> Table:
    """One campaign, field by field."""
    table = Table("", "", title=escape(c.name), show_header=False)
    n = c.counts
    a = c.audience
    audience = ", ".join(
        part
        for part in (
            f"quiet {a.min_days_inactive}+ days" if a.min_days_inactive else "",
            f"tags {', '.join(a.tags)}" if a.tags else "",
            "sources "
            + ", ".join(ingest_pb.LeadSource.Name(s).removeprefix("LEAD_SOURCE_").lower() for s in a.sources)
            if a.sources
            else "",
            f"score <= {a.max_score:g}" if a.max_score else "",
        )
        if part
    )
    for name, value in (
        ("campaign", c.campaign_id),
        ("location", c.location_id),
        ("state", _state(c.state)),
        ("cadence", c.cadence_id),
        ("audience filter", audience or "every lead of the location"),
        ("daily limit", str(c.daily_limit)),
        ("audience", str(n.audience)),
        ("enrolled", str(n.enrolled)),
        ("skipped", str(n.skipped)),
        ("sent", str(n.sent)),
        ("replied", str(n.replied)),
        ("opted out", str(n.opted_out)),
        ("converted", str(n.converted)),
    ):
        table.add_row(name, escape(value))
    return table


def preview_tables(resp: pb.PreviewCampaignResponse) -> tuple[Table, Table]:
    summary = Table("audience", "days to enrol", "would send", "would hold", "would block", title="preview")
    summary.add_row(
        str(resp.audience_size),
        str(resp.days_to_enroll),
        str(resp.would_send),
        str(resp.would_hold),
        str(resp.would_block),
    )
    sample = Table("lead", "channel", "verdict", "first message", title="sample (nothing was sent or stored)")
    for lead in resp.sample:
        channel = common_pb2.Channel.Name(lead.channel).removeprefix("CHANNEL_").lower()
        verdict = pb.CommunicationStatus.Name(lead.status).removeprefix("COMMUNICATION_STATUS_").lower()
        if lead.status_reason:
            verdict += f": {lead.status_reason}"
        text = f"{lead.subject}\n{lead.body}" if lead.subject else lead.body
        sample.add_row(escape(lead.lead_name or lead.lead_id), channel, escape(verdict), escape(text))
    return summary, sample


async def run(args: argparse.Namespace, peers: Peers) -> int:
    coordinator = peers.coordinator
    try:
        if args.action == "preview":
            resp = await coordinator.PreviewCampaign(
                pb.PreviewCampaignRequest(campaign=_campaign(args), sample_size=args.sample), timeout=120
            )
            for table in preview_tables(resp):
                console.print(table)
            return 0
        if args.action == "start":
            started = await coordinator.StartCampaign(
                pb.StartCampaignRequest(
                    campaign=_campaign(args), request_id=args.request_id or str(uuid.uuid4())
                ),
                timeout=30,
            )
            console.print(campaign_table(started.campaign))
            console.print(
                f"follow it with: leadengine campaign status {started.campaign.campaign_id}"
                f" --location {started.campaign.location_id}"
            )
            return 0
        if args.action == "pause":
            paused = await coordinator.PauseCampaign(
                pb.PauseCampaignRequest(
                    campaign_id=args.campaign_id, location_id=args.location, request_id=str(uuid.uuid4())
                ),
                timeout=30,
            )
            console.print(campaign_table(paused.campaign))
            return 0
        if args.action == "resume":
            resumed = await coordinator.ResumeCampaign(
                pb.ResumeCampaignRequest(
                    campaign_id=args.campaign_id, location_id=args.location, request_id=str(uuid.uuid4())
                ),
                timeout=30,
            )
            console.print(campaign_table(resumed.campaign))
            return 0
        if args.campaign_id:
            if not args.location:
                return fail("status CAMPAIGN_ID needs --location, the campaign's location (sub-account) id")
            got = await coordinator.GetCampaign(
                pb.GetCampaignRequest(campaign_id=args.campaign_id, location_id=args.location), timeout=30
            )
            console.print(campaign_table(got.campaign))
            return 0
        if not args.location:
            return fail("status needs a CAMPAIGN_ID or --location")
        listed = await coordinator.ListCampaigns(
            pb.ListCampaignsRequest(location_id=args.location), timeout=30
        )
        console.print(campaigns_table(list(listed.campaigns)))
        return 0
    except grpc.aio.AioRpcError as err:
        return fail(f"coordinator answered {err.code().name}: {err.details()}")

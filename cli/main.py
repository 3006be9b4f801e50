"""`leadengine`: run the mesh locally, migrate it, load it with synthetic data, trace a lead through it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cli import bench_names, campaign, compliance, content_data, demo, importer, outbox, seed, timeline, up
from cli.database import SERVICES
from cli.terminal import fail
from shared import config, transport
from shared.clients import Peers


def _count(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{raw} must not be negative")
    return value


def _seconds(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{raw} must be more than 0")
    return value


_UNITS = {"s": 1, "m": 60, "h": 3600}


def _duration(raw: str) -> timedelta:
    """'5s', '2m', '1h' or plain seconds; more than zero."""
    text = raw.strip().lower()
    unit = _UNITS.get(text[-1:], 0)
    try:
        value = float(text[:-1] if unit else text) * (unit or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a duration such as 5s, 2m or 1h") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{raw} must be more than 0")
    return timedelta(seconds=value)


def _instant(raw: str) -> datetime:
    """ISO 8601 with a zone or Z; a bare date is midnight UTC."""
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not an ISO 8601 time, e.g. 2026-11-27T09:00Z") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _reply(raw: str) -> compliance.ReplyArg:
    try:
        return compliance.parse_reply(raw)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _compliance_commands(commands: Any) -> None:
    p = commands.add_parser(
        "compliance",
        help="export the coordinator's compliance records",
        description="Talks to a running coordinator (COORDINATOR_ADDR) over gRPC.",
    )
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    e = sub.add_parser(
        "export",
        help="write a location's compliance records (proof per send) as CSV or JSONL",
        description="Every automated message's record evaluated in [--from, --to): each gate and its verdict,"
        " the consent ledger entry, the recipient's zone/state and why, the rules version.",
    )
    e.add_argument("--location", required=True, help="location (sub-account) id")
    e.add_argument("--from", dest="start", type=_instant, required=True, help="ISO 8601 start (inclusive)")
    e.add_argument("--to", dest="end", type=_instant, required=True, help="ISO 8601 end (exclusive)")
    e.add_argument("--format", choices=["csv", "jsonl"], default="csv", help="output format (default csv)")
    e.add_argument("--output", type=Path, help="write to this file instead of stdout")

    p = commands.add_parser(
        "cadence",
        help="dry-run a cadence over a file of leads",
        description="Talks to a running coordinator (COORDINATOR_ADDR) over gRPC.",
    )
    sub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    s = sub.add_parser(
        "simulate",
        help="what a cadence would send to these leads, when, and what would be held or blocked",
        description="SimulateCadence: the production gates, writing nothing. Leads are read like `import`"
        " reads them (.csv or .jsonl); each lead's phone, zone, state and consent are taken as given.",
    )
    s.add_argument("leads", type=Path, help="FILE.csv or FILE.jsonl of leads")
    s.add_argument("--location", required=True, help="location whose cadence, consent policy and caps apply")
    s.add_argument("--cadence-id", default="", help="a stored cadence (default: the location's default)")
    s.add_argument("--start", type=_instant, help="ISO 8601 start (default: now)")
    s.add_argument("--days", type=_count, default=30, help="horizon in days (default 30)")
    s.add_argument(
        "--reply",
        type=_reply,
        action="append",
        default=[],
        metavar="INDEX:HOURS:BODY",
        help="lead INDEX replies BODY after HOURS (repeatable)",
    )
    s.add_argument("--json", action="store_true", help="print every planned message as JSON lines")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leadengine",
        description="LeadEngine: lead recovery and nurture for real-estate teams on HighLevel.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".leadengine"),
        help="where the embedded PostgreSQL keeps its data and `up` writes logs (default: .leadengine)",
    )

    p = commands.add_parser(
        "up",
        parents=[data_dir],
        help="run the whole mesh in the foreground",
        description="Start PostgreSQL (embedded unless DATABASE_URL is set), migrate every schema, start the"
        " five services and the gateway, and stay in the foreground until Ctrl-C or SIGTERM.",
    )
    p.add_argument("--timeout", type=_seconds, default=60.0, help="seconds each process has to get healthy")
    p.add_argument(
        "--stop-timeout",
        type=_seconds,
        default=10.0,
        help="seconds between SIGTERM and SIGKILL on the way out",
    )

    commands.add_parser(
        "migrate",
        parents=[data_dir],
        help="migrate every service's schema",
        description="Apply pending migrations of every service to DATABASE_URL (or the embedded server).",
    )

    p = commands.add_parser(
        "seed",
        help="load synthetic agents, leads and events into a running mesh",
        description="Talks to a running mesh over gRPC only (INGEST_ADDR, ROUTING_ADDR; default localhost)."
        " Deterministic: the same --seed loads the same data, and loading it again changes nothing.",
    )
    p.add_argument("--location", required=True, help="location (sub-account) id to load into")
    p.add_argument("--agents", type=_count, default=5, help="agents to upsert (default 5)")
    p.add_argument("--leads", type=_count, default=1000, help="leads to import (default 1000)")
    p.add_argument(
        "--events", type=_count, default=20, help="behaviour events to record; each may trigger a message"
    )
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")

    p = commands.add_parser(
        "demo",
        help="trace one new lead through a running mesh",
        description="Creates one lead where it is daytime now, then follows it: stored, scored, routed,"
        " message written, communication recorded, with milliseconds since the lead was sent.",
    )
    p.add_argument(
        "--location", default=seed.DEMO_LOCATION, help=f"location id (default {seed.DEMO_LOCATION})"
    )
    p.add_argument("--timeout", type=_seconds, default=30.0, help="seconds to wait for every step")
    p.add_argument(
        "--followup-after",
        type=_duration,
        metavar="DURATION",
        help="also show a follow-up step: makes the location's default cadence a text now and one"
        " DURATION later (e.g. 5s), waits for the scheduler to send it, then prints the lead's timeline",
    )

    p = commands.add_parser(
        "timeline",
        help="show every decision about one lead, oldest first",
        description="Asks the coordinator (COORDINATOR_ADDR) for the lead's decision timeline: stored,"
        " scored, routed, each message written and each gate's verdict, status changes, replies, opt-outs.",
    )
    p.add_argument("lead_id", metavar="LEAD_ID", help="the lead's id")
    p.add_argument("--location", required=True, help="the lead's location (sub-account) id")
    p.add_argument("--details", action="store_true", help="add a column with each entry's details as JSON")

    p = commands.add_parser(
        "import",
        help="bulk-load leads from a CSV or JSONL file into a running mesh",
        description="Streams FILE through ingest's ImportLeads (INGEST_ADDR). Rows that cannot be read or"
        " that ingest rejects go into one validation report and never stop the good rows.",
    )
    p.add_argument("file", type=Path, help="FILE.csv (with a header row) or FILE.jsonl (one object a line)")
    p.add_argument("--location", required=True, help="location (sub-account) id to load into")
    p.add_argument("--report", type=Path, help="also write the validation report to this CSV file")

    p = commands.add_parser(
        "import-market",
        help="load market facts (median price, days on market, inventory) per ZIP or city",
        description="Sends FILE.csv to content's ImportMarketFacts (CONTENT_ADDR). Header: zip,city,"
        "median_price_usd,days_on_market,inventory,as_of_date (one of zip and city per row). A row"
        " replaces its area's stored one unless that is newer; any bad row stops the whole file.",
    )
    p.add_argument("file", type=Path, help="FILE.csv with a header row")

    p = commands.add_parser(
        "load-templates",
        help="replace a location's template overrides (sandboxed Jinja2) from a JSON file",
        description="Sends FILE (a JSON list of {channel, purpose, language, subject, body}) to content's"
        " LoadTemplateOverrides (CONTENT_ADDR); content checks syntax, variables and guardrails and"
        " stores all or none. An empty list goes back to the built-in templates.",
    )
    p.add_argument("file", type=Path, help="FILE.json")
    p.add_argument("--location", required=True, help="location (sub-account) id")

    p = commands.add_parser(
        "content-settings",
        help="show or set a location's approval mode, value propositions and link domains",
        description="Without options, prints the location's content settings; each option given"
        " replaces that part (CONTENT_ADDR).",
    )
    p.add_argument("--location", required=True, help="location (sub-account) id")
    p.add_argument("--mode", choices=("autopilot", "suggest"), help="suggest: drafts wait for ApproveMessage")
    p.add_argument(
        "--value-prop", action="append", dest="value_props", help="a value proposition (repeat for more)"
    )
    p.add_argument("--link-domain", action="append", dest="domains", help="a domain messages may link to")

    p = commands.add_parser(
        "approve",
        help="approve a suggest-mode draft (optionally edited) and send it",
        description="Calls content's ApproveMessage (CONTENT_ADDR), then the coordinator's"
        " SendApprovedMessage (COORDINATOR_ADDR), which sends the step once after checking consent,"
        " quiet hours and caps again. Safe to repeat: the message is sent at most once.",
    )
    p.add_argument("message_id", help="the draft's message id (Communication.message_id)")
    p.add_argument("--agent", required=True, help="the approving agent's id")
    p.add_argument("--body", help="the agent's edited body (checked by every guardrail)")
    p.add_argument("--location", required=True, help="the lead's location (sub-account) id")

    commands.add_parser(
        "highlevel-install-url",
        help="print a HighLevel app install link (one-time, expiring)",
        description="Asks the coordinator (COORDINATOR_ADDR) for HighLevel's authorization URL with a"
        " fresh signed state; send it to the person who installs the app on a location. The callback"
        " refuses a code without a state we issued, an expired state and a used one"
        " (HIGHLEVEL_OAUTH_STATE_TTL_S). The gateway's GET /oauth/highlevel/start does the same for"
        " a browser.",
    )

    p = commands.add_parser(
        "fake-providers",
        help="run local fake Twilio, SendGrid and HighLevel APIs (demos and tests)",
        description="Serves the provider APIs the coordinator sends through, on 127.0.0.1, counting what"
        " they receive; Twilio posts signed status callbacks. Prints the settings that point the mesh"
        " at them.",
    )
    p.add_argument("--port", type=int, default=8099, help="port to listen on (default 8099)")
    p.add_argument(
        "--gateway",
        default="http://127.0.0.1:8080",
        help="the gateway's public base URL, where status callbacks go (default http://127.0.0.1:8080)",
    )
    p.add_argument(
        "--print-env", action="store_true", help="only print the settings, one NAME=value a line, and exit"
    )

    p = commands.add_parser(
        "bench",
        parents=[data_dir],
        help="measure the mesh on this machine (every headline figure), or one part of it",
        description="With no TARGET: every headline figure through real gRPC (high_intent_query,"
        " followup_history, route_lead, new_lead_orchestration, webhook_ingest, mixed) next to a baseline"
        " taken in the same run (the same reads straight from PostgreSQL, a bare gRPC health check), on a"
        " running mesh when one answers at <SVC>_ADDR, else on one started here and stopped after. The data"
        " set is loaded through the mesh and reused by later runs. With a TARGET: that bench alone.",
    )
    p.add_argument(
        "target",
        nargs="?",
        choices=["webhooks", "senders", "routing", "routing-model", "intelligence", "model"],
        help="webhooks; senders; routing (RouteLead latency with --agents agents in one location);"
        " routing-model (the success-model simulator against round-robin and naive Bayes, --seeds seeds);"
        " intelligence (scoring and high-intent listing at --leads leads); model (the conversion model"
        " against naive Bayes, --seeds seeds); none: every headline figure",
    )
    p.add_argument(
        "--agents", type=_count, default=1000, help="agents in the bench's location (default 1000)"
    )
    p.add_argument(
        "--routes", type=_count, default=2000, help="routing: RouteLead calls timed (default 2000)"
    )
    p.add_argument("--seeds", type=_count, default=5, help="routing-model, model: seeds to run (default 5)")
    p.add_argument(
        "--first-seed", type=_count, default=1, help="routing-model, model: first seed (default 1)"
    )
    p.add_argument("--events", type=_count, default=2000, help="webhooks to send (default 2000)")
    p.add_argument(
        "--concurrency",
        type=_count,
        help="calls in flight (default: 1 for every headline figure, 32 for webhooks)",
    )
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="the result as JSON: into FILE, or on stdout (instead of a table) without one",
    )
    p.add_argument(
        "--messages", type=_count, default=500, help="senders: messages per provider (default 500)"
    )
    p.add_argument(
        "--workers", type=_count, default=1, help="senders: schedulers sharing the work (default 1)"
    )
    p.add_argument("--leads", type=_count, default=100_000, help="leads in the data set (default 100000)")
    p.add_argument(
        "--requests", type=_count, default=2000, help="intelligence: calls per measurement (default 2000)"
    )
    p.add_argument("--duration", type=_seconds, default=10.0, help="seconds each scenario runs (default 10)")
    p.add_argument(
        "--rate",
        type=_seconds,
        default=250.0,
        help="mixed: first open-loop rate in calls/s, doubled while every p99 meets its target (default 250)",
    )
    p.add_argument(
        "--scenario",
        action="append",
        choices=list(bench_names.SCENARIOS),
        help="only this scenario (repeatable; default: all)",
    )
    p.add_argument(
        "--growth",
        action="store_true",
        help="also load and measure the reads at 10 k, 100 k and 1 M leads below --leads",
    )
    p.add_argument(
        "--own-mesh", action="store_true", help="start a mesh for the run even when one is running"
    )
    p.add_argument("--reseed", action="store_true", help="load the data set again even when it is there")
    campaign.add_parser(commands)

    p = commands.add_parser(
        "outbox",
        help="list or replay the outbox events ingest or routing gave up on (dead letters)",
        description="Talks to ingest (INGEST_ADDR), or with --service routing to routing (ROUTING_ADDR),"
        " over ListDeadLetters / ReplayDeadLetters. A replayed event goes back on the outbox with a"
        " fresh attempt count and the same event_id (routing: for the subscriber that refused it).",
    )
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("event_ids", nargs="*", metavar="EVENT_ID", help="replay: the events to put back")
    p.add_argument("--all", action="store_true", help="replay: every dead letter (of --location)")
    p.add_argument("--location", default="", help="only this location's dead letters")
    p.add_argument("--limit", type=_count, default=100, help="list: how many to show (default 100)")
    p.add_argument(
        "--service",
        choices=outbox.SERVICES,
        default="ingest",
        help="whose outbox: ingest's lead events (default) or routing's outcomes",
    )
    p.add_argument(
        "--subscriber", default="", help="routing only: only this subscriber's (coordinator, intelligence)"
    )
    _compliance_commands(commands)
    return parser


def _peers(names: Sequence[str], *, default_timeout_s: float = 30.0) -> Peers:
    # Under mutual TLS the CLI presents an operator certificate (the same GRPC_TLS_* files).
    return Peers(
        {name: config.peer_addr(os.environ, name) for name in names},
        default_timeout_s=default_timeout_s,
        tls=transport.from_env(os.environ),
    )


async def _seed(args: argparse.Namespace) -> int:
    # ImportLeads streams for minutes; the channel's backstop deadline must not cut it short.
    peers = _peers(("ingest", "routing", "intelligence"), default_timeout_s=3600.0)
    try:
        return await seed.run(
            location_id=args.location,
            agent_count=args.agents,
            lead_count=args.leads,
            event_count=args.events,
            seed=args.seed,
            peers=peers,
        )
    finally:
        await peers.close()


async def _import(args: argparse.Namespace) -> int:
    peers = _peers(("ingest",), default_timeout_s=3600.0)
    try:
        return await importer.run(args.file, args.location, peers, report_path=args.report)
    finally:
        await peers.close()


async def _content(args: argparse.Namespace) -> int:
    peers = _peers(("content",))
    try:
        if args.command == "import-market":
            return await content_data.import_market(args.file, peers)
        if args.command == "load-templates":
            return await content_data.load_templates(args.file, args.location, peers)
        return await content_data.content_settings(
            args.location, args.mode, args.value_props, args.domains, peers
        )
    finally:
        await peers.close()


async def _approve(args: argparse.Namespace) -> int:
    peers = _peers(("content", "coordinator"))
    try:
        return await content_data.approve(args.message_id, args.agent, args.body, args.location, peers)
    finally:
        await peers.close()


async def _install_url(args: argparse.Namespace) -> int:
    import grpc
    from leadengine.coordinator.v1 import coordinator_service_pb2 as coordinator_pb

    peers = _peers(("coordinator",))
    try:
        started = await peers.coordinator.StartHighLevelInstall(
            coordinator_pb.StartHighLevelInstallRequest(), timeout=10
        )
    except grpc.aio.AioRpcError as err:
        return fail(f"no install link: {err.code().name}: {err.details()}")
    finally:
        await peers.close()
    print(started.authorization_url)
    expire = started.expire_time.ToDatetime(tzinfo=UTC)
    print(f"valid once, until {expire:%Y-%m-%d %H:%M:%S} UTC", file=sys.stderr)
    return 0


async def _campaign(args: argparse.Namespace) -> int:
    peers = _peers(("coordinator",), default_timeout_s=120.0)
    try:
        return await campaign.run(args, peers)
    finally:
        await peers.close()


async def _outbox(args: argparse.Namespace) -> int:
    peers = _peers((args.service,))
    chosen = {"service": args.service, "subscriber": args.subscriber}
    try:
        if args.action == "list":
            return await outbox.list_command(peers, args.location, args.limit, **chosen)
        return await outbox.replay_command(peers, args.event_ids, args.location, args.all, **chosen)
    finally:
        await peers.close()


async def _compliance(args: argparse.Namespace) -> int:
    peers = _peers(("coordinator",), default_timeout_s=600.0)
    try:
        if args.command == "compliance":
            return await compliance.export_command(
                peers, args.location, args.start, args.end, args.format, args.output
            )
        return await compliance.simulate_command(
            peers,
            location=args.location,
            leads_file=args.leads,
            cadence_id=args.cadence_id,
            start=args.start or datetime.now(UTC),
            days=args.days,
            replies=args.reply,
            as_json=args.json,
        )
    finally:
        await peers.close()


async def _demo(args: argparse.Namespace) -> int:
    peers = _peers(SERVICES)
    try:
        return await demo.run(
            location_id=args.location,
            timeout_s=args.timeout,
            peers=peers,
            follow_up_after=args.followup_after,
        )
    finally:
        await peers.close()


async def _timeline(args: argparse.Namespace) -> int:
    peers = _peers(("coordinator",))
    try:
        return await timeline.run(args.lead_id, args.location, peers, with_details=args.details)
    finally:
        await peers.close()


def _bench_options(args: argparse.Namespace, argv: Sequence[str] | None) -> Any:
    from cli import bench_suite

    return bench_suite.Options(
        leads=args.leads,
        agents=args.agents,
        duration_s=args.duration,
        concurrency=args.concurrency or 1,
        rate=args.rate,
        scenarios=tuple(args.scenario or ()),
        json_path=None if args.json is None else Path(args.json),
        growth=args.growth,
        own_mesh=args.own_mesh,
        reseed=args.reseed,
        command=" ".join(["leadengine", *(sys.argv[1:] if argv is None else argv)]),
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)  # the embedded server's chatter stays out of the way
    try:
        if args.command == "up":
            return asyncio.run(up.up_command(args.data_dir, args.timeout, args.stop_timeout))
        if args.command == "migrate":
            return asyncio.run(up.migrate_command(args.data_dir))
        if args.command == "seed":
            return asyncio.run(_seed(args))
        if args.command == "import":
            return asyncio.run(_import(args))
        if args.command == "timeline":
            return asyncio.run(_timeline(args))
        if args.command in ("import-market", "load-templates", "content-settings"):
            return asyncio.run(_content(args))
        if args.command == "approve":
            return asyncio.run(_approve(args))
        if args.command == "campaign":
            return asyncio.run(_campaign(args))
        if args.command == "highlevel-install-url":
            return asyncio.run(_install_url(args))
        if args.command == "fake-providers":
            from cli import fake_anthropic, fake_providers  # web servers: only loaded when asked for

            if args.print_env:
                base = f"http://127.0.0.1:{args.port}"
                settings = fake_providers.env_for(base, gateway_url=args.gateway)
                for name, value in (settings | fake_anthropic.env_for(base)).items():
                    print(f"{name}={value}")
                return 0
            return fake_providers.serve(args.port, args.gateway)
        if args.command == "outbox":
            return asyncio.run(_outbox(args))
        if args.command in ("compliance", "cadence"):
            return asyncio.run(_compliance(args))
        if args.command == "bench" and args.target is None:
            from cli import bench_suite  # starts a mesh: only loaded when asked for

            return asyncio.run(
                bench_suite.suite_command(args.data_dir, os.environ, _bench_options(args, argv))
            )
        if args.command == "bench" and args.target == "routing-model":
            from cli import routing_simulator

            return routing_simulator.simulate_command(args.seeds, args.first_seed)
        if args.command == "bench" and args.target == "routing":
            from cli import bench_routing

            return asyncio.run(
                bench_routing.routing_command(args.data_dir, os.environ, args.agents, args.routes)
            )
        if args.command == "bench":
            if args.target == "intelligence":
                from cli import intelligence_bench

                return asyncio.run(
                    intelligence_bench.intelligence_command(
                        args.data_dir, os.environ, args.leads, 0.3, args.requests
                    )
                )
            if args.target == "model":
                from cli import model_bench

                return model_bench.command(args.seeds, args.json is not None, args.first_seed)
            from cli import bench  # starts servers in-process: only loaded when asked for

            if args.target == "senders":
                from cli import bench_senders

                return asyncio.run(
                    bench_senders.senders_command(
                        args.data_dir, os.environ, args.messages, args.workers, args.json is not None
                    )
                )
            return asyncio.run(
                bench.webhooks_command(
                    args.data_dir, os.environ, args.events, args.concurrency or 32, args.json is not None
                )
            )
        return asyncio.run(_demo(args))
    except config.ConfigError as err:
        return fail(str(err))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

"""`leadengine`: run the mesh locally, migrate it, load it with synthetic data, trace a lead through it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from cli import demo, importer, seed, up
from cli.database import SERVICES
from cli.terminal import fail
from shared import config
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
        "bench",
        parents=[data_dir],
        help="measure signed webhooks through the gateway and ingest on this machine",
        description="Runs ingest (on a scratch database of DATABASE_URL's server, or of the embedded one)"
        " and the gateway in this process, sends signed HighLevel ContactCreate webhooks, and prints 2xx/s"
        " and p50/p99 time to 2xx next to the same load on GET /healthz as the baseline.",
    )
    p.add_argument("target", choices=["webhooks", "intelligence", "model"], help="what to measure")
    p.add_argument("--events", type=_count, default=2000, help="webhooks to send (default 2000)")
    p.add_argument("--concurrency", type=_count, default=32, help="requests in flight (default 32)")
    p.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")
    p.add_argument(
        "--leads", type=_count, default=100_000, help="intelligence: leads to import (default 100000)"
    )
    p.add_argument(
        "--requests", type=_count, default=2000, help="intelligence: calls per measurement (default 2000)"
    )
    p.add_argument("--seeds", type=_count, default=5, help="model: synthetic populations (default 5)")
    return parser


def _peers(names: Sequence[str], *, default_timeout_s: float = 30.0) -> Peers:
    return Peers(
        {name: config.peer_addr(os.environ, name) for name in names}, default_timeout_s=default_timeout_s
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


async def _demo(args: argparse.Namespace) -> int:
    peers = _peers(SERVICES)
    try:
        return await demo.run(location_id=args.location, timeout_s=args.timeout, peers=peers)
    finally:
        await peers.close()


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

                return model_bench.command(args.seeds, args.json)
            from cli import bench  # starts servers in-process: only loaded when asked for

            return asyncio.run(
                bench.webhooks_command(args.data_dir, os.environ, args.events, args.concurrency, args.json)
            )
        return asyncio.run(_demo(args))
    except config.ConfigError as err:
        return fail(str(err))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

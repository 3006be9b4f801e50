"""`leadengine up` and `leadengine migrate`: the database, the schemas and the six processes."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Any

import grpc
from rich.table import Table

from cli import seed, supervisor
from cli.database import DatabaseError, database, describe, migrate_all
from cli.supervisor import Child, StartupError
from cli.terminal import console, errors
from shared import config
from shared.clients import Peers


async def migrate_command(data_dir: Path) -> int:
    env = dict(os.environ)
    try:
        async with database(data_dir, env) as dsn:
            console.print(f"database: {describe(dsn)}")
            applied = await migrate_all(dsn, env)
    except DatabaseError as err:
        errors.print(f"[bold red]migrate failed:[/] {err}")
        return 1
    table = Table("schema", "applied now")
    for service, versions in applied.items():
        table.add_row(service, ", ".join(versions) or "(up to date)")
    console.print(table)
    return 0


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


async def _interruptible(stop: asyncio.Event, work: asyncio.Future[Any]) -> bool:
    """Run work unless a signal arrives first; True when it finished."""
    stopper = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({work, stopper}, return_when=asyncio.FIRST_COMPLETED)
    if work in done:
        stopper.cancel()
        work.result()
        return True
    work.cancel()
    await asyncio.gather(work, return_exceptions=True)
    return False


async def _endpoints_table(children: list[Child]) -> Table:
    table = Table("process", "address", "health", "pid", title="LeadEngine mesh")
    health = await asyncio.gather(*(supervisor.health_of(c) for c in children))
    for child, state in zip(children, health, strict=True):
        scheme = "http://" if child.kind == "http" else ""
        pid = str(child.process.pid) if child.process else "-"
        colour = "green" if state == "SERVING" else "red"
        table.add_row(child.name, scheme + child.address, f"[{colour}]{state}[/]", pid)
    return table


async def _seed_demo_location(children: list[Child]) -> None:
    routing = next(c for c in children if c.name == "routing")
    peers = Peers({"routing": routing.address})
    try:
        agents, created = await seed.ensure_agents(peers, seed.DEMO_LOCATION)
    finally:
        await peers.close()
    if created:
        console.print(f"seeded {len(agents)} agents in location [bold]{seed.DEMO_LOCATION}[/]")


async def up_command(data_dir: Path, timeout_s: float, stop_timeout_s: float) -> int:
    env = dict(os.environ)
    stop = asyncio.Event()
    _stop_on_signals(stop)
    log_dir = data_dir / "logs"
    try:
        children = supervisor.plan(env, log_dir)
        supervisor.check_ports_free(children)
    except (config.ConfigError, StartupError) as err:
        errors.print(f"[bold red]up failed:[/] {err}")
        return 1
    await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)

    try:
        async with database(data_dir, env) as dsn:
            console.print(f"database: {describe(dsn)}")
            migrated = asyncio.create_task(migrate_all(dsn, env))
            if not await _interruptible(stop, migrated):
                return 0
            console.print("schemas migrated: " + ", ".join(c.name for c in children if c.kind == "grpc"))
            return await _run_mesh(
                children, supervisor.child_env(env, dsn, children), stop, timeout_s, stop_timeout_s
            )
    except DatabaseError as err:
        errors.print(f"[bold red]up failed:[/] {err}")
        return 1


async def _run_mesh(
    children: list[Child], env: dict[str, str], stop: asyncio.Event, timeout_s: float, stop_timeout_s: float
) -> int:
    status = 0
    try:
        for child in children:
            await supervisor.start(child, env)
        console.print(f"started {len(children)} processes; logs in {children[0].log_path.parent}/<name>.log")
        healthy = asyncio.create_task(supervisor.wait_all_healthy(children, timeout_s))
        if not await _interruptible(stop, healthy):
            return 0
        seeding = asyncio.create_task(_seed_demo_location(children))
        if not await _interruptible(stop, seeding):
            return 0
        console.print(await _endpoints_table(children))
        console.print(
            "[bold green]LeadEngine ready.[/] Try `leadengine demo` in another terminal;"
            " Ctrl-C stops everything."
        )
        exited = asyncio.create_task(supervisor.first_exit(children))
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({exited, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if exited in done:
            child = exited.result()
            # first_exit returns a child whose process has been waited for.
            assert child.process is not None
            assert child.process.returncode is not None
            errors.print(
                f"[bold red]{child.name} {supervisor.exit_description(child.process.returncode)}[/]"
                " unexpectedly;"
                f" stopping the mesh. Last lines of {child.log_path}:\n{supervisor.tail(child.log_path)}"
            )
            status = 1
        for task in (exited, stopper):
            task.cancel()
    except StartupError as err:
        errors.print(f"[bold red]up failed:[/] {err}")
        status = 1
    except grpc.aio.AioRpcError as err:
        errors.print(
            f"[bold red]up failed:[/] seeding {seed.DEMO_LOCATION}: {err.code().name}: {err.details()}"
        )
        status = 1
    finally:
        console.print("stopping...")
        killed = await supervisor.stop_all(children, stop_timeout_s)
        if killed:
            errors.print(f"[yellow]killed after {stop_timeout_s:g}s without exiting:[/] {', '.join(killed)}")
        console.print("stopped")
    return status

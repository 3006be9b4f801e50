"""The mesh `leadengine bench` measures: a running one when every service answers its health
check at the addresses `leadengine up` uses (<SVC>_ADDR), else one started here as `up` starts
it (child processes on free ports, embedded PostgreSQL unless DATABASE_URL) and stopped after.

CPU per request is read from /proc: utime + stime of each service process. For a mesh started
here the pids are known; for a running one they are found from the listening sockets, which
needs the processes to be ours to inspect (else the figure is reported as unknown, never 0).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2

from cli import supervisor
from cli.database import SERVICES, database, migrate_all
from shared import channels, config

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Mesh:
    addresses: dict[str, str]  # service -> host:port
    dsn: str  # the database server the services use (for the direct baseline)
    started_here: bool
    pids: dict[str, int] = field(default_factory=dict)  # service -> pid, where known

    def cpu_seconds(self) -> dict[str, float]:
        """Each known service process's CPU seconds so far (user + system)."""
        return {name: s for name, pid in self.pids.items() if (s := process_cpu_s(pid)) is not None}


def process_cpu_s(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    rest = stat.rsplit(")", 1)[1].split()
    return (int(rest[11]) + int(rest[12])) / CLOCK_TICKS


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                local, state, inode = cols[1], cols[3], cols[9]
                if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                    inodes.add(inode)
    return inodes


def pid_listening(port: int) -> int | None:
    """The process holding a listening socket on port, if /proc lets us see it."""
    wanted = {f"socket:[{i}]" for i in _listening_inodes(port)}
    if not wanted:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in wanted:
                        return int(proc.name)
    return None


async def _serving(address: str) -> bool:
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            resp = await channels.health_client(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=1.0
            )
        except grpc.aio.AioRpcError:
            return False
    return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)


async def running_mesh(env: Mapping[str, str]) -> dict[str, str] | None:
    """The addresses of a mesh whose five services all answer SERVING, else None."""
    addresses = {svc: config.peer_addr(env, svc) for svc in SERVICES}
    healthy = await asyncio.gather(*(_serving(a) for a in addresses.values()))
    return addresses if all(healthy) else None


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind((supervisor.HOST, 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


@contextlib.asynccontextmanager
async def mesh(data_dir: Path, env: Mapping[str, str], *, own: bool = False) -> AsyncIterator[Mesh]:
    """A running mesh (unless own), else one started here on free ports and stopped on the way out."""
    async with database(data_dir, env) as dsn:
        found = None if own else await running_mesh(env)
        if found is not None:
            pids = {}
            for svc, addr in found.items():
                pid = pid_listening(int(addr.rsplit(":", 1)[1]))
                if pid is not None:
                    pids[svc] = pid
            yield Mesh(found, dsn, started_here=False, pids=pids)
            return
        await migrate_all(dsn, env)
        ports = _free_ports(len(SERVICES) + 1)
        child_env = {k: v for k, v in env.items() if not k.endswith(("_ADDR", "_GRPC_PORT"))}
        for svc, port in zip(SERVICES, ports, strict=False):
            child_env[f"{svc.upper()}_GRPC_PORT"] = str(port)
        child_env["GATEWAY_PORT"] = str(ports[-1])
        log_dir = data_dir / "bench-logs"
        await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
        children = supervisor.plan(child_env, log_dir)
        try:
            run_env = supervisor.child_env(child_env, dsn, children)
            for child in children:
                await supervisor.start(child, run_env)
            await supervisor.wait_all_healthy(children, 120.0)
            grpc_children = [c for c in children if c.kind == "grpc"]
            yield Mesh(
                {c.name: c.address for c in grpc_children},
                dsn,
                started_here=True,
                pids={c.name: c.process.pid for c in grpc_children if c.process is not None},
            )
        finally:
            await supervisor.stop_all(children, 10.0)

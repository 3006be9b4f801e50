"""Services as real subprocesses (the production entry points, through `leadengine up`'s
supervisor) on a database of the test's own, so faults can be injected into whole processes:
SIGKILL and restart, a Redis taken away, PostgreSQL connections terminated."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import grpc

from cli import supervisor
from shared.clients import Peers

STARTUP_S = 60.0  # a loaded 2-core machine starts five Pythons slowly


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ProcessMesh:
    """Some of the services, each a child process on a fixed port, restartable after a kill."""

    def __init__(self, dsn: str, names: tuple[str, ...], log_dir: Path, extra_env: dict[str, str]) -> None:
        base = {
            k: v for k, v in os.environ.items() if not k.endswith(("_ADDR", "_GRPC_PORT", "_DATABASE_URL"))
        }
        base.update({f"{name.upper()}_GRPC_PORT": str(free_port()) for name in supervisor.SERVICES})
        base.update(extra_env)
        log_dir.mkdir(parents=True, exist_ok=True)
        every = supervisor.plan(base, log_dir)
        self.env = supervisor.child_env(base, dsn, every)
        self.children = {c.name: c for c in every if c.name in names}
        # Generous deadlines: a loaded machine is slow, and slowness is not what these tests judge.
        self.clients = Peers({c.name: c.address for c in every if c.kind == "grpc"}, default_timeout_s=30.0)
        self.kills: dict[str, int] = dict.fromkeys(names, 0)

    async def _spawn(self, child: supervisor.Child) -> None:
        # Not supervisor.start: its preexec_fn makes Python fork the long way, and a fork of this
        # gRPC-busy process then dies in gRPC's fork handling (SIGABRT, epoll on a closed fd).
        if child._log is not None:
            child._log.close()
        child._log = child.log_path.open("ab")
        child.process = await asyncio.create_subprocess_exec(
            *child.argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=child._log,
            stderr=asyncio.subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
        )

    async def start(self) -> None:
        for child in self.children.values():
            await self._spawn(child)
        await supervisor.wait_all_healthy(list(self.children.values()), STARTUP_S)

    async def kill_and_restart(self, name: str) -> None:
        """SIGKILL (no drain, no cleanup: a node lost) and start it again, healthy."""
        child = self.children[name]
        assert child.process is not None
        assert child.process.returncode is None, f"{name} died before the kill: {child.process.returncode}"
        child.process.send_signal(signal.SIGKILL)
        assert await child.process.wait() == -signal.SIGKILL
        self.kills[name] += 1
        await self._spawn(child)
        await supervisor.wait_healthy(child, STARTUP_S)

    async def stop(self) -> None:
        await self.clients.close()
        killed = await supervisor.stop_all(list(self.children.values()), timeout_s=20)
        assert killed == [], f"{killed} did not stop on SIGTERM"


@contextlib.asynccontextmanager
async def process_mesh(
    dsn: str, names: tuple[str, ...], log_dir: Path, **extra_env: str
) -> AsyncIterator[ProcessMesh]:
    running = ProcessMesh(dsn, names, log_dir, extra_env)
    try:
        await running.start()
        yield running
    finally:
        await running.stop()


def unavailable(err: grpc.aio.AioRpcError) -> bool:
    """A refusal the caller may retry with the same request_id."""
    return err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)

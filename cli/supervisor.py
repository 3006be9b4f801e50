"""Start the mesh as child processes, watch them, and stop every one of them.

Each child runs in its own session so a Ctrl-C in the terminal reaches only
us; we then SIGTERM the children ourselves, wait, and SIGKILL stragglers. On
Linux each child also asks the kernel for SIGTERM if we die without cleaning
up, so even `kill -9 leadengine` leaves no orphans holding ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import signal
import socket
import sys
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
import httpx
from grpc_health.v1 import health_pb2

from cli.database import SERVICES
from shared import channels, config

HOST = "127.0.0.1"
# Local runs need no endpoint propagation: stop in well under a second.
LOCAL_DEFAULTS = {"DRAIN_S": "0.5", "GRACE_S": "3"}


class StartupError(RuntimeError):
    """A child did not become healthy; the message names it and quotes its log."""


@dataclass
class Child:
    name: str
    port: int
    kind: str  # "grpc" or "http"
    log_path: Path
    argv: list[str]
    process: asyncio.subprocess.Process | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None


def plan(env: Mapping[str, str], log_dir: Path) -> list[Child]:
    """The processes `up` runs and the ports they take, from <SVC>_GRPC_PORT and GATEWAY_PORT."""
    children = [
        Child(
            svc,
            config.integer(env, f"{svc.upper()}_GRPC_PORT", config.DEFAULT_PORTS[svc], minimum=1),
            "grpc",
            log_dir / f"{svc}.log",
            [sys.executable, "-m", f"services.{svc}", "serve"],
        )
        for svc in SERVICES
    ]
    gateway_port = config.integer(env, "GATEWAY_PORT", config.GATEWAY_DEFAULT_PORT, minimum=1)
    children.append(
        Child(
            "gateway",
            gateway_port,
            "http",
            log_dir / "gateway.log",
            [sys.executable, "-m", "services.gateway"],
        )
    )
    ports = [c.port for c in children]
    for child in children:
        if ports.count(child.port) > 1:
            clash = [c.name for c in children if c.port == child.port]
            raise config.ConfigError(f"{' and '.join(clash)} are both set to port {child.port}")
    return children


def child_env(base: Mapping[str, str], dsn: str, children: list[Child]) -> dict[str, str]:
    env = dict(base)
    env["DATABASE_URL"] = dsn
    env["PYTHONUNBUFFERED"] = "1"  # log lines reach the file as they happen
    for child in children:
        prefix = child.name.upper()
        if child.kind == "grpc":
            env[f"{prefix}_GRPC_PORT"] = str(child.port)
            env[f"{prefix}_ADDR"] = child.address
            for key, value in LOCAL_DEFAULTS.items():
                env.setdefault(f"{prefix}_{key}", value)
        else:
            env["GATEWAY_PORT"] = str(child.port)
    env["GATEWAY_INGEST_ADDR"] = next(c.address for c in children if c.name == "ingest")
    env.setdefault("GATEWAY_GRACE_S", LOCAL_DEFAULTS["GRACE_S"])
    return env


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("", port))
        except OSError:
            return True
    return False


def check_ports_free(children: list[Child]) -> None:
    busy = [c for c in children if port_in_use(c.port)]
    if busy:
        names = ", ".join(
            f"{c.port} ({c.name}; set {c.name.upper()}_{'GRPC_' if c.kind == 'grpc' else ''}PORT)"
            for c in busy
        )
        raise StartupError(f"ports already in use: {names}. Is another `leadengine up` running?")


def _die_with_parent() -> None:
    libc_name = ctypes.util.find_library("c")
    if sys.platform.startswith("linux") and libc_name:
        pr_set_pdeathsig = 1
        ctypes.CDLL(libc_name, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


async def start(child: Child, env: Mapping[str, str]) -> None:
    child._log = child.log_path.open("wb")
    child.process = await asyncio.create_subprocess_exec(
        *child.argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=child._log,
        stderr=asyncio.subprocess.STDOUT,
        env=dict(env),
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def tail(path: Path, lines: int = 15) -> str:
    try:
        with path.open(errors="replace") as f:
            return "".join(deque(f, maxlen=lines)).rstrip()
    except OSError as err:
        return f"(could not read {path}: {err})"


def exit_description(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"


def _failure(child: Child, what: str) -> StartupError:
    return StartupError(f"{child.name} {what}. Last lines of {child.log_path}:\n{tail(child.log_path)}")


async def _probe(child: Child, channel: grpc.aio.Channel | None, http: httpx.AsyncClient) -> str | None:
    """The child's health as a word, or None while it cannot answer yet."""
    if channel is not None:
        stub = channels.health_client(channel)
        try:
            health = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
        except grpc.aio.AioRpcError:
            return None
        return health_pb2.HealthCheckResponse.ServingStatus.Name(health.status)
    try:
        resp = await http.get(f"http://{child.address}/healthz", timeout=1.0)
    except httpx.HTTPError:
        return None
    return "SERVING" if resp.status_code == 200 else f"HTTP {resp.status_code}"


async def wait_healthy(child: Child, timeout_s: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    channel = grpc.aio.insecure_channel(child.address) if child.kind == "grpc" else None
    async with httpx.AsyncClient() as http:
        try:
            while True:
                assert child.process is not None
                if child.process.returncode is not None:
                    raise _failure(child, f"{exit_description(child.process.returncode)} while starting")
                if await _probe(child, channel, http) == "SERVING":
                    return
                if loop.time() > deadline:
                    raise _failure(child, f"did not report healthy within {timeout_s:g}s")
                await asyncio.sleep(0.1)
        finally:
            if channel is not None:
                await channel.close()


async def wait_all_healthy(children: list[Child], timeout_s: float) -> None:
    """Wait for every child in parallel; the first failure wins and the rest stop waiting."""
    tasks = [asyncio.create_task(wait_healthy(c, timeout_s)) for c in children]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def health_of(child: Child) -> str:
    channel = grpc.aio.insecure_channel(child.address) if child.kind == "grpc" else None
    async with httpx.AsyncClient() as http:
        try:
            return await _probe(child, channel, http) or "UNREACHABLE"
        finally:
            if channel is not None:
                await channel.close()


async def first_exit(children: list[Child]) -> Child:
    """Return the first child to exit. Cancelled when we stop them on purpose."""
    waits = {asyncio.create_task(c.process.wait()): c for c in children if c.process is not None}
    try:
        done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        return waits[next(iter(done))]
    finally:
        for task in waits:
            task.cancel()


async def stop_all(children: list[Child], timeout_s: float) -> list[str]:
    """SIGTERM every running child, SIGKILL what is left after timeout_s; names the killed ones."""
    running = [c for c in children if c.running]
    for child in running:
        assert child.process is not None
        with contextlib.suppress(ProcessLookupError):
            child.process.send_signal(signal.SIGTERM)
    killed = []
    if running:
        _, pending = await asyncio.wait(
            [asyncio.create_task(c.process.wait()) for c in running if c.process is not None],
            timeout=timeout_s,
        )
        if pending:
            for child in running:
                if child.running and child.process is not None:
                    killed.append(child.name)
                    with contextlib.suppress(ProcessLookupError):
                        child.process.kill()
            await asyncio.gather(*pending)
    for child in children:
        if child._log is not None:
            child._log.close()
            child._log = None
    return killed

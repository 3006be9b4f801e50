"""`leadengine up` as a user runs it: the whole mesh as subprocesses, a demo lead, a clean stop."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

SERVICES = ("ingest", "intelligence", "routing", "content", "coordinator")


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("", port))
        except OSError:
            return False
    return True


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


async def wait_for_text(path: Path, pattern: str, proc: asyncio.subprocess.Process, timeout_s: float) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while loop.time() < deadline:
        text = read(path)
        if re.search(pattern, text):
            return text
        if proc.returncode is not None:
            pytest.fail(f"leadengine up exited with {proc.returncode} before {pattern!r}:\n{text}")
        await asyncio.sleep(0.2)
    pytest.fail(f"no {pattern!r} within {timeout_s}s:\n{read(path)}")


@pytest.fixture
async def mesh_env(migrated_dsn, tmp_path) -> dict[str, str]:
    ports = free_ports(len(SERVICES) + 1)
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_ADDR", "_GRPC_PORT", "_DATABASE_URL"))}
    env.update(DATABASE_URL=migrated_dsn, COLUMNS="200", PYTHONUNBUFFERED="1", GATEWAY_PORT=str(ports[-1]))
    for service, port in zip(SERVICES, ports, strict=False):
        env[f"{service.upper()}_GRPC_PORT"] = str(port)
        env[f"{service.upper()}_ADDR"] = f"127.0.0.1:{port}"  # for `leadengine demo`
    return env


async def test_up_serves_a_demo_lead_and_stops_cleanly(mesh_env, tmp_path) -> None:
    out = tmp_path / "up.out"
    ports = [int(mesh_env[f"{s.upper()}_GRPC_PORT"]) for s in SERVICES] + [int(mesh_env["GATEWAY_PORT"])]
    with out.open("wb") as sink:
        up = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli.main", "up", "--data-dir", str(tmp_path / "le"),
            env=mesh_env, stdout=sink, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    try:
        text = await wait_for_text(out, r"LeadEngine ready", up, timeout_s=120)
        pids = {name: int(pid) for name, pid in re.findall(r"│ (\w+)\s+│ \S+\s+│ SERVING │ (\d+)", text)}
        assert set(pids) == {*SERVICES, "gateway"}

        async with httpx.AsyncClient() as http:
            ready = await http.get(f"http://127.0.0.1:{mesh_env['GATEWAY_PORT']}/readyz", timeout=5)
        assert ready.status_code == 200

        demo = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "cli.main", "demo", "--timeout", "30", "--followup-after", "2s",
            env=mesh_env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        trace = (await asyncio.wait_for(demo.communicate(), timeout=90))[0].decode()
        assert demo.returncode == 0, trace
        for step in ("lead stored", "journey started", "scored", "routed", "message written"):
            assert re.search(rf"\d+ ms\s+{step}", trace), f"{step!r} missing from:\n{trace}"
        assert re.search(r"communication recorded\s+SMS to \+1\d{10}: (SIMULATED|SCHEDULED)", trace), trace
        assert re.search(r"scored\s+\d+/100", trace), trace
        # The follow-up step, sent by the real scheduler (held instead when it is night),
        # then the lead's timeline.
        assert re.search(r"follow-up recorded\s+SMS: (SIMULATED|SCHEDULED)", trace), trace
        assert "decision timeline" in trace, trace
        assert "step 1 SIMULATED" in trace or "step 1 held" in trace, trace
    finally:
        if up.returncode is None:
            up.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(up.wait(), timeout=60)

    log = out.read_text()
    assert returncode == 0, log
    assert "stopped" in log
    for port in ports:
        assert port_free(port), f"port {port} still bound after exit:\n{log}"
    for name, pid in pids.items():
        assert not alive(pid), f"{name} (pid {pid}) outlived leadengine up"
    assert (tmp_path / "le" / "logs" / "coordinator.log").read_text().strip()

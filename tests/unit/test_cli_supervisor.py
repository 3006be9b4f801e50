"""The supervisor's process handling, with real child processes (plain Python, no services)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from cli import supervisor

IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    " print('up', flush=True); time.sleep(60)"
)
EXITS_ON_SIGTERM = "import time; print('up', flush=True); time.sleep(60)"


def child(tmp_path, name: str, code: str) -> supervisor.Child:
    return supervisor.Child(name, 1, "grpc", tmp_path / f"{name}.log", [sys.executable, "-c", code])


async def _wait_for_output(c: supervisor.Child) -> None:
    for _ in range(200):
        if c.log_path.read_text().strip():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{c.name} never started")


async def test_stop_all_terminates_and_kills_what_ignores_sigterm(tmp_path) -> None:
    polite = child(tmp_path, "polite", EXITS_ON_SIGTERM)
    stubborn = child(tmp_path, "stubborn", IGNORES_SIGTERM)
    for c in (polite, stubborn):
        await supervisor.start(c, {"PATH": "/usr/bin:/bin"})
    for c in (polite, stubborn):
        await _wait_for_output(c)
    killed = await supervisor.stop_all([polite, stubborn], timeout_s=0.5)
    assert killed == ["stubborn"]
    assert polite.process.returncode == -15
    assert stubborn.process.returncode == -9
    assert not polite.running
    assert not stubborn.running


async def test_first_exit_names_the_child_that_died(tmp_path) -> None:
    steady = child(tmp_path, "steady", EXITS_ON_SIGTERM)
    crashing = child(tmp_path, "crashing", "import sys; print('boom', flush=True); sys.exit(3)")
    for c in (steady, crashing):
        await supervisor.start(c, {})
    try:
        died = await asyncio.wait_for(supervisor.first_exit([steady, crashing]), timeout=10)
        assert died is crashing
        assert crashing.process.returncode == 3
        assert steady.running
    finally:
        await supervisor.stop_all([steady, crashing], timeout_s=5)


async def test_wait_healthy_reports_a_child_that_exits_with_its_log(tmp_path) -> None:
    broken = child(tmp_path, "ingest", "import sys; print('configuration error: DATABASE_URL'); sys.exit(1)")
    broken.port = 1  # nothing answers there
    await supervisor.start(broken, {})
    try:
        with pytest.raises(supervisor.StartupError, match=r"(?s)ingest exited with status 1.*DATABASE_URL"):
            await supervisor.wait_all_healthy([broken], timeout_s=20)
    finally:
        await supervisor.stop_all([broken], timeout_s=5)


async def test_wait_healthy_gives_up_after_the_timeout(tmp_path) -> None:
    silent = child(tmp_path, "routing", EXITS_ON_SIGTERM)
    silent.port = 1
    await supervisor.start(silent, {})
    try:
        with pytest.raises(supervisor.StartupError, match=r"routing did not report healthy within 0\.5s"):
            await supervisor.wait_all_healthy([silent], timeout_s=0.5)
    finally:
        assert await supervisor.stop_all([silent], timeout_s=5) == []

"""The gateway's health, readiness and metrics, served by uvicorn against a real ingest."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from services.gateway.config import Config
from services.gateway.serving import running_gateway
from tests.support import mesh
from tests.webhooks import unused_address


@contextlib.asynccontextmanager
async def gateway(ingest_addr: str) -> AsyncIterator[str]:
    """The real app on a free port; yields its base URL."""
    cfg = Config(port=0, host="127.0.0.1", ingest_addr=ingest_addr, ready_timeout_s=1.0, grace_s=1.0)
    async with running_gateway(cfg) as url:
        yield url


async def test_ready_when_ingest_serves(ingest_addr) -> None:
    async with gateway(ingest_addr) as url, httpx.AsyncClient(base_url=url) as http:
        ready = await http.get("/readyz", timeout=5)
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "ingest": "SERVING"}
        assert (await http.get("/healthz", timeout=5)).status_code == 200


async def test_not_ready_when_ingest_is_unreachable_but_still_alive() -> None:
    async with gateway(unused_address()) as url, httpx.AsyncClient(base_url=url) as http:
        ready = await http.get("/readyz", timeout=5)
        assert ready.status_code == 503
        assert ready.json()["reason"] == "INGEST_UNREACHABLE"
        assert (await http.get("/healthz", timeout=5)).status_code == 200


async def test_readiness_follows_ingest_over_one_channel(migrated_dsn) -> None:
    ingest = mesh(migrated_dsn, only=("ingest",))
    m = await ingest.__aenter__()
    running = True
    try:
        async with gateway(m.addr["ingest"]) as url, httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/readyz", timeout=5)).status_code == 200
            await ingest.__aexit__(None, None, None)
            running = False
            gone = await http.get("/readyz", timeout=5)
            assert gone.status_code == 503
            assert gone.json()["reason"] in ("INGEST_UNREACHABLE", "INGEST_NOT_SERVING")
    finally:
        if running:
            await ingest.__aexit__(None, None, None)


async def test_metrics_are_prometheus_text() -> None:
    async with gateway(unused_address()) as url, httpx.AsyncClient(base_url=url) as http:
        resp = await http.get("/metrics", timeout=5)
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/plain")
        assert "# TYPE python_gc_objects_collected_total counter" in resp.text


async def test_unknown_paths_and_methods_are_refused() -> None:
    async with gateway(unused_address()) as url, httpx.AsyncClient(base_url=url) as http:
        assert (await http.get("/webhooks/nowhere", timeout=5)).status_code == 404
        assert (await http.get("/webhooks/ghl", timeout=5)).status_code == 405
        assert (await http.post("/healthz", timeout=5)).status_code == 405

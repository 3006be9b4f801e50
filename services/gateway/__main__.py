"""python -m services.gateway: serve the HTTP app with uvicorn until SIGTERM."""

from __future__ import annotations

import os
import signal
from types import FrameType

import uvicorn

from services.gateway.app import create_app
from services.gateway.config import Config
from shared import config, jsonlog, tracing


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def main() -> None:
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to the
    # handler it found at start. Installing this one makes that replay (and a
    # SIGTERM before uvicorn is up) a clean exit 0, as every service's is.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    jsonlog.configure("gateway", os.environ.get("LOG_LEVEL", "INFO"))
    tracing.configure("gateway", os.environ)
    try:
        cfg = Config.from_env(os.environ)
    except config.ConfigError as err:
        raise SystemExit(f"gateway: configuration error: {err}") from None
    # uvicorn handles SIGTERM/SIGINT: stop accepting, finish open requests
    # (up to grace_s), run the lifespan shutdown, exit 0.
    try:
        uvicorn.run(
            create_app(cfg),
            host=cfg.host,
            port=cfg.port,
            log_config=None,  # keep our JSON lines
            access_log=False,  # probes every 2 s would drown the log
            # uvicorn annotates an int but only hands it to asyncio.wait_for, which takes seconds as a float.
            timeout_graceful_shutdown=cfg.grace_s,  # type: ignore[arg-type]
            lifespan="on",
        )
    finally:
        tracing.shutdown()  # export what is still buffered, also after SIGTERM


if __name__ == "__main__":
    main()

"""python -m services.ingest [serve|migrate]"""

from pathlib import Path

from services.ingest.app import create_app
from services.ingest.config import Config
from shared.main import run

if __name__ == "__main__":
    run("ingest", Path(__file__).parent / "migrations", Config.from_env, create_app)

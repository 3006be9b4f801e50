"""python -m services.coordinator [serve|migrate]"""

from pathlib import Path

from services.coordinator.app import create_app
from services.coordinator.config import Config
from shared.main import run

if __name__ == "__main__":
    run("coordinator", Path(__file__).parent / "migrations", Config.from_env, create_app)

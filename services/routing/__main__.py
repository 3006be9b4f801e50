"""python -m services.routing [serve|migrate]"""

from pathlib import Path

from services.routing.app import create_app
from services.routing.config import Config
from shared.main import run

if __name__ == "__main__":
    run("routing", Path(__file__).parent / "migrations", Config.from_env, create_app)

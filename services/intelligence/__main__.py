"""python -m services.intelligence [serve|migrate]"""

from pathlib import Path

from services.intelligence.app import create_app
from services.intelligence.config import Config
from shared.main import run

if __name__ == "__main__":
    run("intelligence", Path(__file__).parent / "migrations", Config.from_env, create_app)

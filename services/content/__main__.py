"""python -m services.content [serve|migrate]"""

from pathlib import Path

from services.content.app import create_app
from services.content.config import Config
from shared.main import run

if __name__ == "__main__":
    run("content", Path(__file__).parent / "migrations", Config.from_env, create_app)

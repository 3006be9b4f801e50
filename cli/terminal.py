"""The one rich Console every command prints through."""

from __future__ import annotations

from rich.console import Console

# highlight=False: numbers and paths in our messages are not syntax to colour.
console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


def fail(message: str) -> int:
    """Print why a command failed and return the exit status it should end with."""
    errors.print(f"[bold red]error:[/] {message}")
    return 1

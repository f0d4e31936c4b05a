"""Helpers shared by the CLI verbs: one-line errors."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line on stderr and exit with ``code`` (2: bad input or usage)."""
    err_console.print(f"error: {message}", markup=False)
    raise typer.Exit(code)

"""``yumebench leaderboard``: store results, render leaderboards, check for regressions.

Examples:
    yumebench leaderboard check results.json --baseline baseline.json --max-drop 0.01
"""

from __future__ import annotations

import typer

from yumebench.cli._common import not_built

app = typer.Typer(
    help=(
        "Published and measured results: add, render, and regression-check against a baseline.\n\n"
        "Example: yumebench leaderboard check results.json --baseline baseline.json --max-drop 0.01"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command()
def add() -> None:
    """Store a bench result with its metadata."""
    not_built("yumebench leaderboard add", 10)


@app.command()
def render() -> None:
    """Write leaderboard.md, index.html and charts."""
    not_built("yumebench leaderboard render", 10)


@app.command()
def check() -> None:
    """Exit 1 when a dimension dropped more than allowed against a baseline."""
    not_built("yumebench leaderboard check", 10)

"""``yumebench bench``: score videos on Yume-Bench.

Examples:
    yumebench bench run --spec spec.jsonl --videos out/ --out results.json
"""

from __future__ import annotations

import typer

from yumebench.cli._common import not_built

app = typer.Typer(
    help=(
        "Score a model's videos on Yume-Bench: instruction following and the five VBench dimensions.\n\n"
        "Example: yumebench bench run --spec spec.jsonl --videos generated/ --out results.json"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command()
def run() -> None:
    """Score every video of a benchmark spec on the chosen dimensions."""
    not_built("yumebench bench run", 5)


@app.command()
def spec() -> None:
    """Write a benchmark spec from a suite and a folder of generated videos."""
    not_built("yumebench bench spec", 5)


@app.command()
def weights() -> None:
    """List the weights each dimension needs, where they come from and whether they are present."""
    not_built("yumebench bench weights", 6)


@app.command()
def report() -> None:
    """Write an HTML page explaining one run's scores."""
    not_built("yumebench bench report", 10)

"""The ``yumebench`` command line: ``data``, ``bench``, ``model``, ``leaderboard`` and ``demo``."""

from __future__ import annotations

import typer

from yumebench import __version__
from yumebench.cli import bench, data, demo, leaderboard, model

app = typer.Typer(
    name="yumebench",
    help=(
        "Interactive world generation toolkit built on Yume1.5.\n\n"
        "Curators build the mixed T2V/I2V training set (yumebench data), researchers score videos on\n"
        "Yume-Bench (yumebench bench) and compare them (yumebench leaderboard), and everyone can run the\n"
        "reference model (yumebench model).\n\n"
        "Example: yumebench data actions poses.npy --min-run 33"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
app.add_typer(data.app, name="data")
app.add_typer(bench.app, name="bench")
app.add_typer(model.app, name="model")
app.add_typer(leaderboard.app, name="leaderboard")
app.command(name="demo")(demo.demo)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"yumebench {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Interactive world generation toolkit built on Yume1.5."""


def main() -> None:
    app()

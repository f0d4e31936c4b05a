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
    """The console entry point: a refused write or read anywhere is one line and exit 3, never a
    traceback (the commands handle what they can name more precisely themselves)."""
    import sys

    from yumebench.cli._common import EXIT_INTERRUPTED, EXIT_IO, err_console
    from yumebench.files import os_error_line

    try:
        app()
    except OSError as e:
        err_console.print(f"error: {os_error_line(e)}", markup=False)
        sys.exit(EXIT_IO)
    except KeyboardInterrupt:
        err_console.print("interrupted: rerun the same command to resume", markup=False)
        sys.exit(EXIT_INTERRUPTED)

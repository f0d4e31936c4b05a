"""``yumebench leaderboard``: store results, render leaderboards, check for regressions.

Examples:
    yumebench leaderboard add results.json --name my-model --model-info steps=4
    yumebench leaderboard render --out board/
    yumebench leaderboard check results.json --baseline baseline.json --max-drop 0.01
"""

from __future__ import annotations

from pathlib import Path

import typer

from yumebench.cli._common import EXIT_FAILED, err_console, fail, fail_io

app = typer.Typer(
    help=(
        "Published and measured results: add, render, and regression-check against a baseline.\n\n"
        "Example: yumebench leaderboard check results.json --baseline baseline.json --max-drop 0.01"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)

STORE = typer.Option(Path("yumebench-leaderboard.json"), help="Leaderboard store (created with the published rows).")


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key:
            fail(f"{flag} takes KEY=VALUE, got {v!r}")
        out[key] = value
    return out


@app.command()
def add(
    results: Path = typer.Argument(..., help="results.json from 'bench run' (or a VBench result file)."),
    name: str = typer.Option(..., help="Row name; an existing row of that name is replaced."),
    model_info: list[str] = typer.Option([], help="KEY=VALUE facts about the model (repeatable)."),
    store: Path = STORE,
) -> None:
    """Store a bench result with its metadata in the leaderboard.

    Example: yumebench leaderboard add results.json --name yume1.5-mine --model-info steps=4
    """
    from leaderboards.store import Leaderboard, LeaderboardError

    try:
        board = Leaderboard.load(store)
        row = board.add_results(results, name, _pairs(model_info, "--model-info"))
        board.save(store)
    except LeaderboardError as e:
        fail(str(e))
    except OSError as e:
        fail_io(e)
    typer.echo(f"{store}: added {name!r} ({', '.join(f'{k} {v:.3f}' for k, v in row['scores'].items())})")


@app.command()
def render(
    out: Path = typer.Option(Path("leaderboard"), help="Folder for leaderboard.md, index.html and PNG charts."),
    store: Path = STORE,
) -> None:
    """Write leaderboard.md, a self-contained sortable index.html and one PNG chart per dimension.

    Example: yumebench leaderboard render --out board/
    """
    from leaderboards.store import Leaderboard, LeaderboardError

    try:
        paths = Leaderboard.load(store).render(out)
    except LeaderboardError as e:
        fail(str(e))
    except OSError as e:
        fail_io(e)
    typer.echo(f"wrote {paths['markdown']}, {paths['html']} and {len(paths) - 2} charts")


@app.command()
def check(
    results: Path = typer.Argument(..., help="Candidate results.json."),
    baseline: Path = typer.Option(..., help="Stored baseline results.json."),
    max_drop: float = typer.Option(0.01, help="Largest allowed drop of any dimension's score."),
    max_drop_dim: list[str] = typer.Option([], help="DIM=X: a per-dimension allowance (repeatable)."),
) -> None:
    """Exit 0 when no dimension dropped more than allowed, 1 with a table of the regressions, 2 on bad
    input: an unreadable or malformed file, a missing dimension, results of a different spec, or a NaN
    or infinite number anywhere (scores, --max-drop): a gate never passes on what it cannot compare.

    Example: yumebench leaderboard check results.json --baseline baseline.json --max-drop-dim instruction_following=0.02
    """
    from leaderboards.check import CheckInputError
    from leaderboards.check import check as run_check

    limits = {}
    for key, value in _pairs(max_drop_dim, "--max-drop-dim").items():
        try:
            limits[key] = float(value)
        except ValueError:
            fail(f"--max-drop-dim {key}: {value!r} is not a number")
    try:
        report = run_check(results, baseline, max_drop, limits)
    except CheckInputError as e:
        fail(str(e))
    typer.echo(report.table())
    if report.regressions:
        err_console.print(
            f"regression: {', '.join(r.dimension for r in report.regressions)} dropped more than allowed", markup=False
        )
        raise typer.Exit(EXIT_FAILED)
    typer.echo("no regression")

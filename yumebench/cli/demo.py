"""``yumebench demo``: the whole toolkit end to end on embedded sample scenes (no downloads, no GPU)."""

from __future__ import annotations

from pathlib import Path

import typer


def demo(
    out: Path = typer.Option(Path("yumebench-demo"), help="Folder for everything the demo writes."),
    quick: bool = typer.Option(False, help="Two small samples instead of four (a few seconds less)."),
    workers: int = typer.Option(2, min=1, help="Parallel workers for scoring."),
) -> None:
    """Run the main job end to end on sample scenes rendered with known camera paths.

    Renders sample walks, builds the T2V/I2V training set from them, scores the videos on Yume-Bench
    (instruction following, against the true and against shuffled commands), and ranks the runs beside
    the published Yume1.5 rows. Needs no weights, no GPU and no network.

    Example: yumebench demo --out yumebench-demo
    """
    from yumebench.demo import DemoConfig, run_demo

    summary = run_demo(DemoConfig(out=out, quick=quick, workers=workers), log=typer.echo)
    typer.echo("")
    typer.echo(f"done in {summary['seconds']} s. Where everything is:")
    rows = [
        ("samples (mp4 + poses + captions)", out / "samples"),
        (f"dataset ({summary['clips']} clips)", summary["dataset"]),
        ("bench results", summary["results"]),
        ("why each video scored as it did", summary["report"]),
        ("leaderboard (+ index.html, PNGs)", summary["leaderboard"]),
        ("summary", out / "demo_summary.json"),
    ]
    for label, path in rows:
        typer.echo(f"  {label:<34} {path}")
    typer.echo(f"next: yumebench data stats {summary['dataset']}")

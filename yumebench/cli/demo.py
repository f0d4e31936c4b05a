"""``yumebench demo``: the whole toolkit end to end on embedded sample scenes (no downloads, no GPU)."""

from __future__ import annotations

from pathlib import Path

import typer


def demo(
    out: Path = typer.Option(Path("yumebench-demo"), help="Folder for everything the demo writes."),
    quick: bool = typer.Option(False, help="Two small samples instead of four (a few seconds less)."),
    workers: int = typer.Option(2, min=1, help="Parallel workers for scoring."),
    weights: Path = typer.Option(
        None, envvar="YUMEBENCH_WEIGHTS", help="Bench weights folder: with it every dimension is scored."
    ),
    generator: Path = typer.Option(None, help="A tiny pipeline folder to generate with (default: random weights)."),
) -> None:
    """Run the main job end to end on sample scenes rendered with known camera paths.

    Renders sample walks, builds the T2V/I2V training set from them, generates a few blocks with the
    tiny reference model, scores the videos on Yume-Bench (against the true and against shuffled
    commands; dimensions without weights are listed as skipped), and ranks the runs beside the
    published Yume1.5 rows. Needs no weights, no GPU and no network.

    Example: yumebench demo --out yumebench-demo
    """
    from yumebench.demo import DemoConfig, run_demo

    summary = run_demo(
        DemoConfig(out=out, quick=quick, workers=workers, weights=weights, generator=generator), log=typer.echo
    )
    typer.echo("")
    typer.echo(f"done in {summary['seconds']} s. Where everything is:")
    rows = [
        ("samples (mp4 + poses + captions)", out / "samples"),
        (f"dataset ({summary['clips']} clips)", summary["dataset"]),
        ("generated video (tiny model)", summary["generated"]["video"]),
        ("bench results", summary["results"]),
        ("why each video scored as it did", summary["report"]),
        ("leaderboard (+ index.html, PNGs)", summary["leaderboard"]),
        ("summary", out / "demo_summary.json"),
    ]
    for label, path in rows:
        typer.echo(f"  {label:<34} {path}")
    typer.echo(f"next: yumebench data stats {summary['dataset']}")

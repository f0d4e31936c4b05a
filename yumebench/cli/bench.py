"""``yumebench bench``: score videos on Yume-Bench.

Examples:
    yumebench bench run --spec spec.jsonl --videos out/ --out results.json
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from yumebench.cli._common import err_console, fail

app = typer.Typer(
    help=(
        "Score a model's videos on Yume-Bench: instruction following and the five VBench dimensions.\n\n"
        "Example: yumebench bench run --spec spec.jsonl --videos generated/ --out results.json"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


class ImagingMode(str, Enum):  # the values of yumebench.metrics.quality.IMAGING_MODES, VBench's spelling
    longer = "longer"
    shorter = "shorter"
    shorter_centercrop = "shorter_centercrop"
    none = "None"


@app.command()
def run(
    spec: Path = typer.Option(..., help="Benchmark spec (JSONL): id, video, prompt, image, segments."),
    videos: Path = typer.Option(..., help="Folder the spec's video paths are relative to."),
    out: Path = typer.Option(Path("results.json"), help="Results JSON (VBench layout + meta); a .csv lands beside it."),
    dims: str = typer.Option("instruction_following", help="Comma-separated dimensions; 'all' for every one."),
    device: str = typer.Option("cpu", help="cpu or cuda."),
    batch_size: int = typer.Option(16, min=1, help="Frames per backbone batch."),
    videos_per_batch: int = typer.Option(4, min=1, help="Videos decoded together; their frames share batches."),
    workers: int = typer.Option(1, min=1, help="Videos scored in parallel (processes)."),
    weights: Path = typer.Option(None, envvar="YUMEBENCH_WEIGHTS", help="Folder of model weights (bench weights)."),
    imaging_mode: ImagingMode = typer.Option(
        ImagingMode.longer,
        "--imaging-quality-preprocessing-mode",
        help="How imaging quality sizes frames before MUSIQ, as VBench's flag of that name: cap the longer "
        "side at 512 (VBench's default), cap the shorter side, cap it and crop 512x512, or keep them.",
    ),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Score every video of a spec on the chosen dimensions; resumable, one decode per video.

    Writes OUT (VBench's layout: {dim: [score, [per-video entries]]} plus "meta") and OUT with .csv.
    Bad items (missing or corrupt video, malformed line, segment past the end, unknown action) get one
    line each and the rest is scored; the exit code is the number of failed items (at most 100).

    Example: yumebench bench run --spec spec.jsonl --videos generated/ --out results.json
    """
    from yumebench.bench.runner import BenchConfig, run_bench
    from yumebench.bench.spec import SpecError
    from yumebench.metrics import DIMENSIONS

    names = DIMENSIONS.names() if dims == "all" else [d.strip() for d in dims.split(",") if d.strip()]
    for name in names:
        try:
            DIMENSIONS.get(name)
        except KeyError as e:
            fail(str(e.args[0]))
    config = BenchConfig(
        dims=names,
        device=device,
        batch_size=batch_size,
        videos_per_batch=videos_per_batch,
        workers=workers,
        weights_dir=str(weights) if weights else None,
        progress=not quiet,
        options={"imaging_quality": {"preprocessing_mode": imaging_mode.value}},
    )
    try:
        report = run_bench(spec, videos, out, config)
    except SpecError as e:
        fail(str(e))
    for f in report.failed:
        err_console.print(f"failed {f['id']}: {f['error']}", markup=False)
    for name, why in report.skipped.items():
        err_console.print(f"skipped {name}: {why}", markup=False)
    _print_summary(report.results)
    typer.echo(f"results: {out} and {out.with_suffix('.csv')}")
    raise typer.Exit(min(len(report.failed), 100))


UNSCORED_SHOWN = 20


def _print_summary(results: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Yume-Bench")
    table.add_column("dimension")
    table.add_column("score", justify="right")
    table.add_column("videos scored", justify="right")
    unscored = []
    for name, (score, rows) in ((k, v) for k, v in results.items() if k != "meta"):
        missed = [r for r in rows if r.get("video_results") is None]
        table.add_row(name, "n/a" if score is None else f"{score:.4f}", f"{len(rows) - len(missed)}/{len(rows)}")
        unscored += [f"not scored {name} {r.get('id')}: {r.get('error') or r.get('note')}" for r in missed]
    for name in results["meta"].get("skipped", {}):
        table.add_row(name, "skipped", "0")
    for line in unscored[:UNSCORED_SHOWN]:
        err_console.print(line, markup=False)
    if len(unscored) > UNSCORED_SHOWN:
        err_console.print(f"... and {len(unscored) - UNSCORED_SHOWN} more not scored: see the results JSON")
    Console().print(table)
    summary = results["meta"].get("summary", {}).get("instruction_following")
    if summary and summary.get("segments"):
        comp = "  ".join(f"{k} {v:.3f}" for k, v in summary["component_accuracy"].items())
        typer.echo(f"instruction_following per component: {comp}")


@app.command()
def spec(
    videos: Path = typer.Option(..., help="Folder of generated videos named <id>.mp4."),
    out: Path = typer.Option(Path("spec.jsonl"), help="Spec file to write."),
    suite: str = typer.Option("yume-bench", help="Suite name (yumebench/suites/)."),
) -> None:
    """Write a benchmark spec from a suite and a folder of generated videos (<id>.mp4).

    The Yume-Bench suite: 70 items (63 Sekai-Real-HQ clips + 7 images), 544x960, 16 fps, 96 frames =
    three 32-frame chunks, one commanded action per item.

    Example: yumebench bench spec --videos generated/ --out spec.jsonl
    """
    from yumebench.bench.spec import write_spec
    from yumebench.bench.suites import spec_from_suite

    try:
        items, missing = spec_from_suite(suite, videos)
    except KeyError as e:
        fail(str(e.args[0]))
    if not items:
        fail(f"{videos}: none of the {len(missing)} {suite} videos (<id>.mp4) is there")
    write_spec(items, out)
    typer.echo(f"{out}: {len(items)} items" + (f"; missing videos: {', '.join(missing)}" if missing else ""))


@app.command()
def weights(
    weights_dir: Path = typer.Option(None, "--weights", envvar="YUMEBENCH_WEIGHTS", help="Folder of model weights."),
) -> None:
    """List what each dimension needs, where it comes from, whether it is present and its checksum.

    Weights are never downloaded at run time: put hub folders under --weights named by hub id with
    "/" written as "--" (facebook--dino-vitb16, openai--clip-vit-base-patch32, ...).

    Example: yumebench bench weights --weights ~/yumebench-weights
    """
    from yumebench.metrics import DIMENSIONS
    from yumebench.metrics.quality import sha256_file

    for name in DIMENSIONS.names():
        files = DIMENSIONS.get(name).requirements.weights
        if not files:
            typer.echo(f"{name}: no weights needed")
            continue
        for wf in files:
            path = weights_dir / wf.name if weights_dir else None
            if path is not None and path.is_file():
                state = f"present, sha256 {sha256_file(path)[:16]}..."
            elif path is not None and path.is_dir():
                state = "present"
            else:
                state = "MISSING"
            typer.echo(f"{name}: {wf.name}  <- {wf.source}  [{state}]")


@app.command()
def report(
    results: Path = typer.Argument(..., help="results.json from 'bench run'."),
    out: Path = typer.Option(Path("report"), help="Folder for index.html."),
) -> None:
    """Write one self-contained HTML page explaining a run: per video a frame strip per segment with
    the commanded and the recognised action, and each dimension's score; sortable by any column.

    Example: yumebench bench report results.json --out report/
    """
    from yumebench.bench.report import write_report
    from yumebench.result_schema import ResultsError

    try:
        page = write_report(results, out)
    except ResultsError as e:
        fail(str(e))
    typer.echo(f"wrote {page}")

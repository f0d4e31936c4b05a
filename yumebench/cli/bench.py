"""``yumebench bench``: score videos on Yume-Bench.

Examples:
    yumebench bench run --spec spec.jsonl --videos out/ --out results.json
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from yumebench.cli._common import EXIT_FAILED, EXIT_IO, EXIT_OK, err_console, fail, fail_io

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
    workers: int = typer.Option(
        1, min=1, help="Videos scored in parallel: processes (local) or Ray actors (ray; at most one per CPU/GPU)."
    ),
    backend: str = typer.Option(
        "local",
        help="local (this machine) or ray (actors on the cluster RAY_ADDRESS names, else a private local Ray; "
        "pip install 'yumebench[ray]'). The driver keeps the cache and results: a rerun resumes.",
    ),
    gpus_per_worker: float = typer.Option(
        0.0, min=0.0, help="ray: GPUs each actor holds (1 with --device cuda: one actor per GPU; 0: CPU actors)."
    ),
    weights: Path = typer.Option(None, envvar="YUMEBENCH_WEIGHTS", help="Folder of model weights (bench weights)."),
    imaging_mode: ImagingMode = typer.Option(
        ImagingMode.longer,
        "--imaging-quality-preprocessing-mode",
        help="How imaging quality sizes frames before MUSIQ, as VBench's flag of that name: cap the longer "
        "side at 512 (VBench's default), cap the shorter side, cap it and crop 512x512, or keep them.",
    ),
    fov: float = typer.Option(
        None,
        "--fov",
        help="The videos' horizontal field of view in degrees, where known (the model's camera): instruction "
        "following measures every segment at it instead of self-calibrating. A spec item's fov_deg wins.",
    ),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Score every video of a spec on the chosen dimensions; resumable, one decode per video.

    Writes OUT (VBench's layout: {dim: [score, [per-video entries]]} plus "meta") and OUT with .csv.
    Bad items (missing or corrupt video, malformed line, segment past the end, unknown action) get one
    line each and the rest is scored. Exit codes: 0 all scored; 1 some items failed (listed, and in
    meta.failed); 2 bad input (no usable spec, unknown dimension); 3 the output cannot be written (a
    read-only folder, a full disk) or the Ray cluster cannot be reached. The output folder is checked
    before scoring starts.

    On a cluster: RAY_ADDRESS=HEAD:6379 yumebench bench run ... --backend ray --workers 8 --device cuda
    --gpus-per-worker 1 (one actor per GPU, each loading its models once; a dead actor or node is
    replaced and its videos retried; a rerun after the driver dies resumes from OUT.cache.jsonl).

    Example: yumebench bench run --spec spec.jsonl --videos generated/ --out results.json
    """
    from yumebench.bench.runner import BenchConfig, run_bench
    from yumebench.bench.spec import SpecError, parse_fov
    from yumebench.cluster import ClusterError
    from yumebench.metrics import DIMENSIONS

    if backend not in ("local", "ray"):
        fail(f"--backend {backend!r}: expected local or ray")
    if gpus_per_worker and (backend != "ray" or device != "cuda"):
        fail("--gpus-per-worker needs --backend ray and --device cuda")

    try:
        parse_fov(fov)
    except ValueError as e:
        fail(f"--fov: {e}")
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
        backend=backend,
        gpus_per_worker=gpus_per_worker,
        weights_dir=str(weights) if weights else None,
        progress=not quiet,
        options={
            "imaging_quality": {"preprocessing_mode": imaging_mode.value},
            **({"instruction_following": {"fov_deg": fov}} if fov is not None else {}),
        },
    )
    try:
        report = run_bench(spec, videos, out, config)
    except SpecError as e:
        fail(str(e))
    except ClusterError as e:
        fail(str(e), EXIT_IO)
    except OSError as e:
        fail_io(e)
    for f in report.failed:
        err_console.print(f"failed {f['id']}: {f['error']}", markup=False)
    for name, why in report.skipped.items():
        err_console.print(f"skipped {name}: {why}", markup=False)
    _print_summary(report.results)
    typer.echo(f"results: {out} and {out.with_suffix('.csv')}")
    if report.failed:
        err_console.print(f"{len(report.failed)} items could not be scored (listed above and in meta.failed)")
    raise typer.Exit(EXIT_FAILED if report.failed else EXIT_OK)


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
        if line := deformation_line(summary.get("deformation")):
            typer.echo(f"instruction_following: {line}")


def deformation_line(deformation: dict | None) -> str | None:
    """One line on how far the run's worlds deform (``instruction_following.deformation_summary``); None
    where no video was measured."""
    if not deformation or not deformation.get("videos_measured"):
        return None
    line = (
        f"scene deformation {deformation['median_px']:.2f} px (median over "
        f"{deformation['videos_measured']} videos); {deformation['videos_deforming']} deform past "
        f"{deformation['deforming_above_px']:g} px"
    )
    if deformation["videos_deforming"]:
        line += ", where the metric reads camera motion less reliably (docs/instruction_following.md)"
    return line


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
    try:
        write_spec(items, out)
    except OSError as e:
        fail_io(e)
    typer.echo(f"{out}: {len(items)} items" + (f"; missing videos: {', '.join(missing)}" if missing else ""))


@app.command()
def suite(
    name: str = typer.Argument("yume-bench", help="Suite name (yumebench/suites/)."),
    out: Path = typer.Option(Path("suite.jsonl"), help="JSONL to write: one item per video to generate."),
    config: str = typer.Option("yume1.5-5b", help="--config of the generate command lines written beside each item."),
) -> None:
    """Write what a generator needs before any video exists: per item its id, the video file name to
    write (<id>.mp4), prompt, first image, the commanded segments (frame ranges and actions), the
    protocol (resolution, fps, frames) and a ready 'yumebench model generate' command line.

    Example: yumebench bench suite yume-bench --out suite.jsonl
    """
    import json

    from yumebench.bench.suites import suite_items
    from yumebench.files import atomic_write_text

    try:
        items = suite_items(name, config)
    except KeyError as e:
        fail(str(e.args[0]))
    try:
        atomic_write_text(out, "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))
    except OSError as e:
        fail_io(e)
    typer.echo(f"{out}: {len(items)} items of {name}; generate <id>.mp4 for each, then 'bench spec --videos DIR'")


@app.command()
def weights(
    weights_dir: Path = typer.Option(None, "--weights", envvar="YUMEBENCH_WEIGHTS", help="Folder of model weights."),
) -> None:
    """List what each dimension needs, where it comes from, whether it is present and its checksum.

    Weights are never downloaded at run time: put hub folders under --weights named by hub id with
    "/" written as "--" (facebook--dino-vitb16, openai--clip-vit-base-patch32, ...).

    Example: yumebench bench weights --weights ~/yumebench-weights
    """
    from yumebench.files import sha256_file
    from yumebench.metrics import DIMENSIONS

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
    except OSError as e:
        fail_io(e)
    typer.echo(f"wrote {page}")

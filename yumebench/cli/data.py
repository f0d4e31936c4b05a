"""``yumebench data``: decode camera poses to actions and build the Yume1.5 training set.

Examples:
    yumebench data actions clip.npy                      # one label per frame pair
    yumebench data actions clip.npy --min-run 33 --json  # maximal constant runs of >= 33 frames
    yumebench data actions poses.txt --world-to-camera --opengl --stride 2
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from yumebench.cli._common import EXIT_IO, err_console, fail, fail_io
from yumebench.poses import (
    ROTATION_THRESHOLD,
    TRANSLATION_THRESHOLD,
    PoseError,
    decode_action_labels,
    find_action_runs,
    load_poses,
)

app = typer.Typer(
    help=(
        "Build and inspect training data: poses to keyboard/mouse labels, clips, captions, parquet.\n\n"
        "Example: yumebench data actions clip.npy --min-run 33 --json"
    ),
    no_args_is_help=True,
    rich_markup_mode=None,
)


@app.command()
def actions(
    poses: Path = typer.Argument(
        ..., help="Pose file: .npy (N,4,4)/(N,3,4), .npz, or .txt/.csv rows of 12/16 numbers."
    ),
    stride: int = typer.Option(1, min=1, help="Use every N-th pose; thresholds scale with N (published rule)."),
    min_run: int = typer.Option(0, min=0, help="Print maximal runs of constant action of at least this many frames."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of one line per label."),
    world_to_camera: bool = typer.Option(False, help="The file holds world-to-camera matrices."),
    opengl: bool = typer.Option(False, help="The file uses OpenGL camera axes (y up, z backward)."),
    translation_threshold: float = typer.Option(TRANSLATION_THRESHOLD, help="Per-frame translation threshold."),
    rotation_threshold: float = typer.Option(ROTATION_THRESHOLD, help="Per-frame rotation threshold (radians)."),
) -> None:
    """Decode camera poses to keyboard/mouse labels with the published YUME rule.

    Poses are camera-to-world, OpenCV axes (x right, y down, z forward) unless flagged. Without
    --min-run: one label per frame pair {frame, keys, mouse}. With --min-run F: the maximal runs of
    constant action spanning at least F frames {start, end (exclusive), keys, mouse}.

    Example: yumebench data actions clip.npy --min-run 33 --json
    """
    try:
        c2w = load_poses(poses, world_to_camera=world_to_camera, opengl=opengl)
    except PoseError as e:
        fail(str(e))
    labels = decode_action_labels(c2w, stride, translation_threshold, rotation_threshold)
    if min_run:
        rows = [r.to_dict() for r in find_action_runs(labels, min_run, stride)]
    else:
        rows = [{"frame": i, "keys": a.keys, "mouse": a.mouse} for i, a in enumerate(labels)]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for r in rows:
        where = f"frames {r['start']}-{r['end']}" if min_run else f"frame {r['frame']}"
        typer.echo(f"{where}\t{r['keys']}\t{r['mouse']}")


@app.command()
def build(
    inputs: Path = typer.Argument(
        ..., help="Manifest (.csv/.jsonl/.parquet), YUME-layout folder, or folder of videos."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Dataset directory to write (reruns resume here)."),
    fps: float = typer.Option(16.0, help="Resample clips to this frame rate."),
    min_frames: int = typer.Option(33, help="Shortest run of constant action kept (source frames)."),
    max_frames: int = typer.Option(0, help="Split longer runs into pieces of at most this many frames (0: no cap)."),
    window_frames: int = typer.Option(0, help="Videos without poses: fixed windows of this many frames (0: whole)."),
    stride: int = typer.Option(1, min=1, help="Decode actions from every N-th pose."),
    translation_rule: str = typer.Option(
        "published",
        help="Keys from poses: 'published' (the YUME rule: the sign of each translation component above 1e-4 "
        "per frame in the poses' units; YUME-layout builds stay exact) or 'direction' (the sign test on the "
        "unit direction, as the instruction-following metric decides: scale-free, so centimetre drift while "
        "driving in metres stays 'W'). meta/stats.json counts the clips the two rules label differently.",
    ),
    wording: str = typer.Option("yume", help="Wording of generated action descriptions: yume, paper or 5b."),
    image_format: str = typer.Option("png", help="First-frame encoding: png or jpeg."),
    materialize: bool = typer.Option(False, help="Also write every clip as an mp4 under videos/."),
    world_to_camera: bool = typer.Option(False, help="Pose files hold world-to-camera matrices."),
    opengl: bool = typer.Option(False, help="Pose files use OpenGL camera axes."),
    workers: int = typer.Option(1, min=1, help="Parallel workers (processes, or Ray actors)."),
    backend: str = typer.Option(
        "local",
        help="local (process pool) or ray (Ray Data on the cluster RAY_ADDRESS names, else a private local Ray; "
        "--workers actors; pip install 'yumebench[ray]'). The driver writes the work files: a rerun resumes.",
    ),
    rows_per_file: int = typer.Option(1000, min=1, help="Clips per parquet file."),
    video_root: Path = typer.Option(
        None,
        help="Store source_video relative to this folder (default: the manifest's folder, or the scanned "
        "folder); recorded in meta/info.json. A dataset moved elsewhere finds its videos again through "
        "YumeClipDataset(video_root=...), $YUMEBENCH_VIDEO_ROOT or `data validate --video-root`.",
    ),
    overwrite: bool = typer.Option(False, help="Delete --out first instead of resuming."),
    quiet: bool = typer.Option(False, help="No progress bar."),
) -> None:
    """Build the mixed T2V/I2V training set: clips with keyboard/mouse labels, event/action captions
    and first frames, as parquet (data/), meta/info.json, meta/stats.json and quarantine.jsonl.

    Bad inputs (undecodable video, missing or NaN poses, pose/frame count mismatch, empty or non-UTF-8
    caption, duplicates, a video shorter than --min-frames) go to quarantine.jsonl with a one-line
    reason; the rest is built. Exit codes: 0 every input used; 1 some quarantined (listed); 2 bad
    input or flags (no inputs, unreadable manifest); 3 the output cannot be written (read-only, full
    disk). Rerunning the same command after an interruption resumes; the same inputs and flags give
    byte-identical parquet.

    Example: yumebench data build manifest.csv --out dataset --workers 2
    """
    import shlex
    import sys

    from data_pipeline.builder import BuildError, exit_code
    from data_pipeline.builder import build as run_build
    from data_pipeline.inputs import InputError
    from data_pipeline.process import BuildConfig
    from yumebench.cluster import ClusterError

    try:
        config = BuildConfig(
            fps=fps,
            min_frames=min_frames,
            max_frames=max_frames or None,
            window_frames=window_frames,
            stride=stride,
            translation_rule=translation_rule,
            wording=wording,
            image_format=image_format,
            materialize=materialize,
            world_to_camera=world_to_camera,
            opengl=opengl,
        )
        report = run_build(
            inputs,
            out,
            config,
            workers=workers,
            backend=backend,
            rows_per_file=rows_per_file,
            overwrite=overwrite,
            progress=not quiet,
            command=shlex.join(["yumebench", *sys.argv[1:]]),
            video_root=video_root,
        )
    except (ValueError, InputError, BuildError) as e:
        fail(str(e))
    except ClusterError as e:
        fail(str(e), EXIT_IO)
    except OSError as e:
        fail_io(e)
    for q in report.quarantine:
        err_console.print(f"quarantined [{q['stage']}] {q['reason']}", markup=False)
    used = report.num_inputs - report.num_quarantined
    typer.echo(
        f"{report.num_clips} clips from {used - report.inputs_without_clips} of {report.num_inputs} inputs "
        f"({report.inputs_without_clips} used but too short for a clip, {report.num_quarantined} quarantined, "
        f"{report.num_skipped} done by an earlier run, {report.caption_conflicts} clips whose caption contradicts "
        f"the poses) -> {out}"
    )
    raise typer.Exit(exit_code(report))


@app.command()
def validate(
    root: Path = typer.Argument(..., help="A dataset built by 'yumebench data build'."),
    skip_videos: bool = typer.Option(False, help="Do not probe the source videos."),
    video_root: Path = typer.Option(
        None,
        envvar="YUMEBENCH_VIDEO_ROOT",
        help="Where the source videos are now, if the dataset moved without them (default: the root "
        "recorded in meta/info.json).",
    ),
) -> None:
    """Check a built dataset: schema, referenced files exist, frame ranges inside the videos, counts.

    Exit 0 when sound, 1 with one line per problem.

    Example: yumebench data validate dataset
    """
    from data_pipeline.validate import validate as run_validate

    problems = run_validate(root, check_videos=not skip_videos, video_root=video_root)
    for p in problems:
        err_console.print(p, markup=False)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"{root}: ok")


@app.command()
def stats(
    root: Path = typer.Argument(..., help="A dataset built by 'yumebench data build'."),
    as_json: bool = typer.Option(False, "--json", help="Print meta/stats.json as is."),
) -> None:
    """Print the summary of a built dataset: clips, label histogram, clip lengths, quarantine.

    Example: yumebench data stats dataset
    """
    from data_pipeline.validate import load_stats

    try:
        data = load_stats(root)
    except FileNotFoundError as e:
        fail(str(e))
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    frames = data["clip_frames"]
    typer.echo(f"clips: {data['num_clips']}  (unlabelled {data['unlabelled_clips']})")
    typer.echo(
        f"frames per clip: min {frames['min']}  median {frames['p50']}  p90 {frames['p90']}  max {frames['max']}"
    )
    typer.echo(f"quarantined inputs: {data['quarantined']}  {data['quarantine_stages']}")
    typer.echo(f"captions contradicting poses: {data['caption_conflicts']}")
    typer.echo("labels:")
    for label, count in data["labels"].items():
        typer.echo(f"  {label:<10} {count}")

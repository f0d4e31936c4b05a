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

from yumebench.cli._common import fail, not_built
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
def build() -> None:
    """Build the mixed T2V/I2V dataset (parquet + meta/info.json) from videos, poses and captions."""
    not_built("yumebench data build", 4)


@app.command()
def validate() -> None:
    """Check a built dataset: schema, referenced files, frame ranges."""
    not_built("yumebench data validate", 4)


@app.command()
def stats() -> None:
    """Print the summary of a built dataset."""
    not_built("yumebench data stats", 4)

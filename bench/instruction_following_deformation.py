"""How far instruction following can be trusted as the world deforms: the validation corpus scored under
its wobble at several strengths, each video's measured scene deformation beside its accuracy.

Generated worlds are not rigid, and the metric reads camera motion from the assumption that they are.
Each video's ``deformation_px`` (``camera_motion.epipolar_deformation_px``: how far neighbouring tracks
move off any rigid camera motion together) is what a researcher sees of this in a run's results. This
bench calibrates it: it scores the corpus's cached videos (filled by ``instruction_following_accuracy.py``)
at each ``--levels`` S (0: as rendered; S: under S times the corpus's wobble, ``--wobble S`` there) and
prints, per level, the accuracy and the deformation measured; then, over every level at once, the
accuracy of the videos by the deformation they measured, and of those on either side of
``IFConfig.deforming_above_px``. The shuffled-command control is left out: the accuracy bench gives it.

    python bench/instruction_following_deformation.py --seeds tune --videos 2 --panoramas pano/ \\
        --cache .if_corpus_cache --levels 0,1,2,3 --jsonl deformation-tune.jsonl

``--jsonl`` keeps one line per scored (video, level) and a rerun resumes from it, so an interrupted
calibration loses nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from instruction_following_accuracy import (
    ScoreJob,
    _score,
    _video,
    add_corpus_arguments,
    is_pure_turn,
    render_jobs,
)

from yumebench.metrics.instruction_following import IFConfig, video_deformation_px, wilson_interval
from yumebench.motion_corpus import SEED_BASE, select_conditions

BUCKETS_PX = (0.0, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.5, float("inf"))


def _scored(args: tuple) -> dict:
    path, level = args
    segments = _score(ScoreJob(path, wobble=level))
    return {
        "video": Path(path).stem,
        "level": level,
        "deformation_px": video_deformation_px(segments),
        "correct": [bool(s["correct"]) for s in segments],
        "rotation_as_translation": [is_pure_turn(s) and s["motion"]["decision"] == "translation" for s in segments],
    }


def _accuracy(rows: list[dict]) -> tuple[int, float, tuple[float, float]]:
    hits = [c for r in rows for c in r["correct"]]
    return len(hits), float(np.mean(hits)) if hits else float("nan"), wilson_interval(sum(hits), len(hits))


def report(rows: list[dict], above_px: float) -> list[str]:
    """The tables: per level, then by measured deformation over all levels, then either side of
    ``above_px``."""
    lines = [
        f"{'level S':<10} {'videos':>6} {'segments':>8} {'accuracy':>8} {'95 %':>13}"
        "  deformation px p10/p50/p90  flagged"
    ]
    for level in sorted({r["level"] for r in rows}):
        at = [r for r in rows if r["level"] == level]
        n, acc, (lo, hi) = _accuracy(at)
        measured = [r["deformation_px"] for r in at if r["deformation_px"] is not None]
        p10, p50, p90 = np.percentile(measured, [10, 50, 90]) if measured else (np.nan,) * 3
        flagged = sum(v > above_px for v in measured)
        lines.append(
            f"{level:<10g} {len(at):>6} {n:>8} {acc:8.3f} {lo:.3f}-{hi:.3f}  {p10:8.3f} {p50:6.3f} {p90:6.3f}"
            f"  {flagged}/{len(measured)}"
        )
    lines += ["", f"{'deformation px':<16} {'videos':>6} {'segments':>8} {'accuracy':>8} {'95 %':>13}  videos by level"]
    measured = [r for r in rows if r["deformation_px"] is not None]
    for lo_px, hi_px in zip(BUCKETS_PX, BUCKETS_PX[1:], strict=False):
        bucket = [r for r in measured if lo_px <= r["deformation_px"] < hi_px]
        if bucket:
            n, acc, (lo, hi) = _accuracy(bucket)
            levels = {f"S={k:g}": sum(r["level"] == k for r in bucket) for k in sorted({r["level"] for r in bucket})}
            lines.append(f"{lo_px:.2f}-{hi_px:<11.2f} {len(bucket):>6} {n:>8} {acc:8.3f} {lo:.3f}-{hi:.3f}  {levels}")
    unmeasured = [r for r in rows if r["deformation_px"] is None]
    if unmeasured:
        n, acc, _ = _accuracy(unmeasured)
        lines.append(f"{'not measured':<16} {len(unmeasured):>6} {n:>8} {acc:8.3f}  (no moving window: a still camera)")
    lines.append("")
    for name, side in (
        (f"at most {above_px:g} px", [r for r in measured if r["deformation_px"] <= above_px]),
        (f"past {above_px:g} px", [r for r in measured if r["deformation_px"] > above_px]),
    ):
        n, acc, (lo, hi) = _accuracy(side)
        rot = [x for r in side for x in r["rotation_as_translation"]]
        lines.append(
            f"{name:<16} {len(side):>6} {n:>8} {acc:8.3f} {lo:.3f}-{hi:.3f}  ({sum(rot)} turns read as a step)"
        )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_corpus_arguments(ap, videos=2)
    ap.add_argument("--cache", type=Path, default=Path(".if_corpus_cache"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--levels", default="0,1,2,3", help="wobble strengths S, times the corpus's own")
    ap.add_argument("--jsonl", type=Path, help="one line per scored (video, level); a rerun resumes from it")
    args = ap.parse_args()
    levels = [float(v) for v in args.levels.split(",")]
    base = SEED_BASE[args.seeds]
    jobs = render_jobs(args, select_conditions(args.conditions))
    args.cache.mkdir(parents=True, exist_ok=True)
    ctx = get_context("spawn")
    with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
        paths = [v["path"] for _, v in pool.map(_video, jobs)]
    rows = []
    if args.jsonl and args.jsonl.exists():
        rows = [json.loads(line) for line in args.jsonl.read_text().splitlines() if line.strip()]
    wanted = {(Path(p).stem, level) for p in paths for level in levels}
    rows = [r for r in rows if (r["video"], r["level"]) in wanted]
    done = {(r["video"], r["level"]) for r in rows}
    todo = [(p, level) for level in levels for p in paths if (Path(p).stem, level) not in done]
    t0 = time.perf_counter()
    with (
        ProcessPoolExecutor(args.workers, mp_context=ctx) as pool,
        args.jsonl.open("a") if args.jsonl else contextlib.nullcontext() as out,
    ):
        for i, row in enumerate(pool.map(_scored, todo), 1):
            rows.append(row)
            if out:
                out.write(json.dumps(row) + "\n")
                out.flush()  # each line as it is scored: an interrupted run resumes from here
            if i % 25 == 0 or i == len(todo):
                print(f"scored {i}/{len(todo)} ({time.perf_counter() - t0:.0f} s)", flush=True)
    print(f"\n{len(paths)} videos, seeds '{args.seeds}' ({base}+), levels {args.levels}; {len(rows)} scored\n")
    print("\n".join(report(rows, IFConfig().deforming_above_px)))


if __name__ == "__main__":
    main()

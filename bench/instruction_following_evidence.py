"""Is a missed step in the tracks at all? For every segment of the validation corpus whose camera steps
(keys other than None), the GRIC score (``camera_motion.gric_difference`` per track, summed over the
segment's moving windows) of two essential matrices against the rotation-only model, on the
estimator's own tracks and noise level, at the camera's true focal length:

- ``true``: the essential matrix of the exact relative pose between each window's frames (from the
  corpus's camera path);
- ``fitted``: the one the estimator fits (MAGSAC++ at 1 px).

Where both are at or below the decision margin (``MotionConfig.gric_margin``), no translation explains
the tracks better than a rotation: a segment read as a turn there is lost to missing evidence (a
sideways step seen only on a distant horizon), not to the decision rule. Where ``true`` is above the
margin, the evidence is there and the estimator missed it (its focal length, its fit).

A table per condition closes the report: its segments, those read right, the misses by verdict, and
the ceiling, the share of segments left once those with no evidence of their step are counted as lost:
what any decision rule could reach on these tracks.

    python bench/instruction_following_evidence.py --cache C --panoramas pano/ --conditions pano-night,pano-water

The true motion is the corpus's smooth path at a pinhole: for the shake and barrel-lens conditions (the
frames hold motion or distortion the path does not) its scores are not the truth.

Reads the videos ``bench/instruction_following_accuracy.py`` cached (same ``--seeds`` and ``--videos``);
a video cached without its camera path is made again to get it (rendering included).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from yumebench.motion_corpus import SEED_BASE


def true_essential(c2w: np.ndarray, a: int, b: int) -> np.ndarray:
    """E = [t]x R with x2 ~ R x1 + t between the cameras of frames ``a`` and ``b`` (camera-to-world
    poses, OpenCV axes: x right, y down, z forward)."""
    from yumebench.metrics.camera_motion import _skew, _window_relatives

    rot, t = _window_relatives(c2w[[a, b], :3, :3], c2w[[a, b], :3, 3], 1)  # one window, frame a to frame b
    return _skew(t[0]) @ rot[0]


def segment_scores(frames: np.ndarray, c2w: np.ndarray, fov_deg: float, segments: list[dict]) -> list[dict]:
    """Per segment that steps: the GRIC score per track of the true and of the fitted essential matrix."""
    from yumebench.metrics import camera_motion as cm

    estimator = cm.OpenCVMotionEstimator()
    c = estimator.config
    # every segment's windows as the estimator tracks them (content fixed to the frame is found per video)
    grey, per_segment = estimator.video_windows(frames, [(seg["start"], seg["end"]) for seg in segments])
    height, width = grey.tracking[0].shape
    center = ((width - 1) / 2, (height - 1) / 2)
    focal = cm._focal_of(fov_deg, width)
    out = []
    for k, (seg, windows) in enumerate(zip(segments, per_segment, strict=True)):
        if seg["keys"] == "None":
            continue
        moving = [w for w in windows if w.kind == "moving"]
        true_sum = fitted_sum = 0.0
        for w in moving:
            evidence = cm.window_evidence(w, focal, center, c.min_noise_px)  # the fitted matrix's, as decided
            if evidence is None:
                continue
            fitted_score, sigma, rot = evidence
            transfer = cm.mahalanobis(cm.rotation_residuals(w.p1, w.p2, rot, focal, center), w.cov)
            n1, n2 = (w.p1 - center) / focal, (w.p2 - center) / focal
            e_true = true_essential(c2w, w.start, w.start + w.frames)
            sampson_true = cm.sampson_with_covariance(e_true, n1, n2, w.cov, focal)
            # one noise level for both, the estimator's: the tracks' noise is not a property of a model
            fitted_sum += fitted_score
            true_sum += cm.gric_difference(transfer, sampson_true, sigma)
        tracks = max(1, sum(len(w.p1) for w in moving))
        out.append({"segment": k, "true": true_sum / tracks, "fitted": fitted_sum / tracks, "windows": len(moving)})
    return out


def verdict(row: dict, margin: float) -> str:
    """Why a segment (a row of ``_video``) was read right or wrong, from its GRIC scores."""
    if row["correct"]:
        return "read right"
    if row["true"] is None:
        return "no step commanded"
    if row["decision"] != "translation" and max(row["true"], row["fitted"]) <= margin:
        return "no evidence of the step"
    if row["decision"] != "translation":
        return "evidence missed"
    return "translating, motion wrong"


def _video(args: tuple) -> list[dict]:
    path, pano_dir = args
    from yumebench.metrics.instruction_following import IFConfig, score_video_segments
    from yumebench.motion_corpus import load_panoramas, make_video

    with np.load(path) as z:
        frames = z["frames"]
        info = json.loads(str(z["meta"]))
        c2w = z["c2w"] if "c2w" in z.files else None
    if c2w is None:  # cached before the bench kept the camera path
        condition, seed = Path(path).stem.rsplit("-", 1)
        c2w = make_video(condition, int(seed), panoramas=load_panoramas(pano_dir) if pano_dir else None).c2w
    results = score_video_segments(frames, info["segments"], IFConfig())
    scored = {row["segment"]: row for row in segment_scores(frames, c2w, info["meta"]["fov_deg"], info["segments"])}
    rows = [scored.get(k, {"segment": k, "true": None, "fitted": None}) for k in range(len(info["segments"]))]
    for row in rows:
        r, truth = results[row["segment"]], info["segments"][row["segment"]]
        row.update(
            video=Path(path).stem,
            condition=Path(path).stem.rsplit("-", 1)[0],
            truth=f"{truth['keys']},{truth['mouse']}",
            read=f"{r['predicted']['keys']},{r['predicted']['mouse']}",
            decision=r["motion"]["decision"],
            correct=bool(r["correct"]),
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True, help="the accuracy bench's --cache")
    ap.add_argument("--conditions", required=True, help="comma-separated conditions")
    ap.add_argument("--seeds", choices=sorted(SEED_BASE), default="test")
    ap.add_argument("--videos", type=int, default=6)
    ap.add_argument("--panoramas", type=Path, help="needed only for pano-* videos cached without their path")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--all", action="store_true", help="print every stepping segment, not only the misses")
    args = ap.parse_args()

    from yumebench.metrics.camera_motion import MotionConfig

    margin = MotionConfig().gric_margin
    paths = [
        args.cache / f"{c}-{SEED_BASE[args.seeds] + i}.npz"
        for c in args.conditions.split(",")
        for i in range(args.videos)
    ]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SystemExit(f"not cached (run bench/instruction_following_accuracy.py first): {', '.join(missing)}")
    jobs = [(str(p), str(args.panoramas) if args.panoramas else None) for p in paths]
    try:
        with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
            rows = [row for rows in pool.map(_video, jobs) for row in rows]
    except ValueError as e:  # a pano-* video cached without its camera path, and no --panoramas to remake it
        raise SystemExit(f"{e} (pass --panoramas)") from None
    for row in rows:
        row["verdict"] = verdict(row, margin)
    stepping = [row for row in rows if row["true"] is not None]
    print(f"GRIC score per track vs the rotation-only model at the true focal; translation above {margin}")
    print(f"{'segment':<34} {'truth':<10} {'read':<10} {'decision':<12} {'true':>7} {'fitted':>7}  verdict")
    for row in stepping:
        if row["correct"] and not args.all:
            continue
        print(
            f"{row['video'] + '/' + str(row['segment']):<34} {row['truth']:<10} {row['read']:<10} "
            f"{row['decision']:<12} {row['true']:+7.2f} {row['fitted']:+7.2f}  {row['verdict']}"
        )
    counts = Counter(row["verdict"] for row in stepping if not row["correct"])
    print(f"{len(stepping)} stepping segments; " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    print()
    print(ceiling_table(rows))


_VERDICTS = ("no evidence of the step", "evidence missed", "translating, motion wrong", "no step commanded")


def ceiling_table(rows: list[dict]) -> str:
    """Per condition: segments, read right, the misses by verdict, and the ceiling (the share of
    segments not lost to missing evidence)."""
    heads = ("no evidence", "missed", "motion wrong", "no step")
    lines = [f"{'condition':<24} {'n':>4} {'right':>6} " + " ".join(f"{h:>12}" for h in heads) + f" {'ceiling':>8}"]
    for condition in sorted({row["condition"] for row in rows}):
        own = [row for row in rows if row["condition"] == condition]
        counts = Counter(row["verdict"] for row in own)
        ceiling = 1.0 - counts["no evidence of the step"] / len(own)
        lines.append(
            f"{condition:<24} {len(own):>4} {counts['read right']:>6} "
            + " ".join(f"{counts[v]:>12}" for v in _VERDICTS)
            + f" {ceiling:>8.3f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()

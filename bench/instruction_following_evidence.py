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

With ``--frames``, a column ``shown`` asks the same of the frames rather than of the tracks: the
parallax the camera's motion gives, in px over the segment, where a tracker could follow something
(``shown_parallax``, from the corpus world's own geometry: each window's first frame's depth, the true
poses, every pixel whose corner strength passes the lowest floor the estimator ever uses). A step whose
frames show almost no parallax cannot be told from a turn by any reader of the video; a step that shows
some and is missed is the tracks' or the decision's loss. Only the still world counts (not crossing
objects, not water that ripples), and only pinhole cameras (not the barrel lenses or rolling shutters).

    python bench/instruction_following_evidence.py --cache C --panoramas pano/ --conditions pano-night,pano-water
    python bench/instruction_following_evidence.py --cache C --panoramas pano/ --conditions pano-water --frames --all

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

from yumebench.motion_corpus import CONDITIONS_HELP, SEED_BASE, select_conditions


def true_essential(c2w: np.ndarray, a: int, b: int) -> np.ndarray:
    """E = [t]x R with x2 ~ R x1 + t between the cameras of frames ``a`` and ``b`` (camera-to-world
    poses, OpenCV axes: x right, y down, z forward)."""
    from yumebench.metrics.camera_motion import _skew, _window_relatives

    rot, t = _window_relatives(c2w[[a, b], :3, :3], c2w[[a, b], :3, 3], 1)  # one window, frame a to frame b
    return _skew(t[0]) @ rot[0]


def shown_parallax(
    depth: np.ndarray, c2w_a: np.ndarray, c2w_b: np.ndarray, focal: float, raw: np.ndarray, floor: float
) -> tuple[float, int]:
    """The parallax that frames ``a`` and ``b`` of a pinhole camera show, whatever a tracker makes of
    them: at every pixel of frame ``a`` that a tracker could follow (corner strength, the estimator's
    smaller structure-tensor eigenvalue of ``raw``, at least ``floor``) and that sees the still world
    (``depth``: inf for the sky, NaN where the picture moves on its own), how far the scene point it
    sees lands in frame ``b`` from where the rotation that best maps all of them puts it. (The 90th
    percentile in px, 0.0 with fewer than 10 such pixels; their number.)"""
    from yumebench.metrics import camera_motion as cm

    h, w = depth.shape
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    rays = np.stack([(u - centre[0]) / focal, (v - centre[1]) / focal, np.ones_like(u)], -1).reshape(-1, 3)
    _, eig = cm.structure_eigen(raw)  # as detect_features reads it
    z = depth.reshape(-1)
    followed = (np.minimum(eig[..., 0], eig[..., 1]).reshape(-1) >= floor) & ~np.isnan(z)
    world_dirs = rays @ c2w_a[:3, :3].T
    far = ~np.isfinite(z)  # the sky: a direction, moved by the rotation alone
    seen_b = np.where(
        far[:, None],
        world_dirs @ c2w_b[:3, :3],
        (c2w_a[:3, 3] + np.where(far, 0.0, z)[:, None] * world_dirs - c2w_b[:3, 3]) @ c2w_b[:3, :3],
    )
    ahead = seen_b[:, 2] > 1e-6
    p_b = np.full((len(z), 2), -1.0)
    p_b[ahead] = seen_b[ahead, :2] / seen_b[ahead, 2:] * focal + centre
    keep = followed & ahead & (p_b[:, 0] >= 0) & (p_b[:, 0] <= w - 1) & (p_b[:, 1] >= 0) & (p_b[:, 1] <= h - 1)
    if keep.sum() < 10:
        return 0.0, int(keep.sum())
    p_a, p_b, c = np.column_stack([u.reshape(-1), v.reshape(-1)])[keep], p_b[keep], tuple(centre)
    # one pass of the estimator's Kabsch fit: the rotation closest to the motion of every pixel, none shed
    rot, _ = cm.fit_rotation(cm._bearings(p_a, focal, c), cm._bearings(p_b, focal, c), iterations=1)
    residual = cm.rotation_residuals(p_a, p_b, rot, focal, c)
    return float(np.percentile(np.linalg.norm(residual, axis=1), 90)), int(keep.sum())


def segment_shown(
    grey, per_segment: list, depths: dict[int, np.ndarray], c2w: np.ndarray, fov_deg: float
) -> list[float]:
    """Per segment, the parallax its frames show (``shown_parallax``) summed over its windows: px over
    the segment, at the 90th percentile of the pixels a tracker could follow. ``grey``, ``per_segment``:
    as ``OpenCVMotionEstimator.video_windows`` gives them; ``depths``: each window's first frame's, at
    analysis size; ``c2w``: the path as filmed. A pixel can be followed where its corner strength passes
    the lowest floor the estimator ever uses: a dark frame's (``MotionConfig.quantisation_strength``)
    and the frame's noise (``noise_strength`` times its noise sigma squared)."""
    from yumebench.metrics import camera_motion as cm

    c = cm.MotionConfig()
    focal = cm._focal_of(fov_deg, grey.raw[0].shape[1])
    out = []
    for windows in per_segment:
        total = 0.0
        for w in windows:
            raw = grey.raw[w.start]
            floor = max(c.quantisation_strength, c.noise_strength * cm.noise_sigma(raw) ** 2)
            total += shown_parallax(depths[w.start], c2w[w.start], c2w[w.start + w.frames], focal, raw, floor)[0]
        out.append(total)
    return out


def segment_scores(grey, per_segment: list, c2w: np.ndarray, fov_deg: float, segments: list[dict]) -> list[dict]:
    """Per segment that steps: the GRIC score per track of the true and of the fitted essential matrix,
    on the windows the estimator tracks (``OpenCVMotionEstimator.video_windows``)."""
    from yumebench.metrics import camera_motion as cm

    c = cm.MotionConfig()
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


def filmed_geometry(
    condition: str,
    seed: int,
    panoramas: dict | None,
    starts: set[int],
    size: tuple[int, int],
    photos: dict | None = None,
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """A corpus video's world seen again without rendering (a ``World.backend`` that keeps the pose and
    returns black): the path as filmed (shake and gait included) and the depth at ``size`` (height,
    width) of each frame in ``starts``."""
    from yumebench.motion_corpus import CameraModel, make_video

    poses, depths = {}, {}

    def geometry(world, c2w, camera, frame):
        poses[frame] = c2w
        if frame in starts:
            depths[frame] = world.depth(c2w, CameraModel(size[1], size[0], camera.fov_deg, camera.barrel), frame)
        return np.zeros((camera.height * camera.width, 3), np.float32)

    make_video(condition, seed, photos, panoramas, backend=geometry)
    return np.stack([poses[k] for k in sorted(poses)]), depths


def _video(args: tuple) -> list[dict]:
    path, pano_dir, frames_too = args
    from yumebench.metrics import camera_motion as cm
    from yumebench.metrics.instruction_following import IFConfig, score_video_segments
    from yumebench.motion_corpus import load_panoramas, make_video

    with np.load(path) as z:
        frames = z["frames"]
        info = json.loads(str(z["meta"]))
        c2w = z["c2w"] if "c2w" in z.files else None
    segments, fov_deg = info["segments"], info["meta"]["fov_deg"]
    condition, seed = Path(path).stem.rsplit("-", 1)
    want_world = c2w is None or frames_too
    panoramas = load_panoramas(pano_dir) if want_world and pano_dir and condition.startswith("pano") else None
    if c2w is None:  # cached before the bench kept the camera path
        c2w = make_video(condition, int(seed), panoramas=panoramas).c2w
    # every segment's windows as the estimator tracks them (content fixed to the frame is found per video)
    grey, per_segment = cm.OpenCVMotionEstimator().video_windows(frames, [(s["start"], s["end"]) for s in segments])
    results = score_video_segments(frames, segments, IFConfig())
    scored = {row["segment"]: row for row in segment_scores(grey, per_segment, c2w, fov_deg, segments)}
    rows = [scored.get(k, {"segment": k, "true": None, "fitted": None}) for k in range(len(segments))]
    shown = [None] * len(segments)
    # a pinhole's (no barrel lens, no rolling shutter): the parallax is projected through one
    if frames_too and not info["meta"].get("barrel") and not info["meta"].get("readout"):
        starts = {w.start for windows in per_segment for w in windows}
        filmed, depths = filmed_geometry(condition, int(seed), panoramas, starts, grey.raw[0].shape)
        shown = segment_shown(grey, per_segment, depths, filmed, fov_deg)
    for row in rows:
        r, truth = results[row["segment"]], segments[row["segment"]]
        row.update(
            video=Path(path).stem,
            condition=condition,
            truth=f"{truth['keys']},{truth['mouse']}",
            read=f"{r['predicted']['keys']},{r['predicted']['mouse']}",
            decision=r["motion"]["decision"],
            correct=bool(r["correct"]),
            shown=shown[row["segment"]],
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, required=True, help="the accuracy bench's --cache")
    ap.add_argument("--conditions", required=True, help=CONDITIONS_HELP)
    ap.add_argument("--seeds", choices=sorted(SEED_BASE), default="test")
    ap.add_argument("--videos", type=int, default=6)
    ap.add_argument("--panoramas", type=Path, help="needed only for pano-* videos cached without their path")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--all", action="store_true", help="print every stepping segment, not only the misses")
    ap.add_argument(
        "--frames",
        action="store_true",
        help="also the parallax the frames show, from the corpus world's geometry (pinhole cameras only; "
        "pano-* conditions need --panoramas)",
    )
    ap.add_argument("--json", type=Path, help="also write every segment's row here")
    args = ap.parse_args()
    conditions = select_conditions(args.conditions)
    if args.frames and not args.panoramas and any(c.startswith("pano") for c in conditions):
        ap.error("--frames on pano-* conditions needs --panoramas (their worlds are made from the panoramas)")

    from yumebench.metrics.camera_motion import MotionConfig

    margin = MotionConfig().gric_margin
    paths = [args.cache / f"{c}-{SEED_BASE[args.seeds] + i}.npz" for c in conditions for i in range(args.videos)]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise SystemExit(f"not cached (run bench/instruction_following_accuracy.py first): {', '.join(missing)}")
    jobs = [(str(p), str(args.panoramas) if args.panoramas else None, args.frames) for p in paths]
    try:
        with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
            rows = [row for rows in pool.map(_video, jobs) for row in rows]
    except ValueError as e:  # a pano-* video cached without its camera path, and no --panoramas to remake it
        raise SystemExit(f"{e} (pass --panoramas)") from None
    for row in rows:
        row["verdict"] = verdict(row, margin)
    stepping = [row for row in rows if row["true"] is not None]
    print(f"GRIC score per track vs the rotation-only model at the true focal; translation above {margin}")
    print(
        f"{'segment':<34} {'truth':<10} {'read':<10} {'decision':<12} {'true':>7} {'fitted':>7} "
        + (f"{'shown':>7} " if args.frames else "")
        + " verdict"
    )
    for row in stepping:
        if row["correct"] and not args.all:
            continue
        print(
            f"{row['video'] + '/' + str(row['segment']):<34} {row['truth']:<10} {row['read']:<10} "
            f"{row['decision']:<12} {row['true']:+7.2f} {row['fitted']:+7.2f} "
            + (f"{_px(row['shown']):>7} " if args.frames else "")
            + f" {row['verdict']}"
        )
    counts = Counter(row["verdict"] for row in stepping if not row["correct"])
    print(f"{len(stepping)} stepping segments; " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    print()
    print(ceiling_table(rows))
    if args.frames:
        print()
        print(parallax_table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


PARALLAX_BINS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, np.inf)  # px over a segment


def parallax_table(rows: list[dict]) -> str:
    """The stepping segments by the parallax their frames show (``shown``, px over the segment): how many,
    the share the estimator reads as translating, and the share whose keys (W/A/S/D) it reads right."""
    lines = [f"{'parallax shown (px)':<22} {'n':>5} {'translating':>12} {'keys right':>11}"]
    stepping = [row for row in rows if row["true"] is not None and row.get("shown") is not None]
    for low, high in zip(PARALLAX_BINS[:-1], PARALLAX_BINS[1:], strict=True):
        own = [row for row in stepping if low <= row["shown"] < high]
        label = f"{low:g}-{high:g}" if np.isfinite(high) else f"{low:g} and more"
        if not own:
            lines.append(f"{label:<22} {0:>5} {'-':>12} {'-':>11}")
            continue
        moving = np.mean([row["decision"] == "translation" for row in own])
        keys = np.mean([row["read"].split(",")[0] == row["truth"].split(",")[0] for row in own])
        lines.append(f"{label:<22} {len(own):>5} {moving:>12.2f} {keys:>11.2f}")
    return "\n".join(lines)


def _px(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


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

"""How far a video's frame-to-frame motion is from one rigid camera move: calibrates the corpus's wobble
(`yumebench.motion_corpus.Wobble`) against what a world model really generates.

For each pair of consecutive frames, corners in the upper part of the frame (distant scenery, where a
step adds least parallax) are tracked (pyramidal Lucas-Kanade) on the frames resized to the metric's
analysis width (narrower videos upscaled, unlike the metric, so that every video's residual is in the
same pixels; hence not ``camera_motion.prepare_grey``, which never upscales), tracks that do not move (a
game's HUD, a logo) are dropped, a homography is fitted robustly (least median of squares: a pure turn,
or a step seen at a distance, is one homography), and the median distance of the tracks from it is the
pair's residual. Rigid renders give a few hundredths of a pixel; the corpus's wobble
a few tenths; more is a world that deforms (or tracking that fails on texture that boils).

    python bench/non_rigidity.py sample_0.gif sample_1.gif --cache /tmp/ifcache_test \
        --conditions pano-rotation,pano-rotation-wobble,street,street-wobble --videos 2 --gaps 1,2,4,8

Inputs: any video `yumebench.video.read_frames` decodes (mp4, gif, ...) and the accuracy bench's cached
corpus videos (`.npz`). Not a metric: a world that deforms while the camera stands still is also not
rigid, and the residual does not say which.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

import cv2
import numpy as np

from yumebench.metrics.camera_motion import MotionConfig

ANALYSIS_WIDTH = MotionConfig.analysis_width
STATIC_FLOW_PX = 0.05  # a track that moves less is an overlay, not the scene
MIN_TRACKS = 15


def grey_frames(frames: np.ndarray, width: int = ANALYSIS_WIDTH) -> list[np.ndarray]:
    """RGB (T, H, W, 3) uint8 frames as grey uint8 frames ``width`` wide (area resize), luma as the metric
    takes it (``camera_motion.prepare_grey``)."""
    height = int(round(frames.shape[1] * width / frames.shape[2]))
    grey = [f if f.ndim == 2 else cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_RGB2GRAY) for f in frames]
    return [cv2.resize(g, (width, height), interpolation=cv2.INTER_AREA) for g in grey]


def pair_residuals(frames: np.ndarray, band: float = 0.45, step: int = 1) -> np.ndarray:
    """Per pair of frames ``step`` apart: (median residual px, median flow px, tracks) of the moving
    tracks in the top ``band`` of the frame (followed frame to frame in between) after a robust
    homography; pairs with too few tracks are left out. (P, 3)."""
    return residuals_by_gap(frames, band, [step])[step]


def residuals_by_gap(frames: np.ndarray, band: float, gaps: list[int]) -> dict[int, np.ndarray]:
    """``pair_residuals`` at each of ``gaps``, the frames made grey once."""
    grey = grey_frames(frames)
    mask = np.zeros_like(grey[0])
    mask[: int(band * mask.shape[0])] = 255
    return {step: _residuals(grey, mask, step) for step in dict.fromkeys(gaps)}


def _residuals(grey: list[np.ndarray], mask: np.ndarray, step: int) -> np.ndarray:
    rows = []
    for i in range(0, len(grey) - step, step):
        p = cv2.goodFeaturesToTrack(grey[i], 300, 0.01, 8, mask=mask)
        if p is None or len(p) < MIN_TRACKS:
            continue
        q, alive = p, np.ones(len(p), bool)
        for j in range(i, i + step):  # frame to frame, as the metric tracks: one step of tens of px would fail
            q, found, _ = cv2.calcOpticalFlowPyrLK(grey[j], grey[j + 1], q, None, winSize=(21, 21), maxLevel=3)
            alive &= found[:, 0] == 1
        p, q = p[alive, 0], q[alive, 0]
        moving = np.linalg.norm(q - p, axis=1) > STATIC_FLOW_PX
        p, q = p[moving], q[moving]
        if len(p) < MIN_TRACKS:
            continue
        homography, _ = cv2.findHomography(p, q, cv2.LMEDS)
        if homography is None:
            continue
        predicted = cv2.perspectiveTransform(p[None], homography)[0]
        residual = np.linalg.norm(predicted - q, axis=1)
        rows.append((float(np.median(residual)), float(np.median(np.linalg.norm(q - p, axis=1))), len(p)))
    return np.array(rows).reshape(-1, 3)


def load(path: str) -> np.ndarray:
    if path.endswith(".npz"):
        with np.load(path) as z:
            return z["frames"]
    from yumebench.video import read_frames

    return read_frames(path)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("videos", nargs="*", help="videos to measure (any format the toolkit decodes)")
    parser.add_argument("--cache", help="the accuracy bench's cache of corpus videos, to measure beside them")
    parser.add_argument("--conditions", default="pano-rotation,pano-rotation-wobble,street,street-wobble")
    parser.add_argument("--videos", dest="per_condition", type=int, default=2, help="corpus videos per condition")
    parser.add_argument("--band", type=float, default=0.45, help="share of the frame, from the top, tracked")
    parser.add_argument(
        "--gaps",
        help="also the median residual between frames this many apart, e.g. 1,2,4,8: how the deformation "
        "grows over a window (in proportion to the gap: a smooth drift; as its square root: a random walk; "
        "not at all: jitter from frame to frame)",
    )
    args = parser.parse_args(argv)
    paths = list(args.videos)
    if args.cache:
        for condition in args.conditions.split(","):
            found = sorted(glob.glob(os.path.join(args.cache, f"{condition}-[0-9]*.npz")))
            paths += [p for p in found if os.path.basename(p)[len(condition) + 1 : -4].isdigit()][: args.per_condition]
    if not paths:
        parser.error("give videos to measure, or --cache")
    gaps = [int(g) for g in args.gaps.split(",")] if args.gaps else []
    print(
        f"{'video':<44} {'pairs':>5} {'residual px: p25':>16} {'median':>7} {'p75':>6} {'flow px':>8} {'tracks':>6}"
        + "".join(f" {'gap ' + str(g):>7}" for g in gaps)
    )
    for path in paths:
        try:
            residuals = residuals_by_gap(load(path), args.band, [1, *gaps])
            rows, by_gap = residuals[1], [residuals[gap] for gap in gaps]
        except Exception as error:  # one bad file does not stop the others
            print(f"{os.path.basename(path)}: {error}", file=sys.stderr)
            continue
        if not len(rows):
            print(f"{os.path.basename(path):<44} {0:>5}  (too few moving tracks)")
            continue
        q25, q50, q75 = np.percentile(rows[:, 0], [25, 50, 75])
        flow, tracks = np.median(rows[:, 1]), int(np.median(rows[:, 2]))
        name = os.path.basename(path)
        at_gaps = "".join(f" {np.median(r[:, 0]):>7.3f}" if len(r) else f" {'-':>7}" for r in by_gap)
        print(f"{name:<44} {len(rows):>5} {q25:>16.3f} {q50:>7.3f} {q75:>6.3f} {flow:>8.2f} {tracks:>6}{at_gaps}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

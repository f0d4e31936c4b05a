"""Instruction-following accuracy on rendered scenes with known camera paths: per action class and
per degradation, plus the shuffled-command control. Prints tables (a report, not a timed test).

    python bench/instruction_following_accuracy.py --videos 27
"""

from __future__ import annotations

import argparse

import numpy as np

from yumebench.actions import KEYS, MOUSE, Action
from yumebench.metrics.camera_motion import OpenCVMotionEstimator
from yumebench.metrics.instruction_following import IFConfig, accuracy_tables, score_segments
from yumebench.synthetic import DEGRADATIONS, degrade, random_segment_video


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=27, help="3 segments each; 27 videos = every key x mouse pair once")
    ap.add_argument("--seed", type=int, default=4000)
    args = ap.parse_args()
    pairs = [(k, m) for k in range(9) for m in range(9)]
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(pairs))
    videos = []
    for v in range(args.videos):
        acts = [
            Action(KEYS[pairs[order[(3 * v + j) % 81]][0]], MOUSE[pairs[order[(3 * v + j) % 81]][1]]) for j in range(3)
        ]
        videos.append(random_segment_video(acts, seed=args.seed + v))
    cfg, est = IFConfig(), OpenCVMotionEstimator(IFConfig().motion)
    tables = {}
    for kind in ("clean", *DEGRADATIONS):
        results = []
        for i, (frames, segs) in enumerate(videos):
            results += score_segments(frames if kind == "clean" else degrade(frames, kind, seed=i), segs, est, cfg)
        tables[kind] = accuracy_tables(results)
    flat = [s for _, segs in videos for s in segs]
    perm = rng.permutation(len(flat))
    shuffled = []
    for i, (frames, segs) in enumerate(videos):
        other = [flat[perm[3 * i + j]] for j in range(3)]
        segs = [{**s, "keys": o["keys"], "mouse": o["mouse"]} for s, o in zip(segs, other, strict=True)]
        shuffled += score_segments(frames, segs, est, cfg)
    print(f"{len(flat)} segments of 32 frames at 288x160, {args.videos} videos")
    print("condition     segment  forward  strafe   yaw    pitch")
    for kind, t in tables.items():
        c = t["component_accuracy"]
        parts = [f"{t['segment_accuracy']:7.3f}", *(f"{c[k]:6.3f}" for k in ("forward", "strafe", "yaw", "pitch"))]
        print(f"{kind:<12} " + "  ".join(parts))
    print(f"{'shuffled':<12} {accuracy_tables(shuffled)['segment_accuracy']:7.3f}")
    clean = tables["clean"]
    print("keys class accuracy (clean):  " + "  ".join(f"{k} {v:.2f}" for k, v in clean["keys_accuracy"].items()))
    print("mouse class accuracy (clean): " + "  ".join(f"{k} {v:.2f}" for k, v in clean["mouse_accuracy"].items()))
    print("confusions (clean):", clean["confusion"])


if __name__ == "__main__":
    main()

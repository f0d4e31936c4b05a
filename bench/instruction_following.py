"""Instruction-following speed at 544x960 on the CPU (target: >= 50 frames per second on 2 cores).

Times ``yumebench bench run --dims instruction_following`` end to end (decode included) against
decode-only passes of the same videos, in one run: the luma that the run decodes (IF needs no colour)
and, for comparison, the RGB frames that other dimensions decode.

    python bench/instruction_following.py --videos 8 --workers 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from yumebench.actions import ALL_ACTIONS
from yumebench.bench.runner import BenchConfig, run_bench
from yumebench.synthetic import random_segment_video
from yumebench.video import read_frames, read_luma, write_mp4


def decode_rgb(path: str) -> int:
    return len(read_frames(path)[0])


def decode_luma(path: str) -> int:
    return len(read_luma(path)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=8, help="fewer videos measure process start-up more than scoring")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        items = []
        for v in range(args.videos):
            acts = [ALL_ACTIONS[(v * 3 + k) * 11 % 81] for k in range(3)]
            frames, segs = random_segment_video(acts, seed=v, width=480, height=272)
            big = np.stack([cv2.resize(f, (960, 544), interpolation=cv2.INTER_LINEAR) for f in frames])
            write_mp4(root / f"v{v}.mp4", big, 16)
            items.append({"id": f"v{v}", "video": f"v{v}.mp4", "segments": segs})
        (root / "spec.jsonl").write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))
        paths = [str(root / i["video"]) for i in items]
        total = 96 * args.videos

        decode_s = {}
        for name, decode in (("luma", decode_luma), ("RGB", decode_rgb)):
            t0 = time.perf_counter()
            with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
                assert sum(pool.map(decode, paths)) == total
            decode_s[name] = time.perf_counter() - t0

        t0 = time.perf_counter()
        config = BenchConfig(workers=args.workers, progress=False)
        report = run_bench(root / "spec.jsonl", root, root / "r.json", config)
        bench_s = time.perf_counter() - t0
    score = report.results["instruction_following"][0]
    print(f"{args.videos} videos x 96 frames at 544x960, {args.workers} workers (IF score {score:.3f})")
    for name, seconds in decode_s.items():
        print(f"decode only ({name + '):':5s}          {total / seconds:6.1f} frames/s")
    print(f"bench run (decode + IF):     {total / bench_s:6.1f} frames/s  (target >= 50)")


if __name__ == "__main__":
    main()

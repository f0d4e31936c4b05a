"""Dataset build throughput vs decode-only throughput of the same videos, measured in one run.

Target (issue 4): build >= 0.7 x decode-only with 2 workers.

    python bench/data_build.py --videos 8 --frames 240 --size 360x640 --workers 2
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from synthetic_inputs import synthetic_build

from data_pipeline.builder import build
from data_pipeline.process import BuildConfig
from yumebench.video import iter_frames


def decode_only(path: str) -> int:
    return sum(len(f) for _, f in iter_frames(path))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=8)
    ap.add_argument("--frames", type=int, default=240)
    ap.add_argument("--size", default="360x640", help="HxW")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    h, w = map(int, args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = synthetic_build(root, args.videos, args.frames, (h, w))
        videos = [json.loads(line)["video"] for line in manifest.read_text().splitlines()]

        t0 = time.perf_counter()
        with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn")) as pool:
            frames = sum(pool.map(decode_only, videos))
        decode_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        report = build(manifest, root / "ds", BuildConfig(), workers=args.workers, progress=False)
        build_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        build(manifest, root / "ds", BuildConfig(), workers=args.workers, progress=False)  # all inputs done
        fixed_s = time.perf_counter() - t0

    print(f"videos {args.videos} x {args.frames + 1} frames at {h}x{w}, {args.workers} workers")
    print(f"decode-only: {decode_s:.2f} s ({frames / decode_s:.0f} frames/s)")
    print(f"build:       {build_s:.2f} s ({report.num_clips / build_s:.2f} clips/s, {report.num_clips} clips)")
    print(f"of which listing + finalize (a rerun with every input done): {fixed_s:.2f} s")
    print(f"build throughput / decode-only throughput: {decode_s / build_s:.2f} (target >= 0.7)")


if __name__ == "__main__":
    main()

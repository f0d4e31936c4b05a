"""Scale-out throughput: ``bench run`` and ``data build`` on the local backend and on Ray with 1, 2, ...
workers, measured side by side in one run and printed as ratios (target: Ray with 2 workers >= 1.6x
Ray with 1 worker on 2 cores, for both).

Each configuration starts from nothing (no cache, no build folder) and is timed end to end, the
bench's actor start-up (model loading) included; one untimed warm-up run per backend comes first
(Ray starts its worker processes once per session, as a long-lived cluster has them already). The
order is interleaved and repeated (``--repeats``) and the median kept, because these machines are
noisy. For the dataset build it also reports the driver's share: the
driver process's CPU seconds over the run's wall seconds times workers (a driver that becomes the
bottleneck shows a share that grows with the worker count).

Ray runs on the cluster ``RAY_ADDRESS`` names, else on a private local Ray started once here.

    python bench/scale_out.py                                   # CPU: synthetic videos, IF + build
    python bench/scale_out.py --only bench --workers 1,2,4,8 --spec suite.jsonl --videos generated/ \\
        --dims all --device cuda --gpus-per-worker 1          # GPU cluster: the 70-item suite per N GPUs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from synthetic_inputs import synthetic_build

from data_pipeline.builder import build
from data_pipeline.process import BuildConfig
from yumebench.actions import ALL_ACTIONS
from yumebench.bench.runner import BenchConfig, run_bench
from yumebench.synthetic import random_segment_video
from yumebench.video import write_mp4


def synthetic_bench(root: Path, count: int, size: tuple[int, int]) -> tuple[Path, Path]:
    items = []
    for v in range(count):
        acts = [ALL_ACTIONS[(v * 3 + k) * 11 % 81] for k in range(3)]
        frames, segs = random_segment_video(acts, seed=v, width=size[1], height=size[0])
        write_mp4(root / f"v{v}.mp4", frames, 16)
        items.append({"id": f"v{v}", "video": f"v{v}.mp4", "segments": segs})
    (root / "spec.jsonl").write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items))
    return root / "spec.jsonl", root


def busy_cores() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far, from /proc/stat (Linux; zeros elsewhere)."""
    try:
        ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0, 0
    return sum(ticks) - ticks[3] - ticks[4], sum(ticks)


def cores_used(before: tuple[int, int], after: tuple[int, int]) -> float:
    """How many cores were busy on average between two ``busy_cores`` readings: a 1-worker run that
    already keeps more than one core busy cannot double its throughput with a second worker."""
    total = after[1] - before[1]
    return (os.cpu_count() or 1) * (after[0] - before[0]) / total if total else float("nan")


def time_bench(spec: Path, videos: Path, out: Path, backend: str, workers: int, args) -> tuple[float, float]:
    config = BenchConfig(
        dims=args.dims.split(",") if args.dims != "all" else _all_dims(),
        device=args.device,
        workers=workers,
        backend=backend,
        gpus_per_worker=args.gpus_per_worker if backend == "ray" else 0.0,
        progress=False,
    )
    t0, b0 = time.perf_counter(), busy_cores()
    report = run_bench(spec, videos, out, config)
    wall, b1 = time.perf_counter() - t0, busy_cores()
    if report.failed:
        raise SystemExit(f"{len(report.failed)} videos failed: {report.failed[0]['error']}")
    return wall, cores_used(b0, b1)


def time_build(manifest: Path, out: Path, backend: str, workers: int) -> tuple[float, float, float]:
    """(wall seconds, driver CPU seconds, cores busy)."""
    t0, c0, b0 = time.perf_counter(), time.process_time(), busy_cores()
    build(manifest, out, BuildConfig(), workers=workers, backend=backend, progress=False)
    return time.perf_counter() - t0, time.process_time() - c0, cores_used(b0, busy_cores())


def _all_dims() -> list[str]:
    from yumebench.metrics import DIMENSIONS

    return DIMENSIONS.names()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["bench", "build", "both"], default="both")
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    ap.add_argument("--backends", default="local,ray")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--videos", type=int, default=12, help="synthetic bench videos (without --spec)")
    ap.add_argument("--size", default="256x448", help="HxW of the synthetic bench videos")
    ap.add_argument("--spec", type=Path, help="score these instead (with --video-dir)")
    ap.add_argument("--video-dir", type=Path)
    ap.add_argument("--dims", default="instruction_following")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--gpus-per-worker", type=float, default=0.0)
    ap.add_argument("--inputs", type=int, default=12, help="synthetic dataset-build inputs")
    ap.add_argument("--frames", type=int, default=240)
    ap.add_argument("--build-size", default="360x640")
    args = ap.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    backends = args.backends.split(",")
    started_ray = False
    if "ray" in backends:
        import ray

        if not ray.is_initialized():  # started once: the runs below share it (actors start per run)
            address = os.environ.get("RAY_ADDRESS")
            ray.init(
                address=address or None,
                num_cpus=None if address else max(counts),
                include_dashboard=False,
                log_to_driver=False,
                logging_level="ERROR",
            )
            started_ray = True
        print(f"ray: {ray.cluster_resources()}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.only in ("bench", "both"):
            if args.spec:
                spec, videos = args.spec, args.video_dir
            else:
                h, w = map(int, args.size.split("x"))
                (root / "bench").mkdir()
                spec, videos = synthetic_bench(root / "bench", args.videos, (h, w))
            n = sum(1 for line in spec.read_text().splitlines() if line.strip())
            walls: dict[tuple[str, int], list[float]] = {}
            busy: dict[tuple[str, int], list[float]] = {}
            for backend in backends:  # untimed: Ray's worker processes start once per session
                time_bench(spec, videos, root / f"warm-{backend}.json", backend, max(counts), args)
            for r in range(args.repeats):
                for workers in counts:
                    for backend in backends:
                        out = root / f"bench-{backend}-{workers}-{r}.json"
                        wall, cores = time_bench(spec, videos, out, backend, workers, args)
                        walls.setdefault((backend, workers), []).append(wall)
                        busy.setdefault((backend, workers), []).append(cores)
            print(f"\nbench run --dims {args.dims}: {n} videos, device {args.device}")
            _table(walls, busy, n, "videos/min", 60.0)
        if args.only in ("build", "both"):
            h, w = map(int, args.build_size.split("x"))
            (root / "build").mkdir()
            manifest = synthetic_build(root / "build", args.inputs, args.frames, (h, w))
            walls, cpu, busy = {}, {}, {}
            for backend in backends:
                time_build(manifest, root / f"warm-{backend}", backend, max(counts))
            for r in range(args.repeats):
                for workers in counts:
                    for backend in backends:
                        out = root / f"ds-{backend}-{workers}-{r}"
                        wall, driver, cores = time_build(manifest, out, backend, workers)
                        walls.setdefault((backend, workers), []).append(wall)
                        cpu.setdefault((backend, workers), []).append(driver)
                        busy.setdefault((backend, workers), []).append(cores)
            print(f"\ndata build: {args.inputs} inputs x {args.frames} frames at {args.build_size}")
            _table(walls, busy, args.inputs, "inputs/s", 1.0, cpu)
    if started_ray:
        import ray

        ray.shutdown()


def _table(walls: dict, busy: dict, n: int, unit: str, scale: float, driver_cpu: dict | None = None) -> None:
    median = {k: statistics.median(v) for k, v in walls.items()}
    for (backend, workers), wall in sorted(median.items()):
        cores = statistics.median(busy[(backend, workers)])
        line = f"  {backend:5s} x{workers}: {wall:7.1f} s  {n / wall * scale:8.2f} {unit}  {cores:4.2f} cores busy"
        base = median.get((backend, 1))
        if base and workers > 1:
            line += f"  {base / wall:4.2f}x its 1 worker"
        local = median.get(("local", workers))
        if backend == "ray" and local:
            line += f"  {local / wall:4.2f}x local x{workers}"
        if driver_cpu is not None:
            cpu = statistics.median(driver_cpu[(backend, workers)])
            line += f"  driver {cpu / n:5.2f} CPU s/input, {cpu / (wall * workers):4.0%} of worker time"
        print(line)


if __name__ == "__main__":
    main()

"""``yumebench bench run``: decode each video once, score it on every chosen dimension, write results.

Resumable: each scored (video, dimension) is appended to ``<out>.cache.jsonl`` as it finishes, keyed
by the dimension's name, version and config and by the video file's size and mtime; a rerun scores
only what is missing. Deterministic: results are assembled in spec order, whatever ``--workers``.
Backends: ``local`` (this process, or a process pool with ``--workers``) and ``ray`` (actors on the
cluster ``RAY_ADDRESS`` names; ``ray_backend``); the driver writes the cache and results either way.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import json
import math
import time
from collections import Counter
from concurrent.futures import as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from yumebench import __version__
from yumebench.bench.spec import SpecError, SpecItem, read_spec
from yumebench.files import atomic_write, atomic_write_text, ensure_writable, sweep_stale_temporaries
from yumebench.metrics import DIMENSIONS, Dimension, MissingWeights
from yumebench.result_schema import SCHEMA_VERSION, finite_or_none
from yumebench.video import VideoError, read_frames, read_luma
from yumebench.worker_pool import worker_pool


@dataclass
class BenchConfig:
    dims: list[str] = field(default_factory=lambda: ["instruction_following"])
    device: str = "cpu"
    batch_size: int = 16
    videos_per_batch: int = 4  # videos decoded together so backbone batches span videos
    workers: int = 1
    backend: str = "local"  # local (process pool) or ray (actors; RAY_ADDRESS names the cluster)
    gpus_per_worker: float = 0.0  # ray: GPUs each actor holds (0: CPU actors)
    weights_dir: str | None = None
    seed: int = 0
    progress: bool = True
    # settings of single dimensions, by name: {"imaging_quality": {"preprocessing_mode": "shorter"}}
    options: dict[str, dict] = field(default_factory=dict)

    def dimension_kwargs(self) -> dict:
        return {
            "device": self.device,
            "batch_size": self.batch_size,
            "weights_dir": self.weights_dir,
            "options": self.options,
        }


def build_dimension(name: str, kwargs: dict) -> Dimension:
    """The dimension from the common settings plus its own (``kwargs["options"][name]``)."""
    common = {k: v for k, v in kwargs.items() if k != "options"}
    return DIMENSIONS.build(name, **common, **kwargs.get("options", {}).get(name, {}))


@dataclass
class BenchReport:
    results: dict
    failed: list[dict]
    skipped: dict[str, str]
    ray: object | None = None  # ray_backend.RayRunStats of a --backend ray run


def _file_key(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}-{int(st.st_mtime_ns)}"


def _cache_key(dim: Dimension, item: SpecItem, video: Path) -> str:
    payload = json.dumps(
        # the weights' checksums too: other weights must never reuse a cached score
        [
            dim.name,
            dim.version,
            dim.config(),
            dim.weight_checksums(),
            item.to_dict(),
            str(video.resolve()),
            _file_key(video),
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha1(payload.encode()).hexdigest()


# Worker processes build each dimension once (backbones load once, not per video); keyed by the
# settings too, so a process never reuses a dimension built for other weights or another device.
_WORKER_DIMS: dict[tuple, Dimension] = {}


def _worker_dims(names: list[str], kwargs: dict) -> dict[str, Dimension]:
    settings = json.dumps(kwargs, sort_keys=True)
    for name in names:
        if (name, settings) not in _WORKER_DIMS:
            _WORKER_DIMS[(name, settings)] = build_dimension(name, kwargs)
    return {n: _WORKER_DIMS[(n, settings)] for n in names}


def _decode(item: SpecItem, video: str, luma: bool = False) -> tuple[np.ndarray | None, str | None]:
    try:
        frames, _ = read_luma(video) if luma else read_frames(video)
    except VideoError as e:
        return None, str(e)
    for i, seg in enumerate(item.segments):
        if seg["end"] > len(frames):
            return None, (
                f"{item.id}: segment {i} [{seg['start']}, {seg['end']}) is past the video's end ({len(frames)} frames)"
            )
    return frames, None


def _error_entry(e: Exception) -> dict:
    return {"video_results": None, "error": f"{type(e).__name__}: {e}".splitlines()[0]}


def score_group(
    jobs: list[tuple[SpecItem, str, list[str]]], kwargs: dict, dims: dict[str, Dimension] | None = None
) -> list[dict]:
    """Decode each video of the group once and score the group on each dimension in one call, so
    backbones fill their batches with frames of several videos. ``jobs`` holds (item, video path,
    dimensions still missing for it). Never raises: errors come back as data, and a dimension that
    fails on the group is retried video by video so one bad video costs only its own entry."""
    names = sorted({n for _, _, missing in jobs for n in missing})
    dims = {n: dims[n] for n in names} if dims is not None else _worker_dims(names, kwargs)
    results, decoded = [], {}
    for k, (item, video, missing) in enumerate(jobs):
        # luma alone where every dimension still to score needs no colour: a third of the decoding CPU
        frames, error = _decode(item, video, luma=all(dims[n].requirements.luma_only for n in missing))
        if error is not None:
            results.append({"id": item.id, "error": error})
            continue
        decoded[k] = frames
        results.append({"id": item.id, "entries": {}, "seconds": {}, "frames": len(frames)})
    for name in names:
        dim = dims[name]
        members = []
        for k, (item, _, missing) in enumerate(jobs):
            if k not in decoded or name not in missing:
                continue
            if dim.requirements.uses_segments and not item.segments:
                results[k]["entries"][name] = {"video_results": None, "note": "no segments in the spec"}
                continue
            members.append(k)
        if not members:
            continue
        t0 = time.perf_counter()
        try:
            entries = dim.score_videos([(decoded[k], jobs[k][0].to_dict()) for k in members])
        except Exception:  # find the video that fails; the others keep their scores
            entries = []
            for k in members:
                try:
                    entries.append(dim.score_video(decoded[k], jobs[k][0].to_dict()))
                except Exception as e:  # one dimension failing must not lose the others
                    entries.append(_error_entry(e))
        share = (time.perf_counter() - t0) / len(members)
        for k, entry in zip(members, entries, strict=True):
            value = entry.get("video_results")
            if isinstance(value, float) and not math.isfinite(value):  # never a NaN in the results
                entry = {**entry, "video_results": None, "error": f"{name} gave a non-finite score ({value})"}
            results[k]["entries"][name] = entry
            results[k]["seconds"][name] = share
    return results


def run_bench(spec: str | Path, videos: str | Path, out: str | Path, config: BenchConfig | None = None) -> BenchReport:
    config = config or BenchConfig()
    spec, videos, out = Path(spec), Path(videos), Path(out)
    items, failed = read_spec(spec)
    if not videos.is_dir():
        raise SpecError(f"{videos}: videos folder not found")
    # before any scoring: the results must be writable (a read-only or missing folder fails here, in one
    # line, not after an hour of scoring), and what killed runs left behind goes
    ensure_writable(out.parent)
    sweep_stale_temporaries(out.parent)
    kwargs = config.dimension_kwargs()
    dims: dict[str, Dimension] = {}
    skipped: dict[str, str] = {}
    for name in config.dims:
        try:
            dims[name] = build_dimension(name, kwargs)
        except MissingWeights as e:
            skipped[name] = str(e)
    names = list(dims)

    cache_path = out.with_name(out.name + ".cache.jsonl")
    cache: dict[str, dict] = {}
    if cache_path.exists():
        for line in cache_path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                cache[rec["key"]] = rec
            except (json.JSONDecodeError, KeyError):
                continue  # a line cut by a kill: that video is simply scored again

    entries: dict[str, dict[str, dict]] = {}
    seconds = {n: 0.0 for n in names}
    todo = []
    for item in items:
        video = videos / item.video
        if not video.exists():
            failed.append({"id": item.id, "video": str(video), "error": f"{video}: video not found"})
            continue
        keys = {n: _cache_key(dims[n], item, video) for n in names}
        done = {n: cache[k]["entry"] for n, k in keys.items() if k in cache}
        entries[item.id] = done
        missing = [n for n in names if n not in done]
        if missing:
            todo.append((item, video, missing, keys))

    from tqdm.auto import tqdm

    bar = tqdm(total=len(todo), unit="video", desc="bench", disable=not config.progress)
    wanted = Counter(n for _, _, missing, _ in todo for n in missing)
    ray_stats = None
    scored: Counter = Counter()
    with _named_errors(cache_path), cache_path.open("a", encoding="utf-8") as cache_file:

        def collect(item: SpecItem, keys: dict, result: dict) -> None:
            if "error" in result:
                failed.append({"id": item.id, "video": item.video, "error": result["error"]})
                entries.pop(item.id, None)
                return
            for n, entry in result["entries"].items():
                entries[item.id][n] = entry
                scored[n] += 1
                seconds[n] += result["seconds"].get(n, 0.0)
                if entry.get("error") is None:
                    rec = {"key": keys[n], "id": item.id, "dim": n, "entry": entry}
                    cache_file.write(json.dumps(rec, ensure_ascii=False) + "\n")
            cache_file.flush()
            bar.update()
            if len(wanted) > 1:  # videos done per dimension
                bar.set_postfix_str(" ".join(f"{_short(n)} {scored[n]}/{wanted[n]}" for n in wanted), refresh=False)

        groups = _balanced_groups(todo, config.videos_per_batch, config.workers)

        def jobs(group):
            return [(item, str(video), missing) for item, video, missing, _ in group]

        if config.backend == "ray" and groups:
            from yumebench.bench.ray_backend import score_on_ray

            def on_result(group, results) -> None:
                for (item, _, _, keys), result in zip(group, results, strict=True):
                    collect(item, keys, result)

            def on_progress(stats) -> None:  # videos done per worker, beside the per-dimension counts
                workers = " ".join(f"{w.rsplit(':', 1)[-1]}:{k}" for w, k in sorted(stats.per_worker.items()))
                bar.set_description_str(f"bench [{workers}]", refresh=False)

            # workers run in another folder: only absolute paths travel
            absolute = [
                [(item, str(video.resolve()), missing, keys) for item, video, missing, keys in g] for g in groups
            ]
            ray_stats = score_on_ray(
                absolute, names, kwargs, config.workers, config.gpus_per_worker, on_result, on_progress
            )
        elif config.workers <= 1 or len(groups) <= 1:
            for group in groups:
                for (item, _, _, keys), result in zip(group, score_group(jobs(group), kwargs, dims), strict=True):
                    collect(item, keys, result)
        else:
            with worker_pool(config.workers) as pool:
                futures = {pool.submit(score_group, jobs(group), kwargs): group for group in groups}
                for fut in as_completed(futures):
                    for (item, _, _, keys), result in zip(futures[fut], fut.result(), strict=True):
                        collect(item, keys, result)
    bar.close()

    order = {item.id: i for i, item in enumerate(items)}
    failed.sort(key=lambda f: order.get(f["id"], -1))
    results: dict = {}
    scored_ids = [item.id for item in items if item.id in entries]
    for n, dim in dims.items():
        rows = []
        for item in items:
            if item.id not in entries or n not in entries[item.id]:
                continue
            entry = entries[item.id][n]
            rows.append({"video_path": str(videos / item.video), "id": item.id, **entry})
        score = dim.aggregate(rows)
        results[n] = [score if math.isfinite(score) else None, rows]
    results["meta"] = {
        "schema_version": SCHEMA_VERSION,
        "toolkit_version": __version__,
        "source": "yumebench",
        "spec": str(spec),
        "spec_sha256": hashlib.sha256(spec.read_bytes()).hexdigest(),
        "dimensions": names,
        "skipped": skipped,
        "device": config.device,
        "dtype": "float32" if config.device == "cpu" else "bfloat16",
        "seed": config.seed,
        "n_samples": {
            "original": len(items) + sum(1 for f in failed if f["id"] not in order),
            "effective": len(scored_ids),
        },
        "failed": failed,
        "seconds_per_dimension": {n: round(s, 3) for n, s in seconds.items()},
        "backend": _backend_meta(config, ray_stats),
        "dimension_versions": {n: d.version for n, d in dims.items()},
        "dimension_config": {n: d.config() for n, d in dims.items()},
        "weights": {n: d.weight_checksums() for n, d in dims.items()},
        "summary": {n: d.summary(results[n][1]) for n, d in dims.items()},
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    _write_outputs(results, out, names)
    return BenchReport(results=results, failed=failed, skipped=skipped, ray=ray_stats)


def _balanced_groups(todo: list, videos_per_batch: int, workers: int) -> list[list]:
    """Groups share backbone batches (at most ``videos_per_batch`` videos each); their number is a
    multiple of the worker count and their sizes differ by at most one, so no worker sits idle while
    another finishes a last group (12 videos, 4 per batch, 2 workers: 4 groups of 3, not 3 of 4)."""
    if not todo:
        return []
    count = math.ceil(len(todo) / max(1, videos_per_batch))
    if workers > 1:
        count = min(len(todo), math.ceil(count / workers) * workers)
    size, extra = divmod(len(todo), count)
    groups, start = [], 0
    for g in range(count):
        end = start + size + (1 if g < extra else 0)
        groups.append(todo[start:end])
        start = end
    return groups


def _backend_meta(config: BenchConfig, ray_stats) -> dict:
    """How the run was spread (this run's share only: a resumed run reports what it scored itself)."""
    if ray_stats is None:
        return {"name": config.backend, "workers": config.workers}
    return {
        "name": "ray",
        "workers": ray_stats.workers,
        "gpus_per_worker": config.gpus_per_worker,
        "actors_started": ray_stats.actors_started,
        "actors_replaced": ray_stats.actors_replaced,
        "groups_retried": ray_stats.groups_retried,
        "videos_given_up": ray_stats.videos_given_up,
        "videos_per_worker": dict(sorted(ray_stats.per_worker.items())),
    }


def _short(name: str) -> str:
    """instruction_following -> IF, subject_consistency -> SC (progress bars)."""
    return "".join(part[0] for part in name.split("_")).upper()


def _write_outputs(results: dict, out: Path, names: list[str]) -> None:
    text = json.dumps(finite_or_none(results), ensure_ascii=False, indent=1, default=float, allow_nan=False)
    atomic_write_text(out, text + "\n")
    table: dict[str, dict] = {}
    for n in names:
        for row in results[n][1]:
            table.setdefault(row["id"], {"id": row["id"], "video_path": row["video_path"]})[n] = row["video_results"]

    def write_csv(tmp: Path) -> None:
        with tmp.open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=["id", "video_path", *names])
            writer.writeheader()
            writer.writerows(table.values())

    atomic_write(out.with_suffix(".csv"), write_csv)


@contextlib.contextmanager
def _named_errors(path: Path):
    """An OSError while appending to ``path`` (a full disk) names ``path``."""
    try:
        yield
    except OSError as e:
        if e.filename is None:
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise

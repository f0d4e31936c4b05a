"""``yumebench data build``: inputs -> per-input parts (resumable) -> the final dataset (deterministic).

Each finished input leaves one work file under ``<out>/.build/``: a parquet part with its clips, or a
quarantine record. Both are written to a temporary name and renamed, so a build killed at any moment
(even ``kill -9``) leaves only whole files, and a rerun of the same command skips every input that has
one. ``finalize`` then assembles the dataset from the parts in input order, so the result has every
clip exactly once and is byte-identical for the same inputs and flags, whatever the worker count or
backend.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from data_pipeline.inputs import InputItem, discover
from data_pipeline.process import BuildConfig, process_or_quarantine
from data_pipeline.schema import (
    CHART_PATH,
    CLIP_SCHEMA,
    DATA_PATH,
    FILES_PER_CHUNK,
    QUARANTINE_PATH,
    STATS_PATH,
    VIDEO_PATH,
    DatasetInfo,
    schema_features,
    write_json_atomic,
)
from yumebench.actions import KEYS, MOUSE
from yumebench.files import atomic_write, ensure_writable, sweep_stale_temporaries
from yumebench.worker_pool import worker_pool

BUILD_DIR = ".build"


class BuildError(RuntimeError):
    """The build as a whole cannot run (as opposed to one bad input, which is quarantined)."""


@dataclass
class BuildReport:
    out: Path
    num_inputs: int = 0
    num_clips: int = 0
    num_quarantined: int = 0
    num_skipped: int = 0  # inputs already done by an earlier run
    inputs_without_clips: int = 0  # used, but no run of constant action was long enough
    caption_conflicts: int = 0
    quarantine: list[dict] = field(default_factory=list)


def _part_path(out: Path, item: InputItem) -> Path:
    return out / BUILD_DIR / "parts" / f"{item.input_id}.parquet"


def _quarantine_path(out: Path, item: InputItem) -> Path:
    return out / BUILD_DIR / "quarantine" / f"{item.input_id}.json"


def _atomic_write_table(table: pa.Table, path: Path) -> None:
    # Fixed writer settings (no statistics timestamps exist in parquet) make the bytes reproducible.
    atomic_write(
        path, lambda tmp: pq.write_table(table, tmp, compression="zstd", compression_level=3, row_group_size=256)
    )


def _record_quarantine(out: Path, item: InputItem, stage: str, reason: str) -> None:
    record = {"input": item.video, "index": item.index, "stage": stage, "reason": reason}
    write_json_atomic(_quarantine_path(out, item), record)


def _save_result(out: Path, item: InputItem, result: dict) -> None:
    """Record one input's outcome under ``.build`` (in the parent, so workers stay light)."""
    if "quarantine" in result:
        write_json_atomic(_quarantine_path(out, item), result["quarantine"])
    else:
        _atomic_write_table(pa.Table.from_pylist(result["rows"], schema=CLIP_SCHEMA), _part_path(out, item))


def _fingerprint(path: str) -> str | None:
    """Size plus the hash of the first and last MiB: finds the same file under two names cheaply."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(1 << 20)
            if size > 2 << 20:
                f.seek(-(1 << 20), os.SEEK_END)
            tail = f.read(1 << 20)
    except OSError:
        return None
    return f"{size}-{hashlib.sha1(head + tail).hexdigest()}"


def duplicate_groups(items: list[InputItem]) -> list[list[InputItem]]:
    """Inputs that repeat each other (the same video and poses, by path or by bytes: the same file
    copied under another name), in input order; only groups of two or more."""
    seen: dict[tuple, list[InputItem]] = {}
    groups: list[list[InputItem]] = []
    for item in items:
        if item.problem:
            continue
        poses = item.poses and os.path.realpath(item.poses)
        keys = [("path", os.path.realpath(item.video), poses)]
        video_fp = _fingerprint(item.video)
        if video_fp is not None:
            keys.append(("bytes", video_fp, item.poses and (_fingerprint(item.poses) or poses)))
        group = next((seen[k] for k in keys if k in seen), None)
        if group is None:
            group = []
            groups.append(group)
        group.append(item)
        for k in keys:
            seen.setdefault(k, group)
    return [g for g in groups if len(g) > 1]


def build(
    inputs: str | Path,
    out: str | Path,
    config: BuildConfig | None = None,
    workers: int = 1,
    backend: str = "local",
    rows_per_file: int = 1000,
    overwrite: bool = False,
    progress: bool = True,
    command: str = "",
    video_root: str | Path | None = None,
) -> BuildReport:
    """Build the dataset at ``out`` from ``inputs``. ``source_video`` is stored relative to
    ``video_root`` (default: the folder of the manifest, or the scanned folder), recorded in
    meta/info.json, so the dataset can move to another machine or mount."""
    config = config or BuildConfig()
    out = Path(out)
    items = discover(inputs)
    if not config.video_root:
        default_root = Path(inputs) if Path(inputs).is_dir() else Path(inputs).parent
        config = replace(config, video_root=str(Path(video_root or default_root).resolve()))
    settings_file = out / BUILD_DIR / "settings.json"
    if overwrite and out.exists():
        import shutil

        shutil.rmtree(out)
    ensure_writable(out / BUILD_DIR)  # a read-only or full output fails here, before any decoding
    settings = asdict(config)
    if settings_file.exists():
        previous = json.loads(settings_file.read_text(encoding="utf-8"))
        if previous != settings:
            changed = sorted(k for k in settings if previous.get(k) != settings[k])
            raise BuildError(
                f"{out}: was built with different settings ({', '.join(changed)}); "
                "use another --out, or --overwrite to start again"
            )
    write_json_atomic(settings_file, settings)
    sweep_stale_temporaries(out, recursive=True)  # what killed runs left half-written

    runner = {"local": _run_local, "ray": _run_ray}.get(backend)
    if runner is None:
        raise BuildError(f"unknown backend {backend!r}; expected local or ray")

    def done(item: InputItem) -> bool:
        return _part_path(out, item).exists() or _quarantine_path(out, item).exists()

    report = BuildReport(out=out, num_inputs=len(items))
    report.num_skipped = sum(done(it) for it in items)  # done by an earlier run of this command
    groups = duplicate_groups(items)
    later = {it.index for g in groups for it in g[1:]}
    todo = [it for it in items if it.index not in later and not done(it)]
    if todo:
        runner(todo, config, out, workers, progress)
    # A repeated input stands in for the copy before it when that one was quarantined for a reason of
    # its own (a bad caption): only a copy that gave clips makes the others duplicates.
    for group in groups:
        keeper = None
        for item in group:
            if keeper is not None:
                if not done(item):
                    reason = f"{item.video}: duplicate of input {keeper.index} ({keeper.video})"
                    _record_quarantine(out, item, "input", reason)
                continue
            if not done(item):
                runner([item], config, out, 1, False)
            if _part_path(out, item).exists():
                keeper = item
    finalize(out, items, config, rows_per_file, command, report)
    return report


def _progress(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="video", desc="build", disable=not enabled, file=sys.stderr)


def _run_local(todo: list[InputItem], config: BuildConfig, out: Path, workers: int, progress: bool) -> None:
    bar = _progress(len(todo), progress)
    if workers <= 1:
        for item in todo:
            _save_result(out, item, process_or_quarantine(item, config, out))
            bar.update()
    else:
        with worker_pool(workers) as pool:
            futures = {pool.submit(process_or_quarantine, item, config, out): item for item in todo}
            for fut in as_completed(futures):
                _save_result(out, futures[fut], fut.result())
                bar.update()
    bar.close()


def _ray_stage(config: BuildConfig, out: str) -> type:
    """The per-input stage as a Ray Data actor class holding one CPU and one compute thread. The
    config travels inside the class, not as constructor arguments, which Ray would keep in its object
    store (and warn that a restart could lose them)."""

    class RayStage:
        def __init__(self) -> None:
            from yumebench.worker_pool import use_threads

            use_threads(1)

        def __call__(self, row: dict) -> dict:
            import pickle

            result = process_or_quarantine(InputItem(**json.loads(row["item"])), config, Path(out))
            return {"index": result["index"], "result": pickle.dumps(result)}

    return RayStage


def _run_ray(todo: list[InputItem], config: BuildConfig, out: Path, workers: int, progress: bool) -> None:
    """The same stage as a Ray Data ``map`` over a pool of ``workers`` actors; RAY_ADDRESS names the
    cluster. Input paths are absolute (``discover`` resolves them), so workers find them from any
    folder. Results stream back to the driver, which writes the work files, so nodes need to share only
    the inputs (and, with --materialize, the output folder). Ray restarts a dead actor and retries its
    inputs."""
    import logging
    import pickle

    from yumebench.cluster import connected

    logging.getLogger("ray.data").setLevel(logging.WARNING)  # our bar, not Ray Data's plan logs
    with connected(workers) as ray:
        ray.data.DataContext.get_current().enable_progress_bars = False
        by_index = {it.index: it for it in todo}
        records = [{"item": json.dumps(asdict(it))} for it in todo]

        ds = ray.data.from_items(records, override_num_blocks=len(records))  # one input per block
        bar = _progress(len(todo), progress)
        # long-lived workers (imports and thread caps once), each with a second input queued so none
        # waits on the scheduler between inputs; Ray restarts a dead one and retries its inputs
        pool = ray.data.ActorPoolStrategy(size=max(1, workers), max_tasks_in_flight_per_actor=2)
        stage = ds.map(_ray_stage(config, str(out.resolve())), num_cpus=1, compute=pool)
        for row in stage.iter_rows():
            _save_result(out, by_index[row["index"]], pickle.loads(row["result"]))
            bar.update()
        bar.close()


def _iter_parts(out: Path, items: Iterable[InputItem]) -> Iterable[pa.Table]:
    for item in items:
        path = _part_path(out, item)
        if path.exists():
            yield pq.read_table(path, schema=CLIP_SCHEMA)


def finalize(
    out: Path,
    items: list[InputItem],
    config: BuildConfig,
    rows_per_file: int,
    command: str,
    report: BuildReport,
) -> None:
    tables = list(_iter_parts(out, items))
    table = pa.concat_tables(tables) if tables else CLIP_SCHEMA.empty_table()
    old = set(Path(out).glob("data/chunk-*/file-*.parquet"))
    written = set()
    for n, start in enumerate(range(0, table.num_rows, rows_per_file)):
        path = out / DATA_PATH.format(chunk=n // FILES_PER_CHUNK, file=n % FILES_PER_CHUNK)
        _atomic_write_table(table.slice(start, rows_per_file), path)
        written.add(path)
    for stale in old - written:
        stale.unlink()

    records = []
    for item in items:
        q = _quarantine_path(out, item)
        if q.exists():
            rec = json.loads(q.read_text(encoding="utf-8"))
            rec["index"] = item.index
            records.append(rec)
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    tmp = out / f".{QUARANTINE_PATH}.tmp"
    tmp.write_text(lines, encoding="utf-8")
    tmp.replace(out / QUARANTINE_PATH)

    rows = table.drop_columns(["first_frame"]).to_pylist()
    stats = compute_stats(rows, records)
    stats["inputs_without_clips"] = sum(1 for t in tables if t.num_rows == 0)
    write_json_atomic(out / STATS_PATH, stats)
    render_label_chart(stats, out / CHART_PATH)
    info = DatasetInfo(
        fps=config.fps,
        wording=config.wording,
        translation_rule=config.translation_rule,
        min_frames=config.min_frames,
        max_frames=config.max_frames,
        num_clips=table.num_rows,
        num_inputs=len(items),
        num_quarantined=len(records),
        num_files=len(written),
        splits=dict(sorted(Counter(r["split"] for r in rows).items())),
        tasks=dict(sorted(Counter(t for r in rows for t in r["tasks"]).items())),
        keys=list(KEYS),
        mouse=list(MOUSE),
        video_path=VIDEO_PATH if config.materialize else None,
        features=schema_features(),
        build_command=command,
        versions=_versions(),
        video_root=config.video_root or None,
        video_root_from_dataset=(
            Path(os.path.relpath(config.video_root, Path(out).resolve())).as_posix() if config.video_root else None
        ),
    )
    info.save(out)
    report.num_clips = table.num_rows
    report.num_quarantined = len(records)
    report.quarantine = records
    report.caption_conflicts = stats["caption_conflicts"]
    report.inputs_without_clips = stats["inputs_without_clips"]


def compute_stats(rows: list[dict], quarantine: list[dict]) -> dict:
    labels = Counter(f"{r['keys']},{r['mouse']}" for r in rows if r["keys"] is not None)
    lengths = sorted(r["num_frames"] for r in rows)

    def quantile(q: float) -> int | None:
        return lengths[min(len(lengths) - 1, int(q * len(lengths)))] if lengths else None

    return {
        "num_clips": len(rows),
        "labels": dict(sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))),
        "keys": dict(sorted(Counter(r["keys"] for r in rows if r["keys"]).items())),
        "mouse": dict(sorted(Counter(r["mouse"] for r in rows if r["mouse"]).items())),
        "unlabelled_clips": sum(1 for r in rows if r["keys"] is None),
        "clip_frames": {
            "min": lengths[0] if lengths else None,
            "p50": quantile(0.5),
            "p90": quantile(0.9),
            "max": lengths[-1] if lengths else None,
            "total": sum(lengths),
        },
        "label_sources": dict(sorted(Counter(r["label_source"] for r in rows).items())),
        # clips that the other translation rule (published vs direction) would label otherwise
        "labels_differ_by_rule": sum(1 for r in rows if r.get("label_differs_by_rule")),
        "caption_conflicts": sum(1 for r in rows if r["caption_conflict"]),
        "quarantined": len(quarantine),
        "quarantine_stages": dict(sorted(Counter(q["stage"] for q in quarantine).items())),
    }


def render_label_chart(stats: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = stats["labels"]
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(labels) + 1.5), 3.2), dpi=100)
    names = list(labels) or ["(no labelled clips)"]
    ax.bar(range(len(names)), list(labels.values()) or [0], color="#3b7dd8")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("clips")
    ax.set_title(f"Action labels ({stats['num_clips']} clips)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, metadata={"Software": None})
    plt.close(fig)
    tmp.replace(path)


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": sys.version.split()[0]}
    for pkg in ("yumebench", "numpy", "pyarrow", "opencv-python-headless", "decord", "av"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def exit_code(report: BuildReport) -> int:
    """0 when every input was used, 1 when some were quarantined (listed in quarantine.jsonl)."""
    return 1 if report.num_quarantined else 0

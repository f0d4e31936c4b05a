"""``yumebench data validate`` and ``data stats``: check a built dataset and summarise it."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from data_pipeline.schema import (
    CLIP_SCHEMA,
    STATS_PATH,
    DatasetInfo,
    data_files,
    resolve_video_root,
    source_path,
)
from yumebench.actions import KEYS, MOUSE
from yumebench.video import VideoError, probe


def validate(root: str | Path, check_videos: bool = True, video_root: str | Path | None = None) -> list[str]:
    """Problems found in a dataset, one line each (empty when it is sound). Source videos are looked
    for under ``video_root`` (as ``YumeClipDataset`` resolves it)."""
    root = Path(root)
    try:
        info = DatasetInfo.load(root)
    except (FileNotFoundError, ValueError, json.JSONDecodeError) as e:
        return [str(e)]
    videos_at = resolve_video_root(root, info, video_root)
    problems = []
    files = data_files(root)
    total = 0
    probes: dict[str, object] = {}
    for f in files:
        try:
            table = pq.read_table(f)
        except Exception as e:
            problems.append(f"{f}: unreadable parquet ({type(e).__name__}: {e})")
            continue
        if not table.schema.equals(CLIP_SCHEMA, check_metadata=False):
            problems.append(f"{f}: schema differs from format {info.format_version}")
            continue
        for row in table.drop_columns(["first_frame"]).to_pylist():
            total += 1
            where = f"{f.name}: clip {row['clip_id']}"
            if row["keys"] is not None and (row["keys"] not in KEYS or row["mouse"] not in MOUSE):
                problems.append(f"{where}: unknown action {row['keys']},{row['mouse']}")
            if not 0 <= row["start_frame"] < row["end_frame"]:
                problems.append(f"{where}: empty frame range [{row['start_frame']}, {row['end_frame']})")
            if row["video"] and not (root / row["video"]).exists():
                problems.append(f"{where}: materialized video {row['video']} is missing")
            if not check_videos:
                continue
            src = str(source_path(row["source_video"], videos_at))
            if src not in probes:
                try:
                    probes[src] = probe(src)
                except VideoError as e:
                    probes[src] = e
            p = probes[src]
            if isinstance(p, VideoError):
                problems.append(f"{where}: source video: {p}")
            elif row["end_frame"] > p.num_frames:
                problems.append(
                    f"{where}: frames [{row['start_frame']}, {row['end_frame']}) past the end ({p.num_frames} frames)"
                )
    if total != info.num_clips:
        problems.append(f"{root}: meta/info.json says {info.num_clips} clips, data/ holds {total}")
    return problems


def load_stats(root: str | Path) -> dict:
    path = Path(root) / STATS_PATH
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found (is {root} a built dataset?)")
    return json.loads(path.read_text(encoding="utf-8"))

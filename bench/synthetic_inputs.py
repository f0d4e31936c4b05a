"""Synthetic dataset-build inputs shared by the build benchmarks (``data_build.py``, ``scale_out.py``)."""

from __future__ import annotations

import json
from pathlib import Path

from yumebench.actions import ALL_ACTIONS
from yumebench.synthetic import SceneConfig, write_sample
from yumebench.video import read_frames, write_mp4


def synthetic_build(root: Path, count: int, frames: int, size: tuple[int, int]) -> Path:
    """A manifest of ``count`` inputs (``size`` is HxW): one render, re-encoded at distinct quality, so
    the files are distinct and each costs the same work. Returns the manifest's path."""
    seg = frames // 4
    segments = [(ALL_ACTIONS[k * 23 % 81], seg) for k in range(4)]
    sample = write_sample(root / "in", "v0", segments, SceneConfig(width=size[1], height=size[0], seed=0), fps=30)
    rgb, _ = read_frames(sample["video"])
    rows = []
    for i in range(count):
        video = root / "in" / f"v{i}.mp4"
        if i:
            write_mp4(video, rgb, 30, crf=18 + i)
        rows.append({"video": str(video), "poses": str(sample["poses"]), "caption_file": str(sample["caption"])})
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest

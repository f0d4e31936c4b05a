"""Read a built dataset back: a PyTorch ``Dataset`` of decoded, resized clips with texts and actions.

Example:
    >>> ds = YumeClipDataset("my_dataset", size=(544, 960), tasks="i2v")
    >>> sample = ds[0]
    >>> sample["video"].shape     # (3, T, 544, 960), float in [-1, 1]
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
import torch.nn.functional as F

from data_pipeline.schema import CLIP_SCHEMA, DatasetInfo, data_files, resolve_video_root, source_path
from yumebench.video import read_frames, resample_indices


def load_table(root: str | Path, columns: list[str] | None = None) -> pa.Table:
    files = data_files(root)
    if not files:
        return CLIP_SCHEMA.empty_table() if columns is None else CLIP_SCHEMA.empty_table().select(columns)
    return pa.concat_tables(pq.read_table(f, columns=columns) for f in files)


def decode_image(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def to_model_range(frames: np.ndarray, size: tuple[int, int] | None) -> torch.Tensor:
    """uint8 (T, H, W, 3) -> float (3, T, h, w) in [-1, 1], bilinearly resized to ``size``."""
    x = torch.from_numpy(np.array(frames, copy=True)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
    if size is not None and tuple(x.shape[-2:]) != tuple(size):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    return x.permute(1, 0, 2, 3).contiguous()


class YumeClipDataset(torch.utils.data.Dataset):
    """Clips of a dataset built by ``yumebench data build``.

    Args:
        root: the dataset directory.
        size: (height, width) of the returned frames; ``None`` keeps the source size.
        num_frames: frames per sample (the first ones of the clip); ``None`` returns the whole clip.
        tasks: keep only clips that serve this task ("t2v" or "i2v").
        split: keep only this split.
        video_root: where the source videos are now, when the dataset moved without them (else
            ``$YUMEBENCH_VIDEO_ROOT``, else the root recorded in meta/info.json).
    """

    def __init__(
        self,
        root: str | Path,
        size: tuple[int, int] | None = None,
        num_frames: int | None = None,
        tasks: str | None = None,
        split: str | None = None,
        video_root: str | Path | None = None,
    ) -> None:
        self.root = Path(root)
        self.info = DatasetInfo.load(self.root)
        self.video_root = resolve_video_root(self.root, self.info, video_root)
        self.size = size
        self.num_frames = num_frames
        columns = [f.name for f in CLIP_SCHEMA if f.name != "first_frame"]
        table = load_table(self.root, columns + ["first_frame"])
        rows = table.to_pylist()
        self.rows = [
            r
            for r in rows
            if (tasks is None or tasks in r["tasks"])
            and (split is None or r["split"] == split)
            and (num_frames is None or r["num_frames"] >= num_frames)
        ]

    def __len__(self) -> int:
        return len(self.rows)

    def frame_indices(self, row: dict) -> list[int]:
        idx = [
            row["start_frame"] + i
            for i in resample_indices(row["end_frame"] - row["start_frame"], row["source_fps"], row["fps"])
        ]
        return idx[: self.num_frames] if self.num_frames else idx

    def __getitem__(self, i: int) -> dict:
        row = self.rows[i]
        if row["video"]:
            frames, _ = read_frames(self.root / row["video"])
            frames = frames[: self.num_frames] if self.num_frames else frames
        else:
            frames, _ = read_frames(source_path(row["source_video"], self.video_root), self.frame_indices(row))
        first = decode_image(row["first_frame"])
        return {
            "clip_id": row["clip_id"],
            "video": to_model_range(frames, self.size),
            "first_frame": to_model_range(first[None], self.size)[:, 0],
            "event_text": row["event_text"],
            "action_text": row["action_text"] or "",
            "keys": row["keys"],
            "mouse": row["mouse"],
            "tasks": list(row["tasks"]),
            "speeds": (row["distance"], row["turn_speed"], row["rotation_speed"]),
        }

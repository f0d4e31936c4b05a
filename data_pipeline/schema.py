"""The dataset format: parquet schema, directory layout and ``meta/info.json``, in one place.

Layout (LeRobot-style: parquet + videos + ``meta/info.json``)::

    <root>/meta/info.json            format version, fps, counts, vocabulary, wording, build command
    <root>/meta/stats.json           label histogram, clip lengths, quarantine count
    <root>/meta/labels.png           chart of the label distribution
    <root>/data/chunk-XXX/file-YYY.parquet
    <root>/videos/chunk-XXX/<clip_id>.mp4   only with --materialize
    <root>/quarantine.jsonl          inputs that could not be used: input, stage, reason
    <root>/.build/                   per-input work files that make a rerun resume
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa

from data_pipeline.layout import (  # noqa: F401  (re-exported: one home for the layout)
    CHART_PATH,
    DATA_PATH,
    FILES_PER_CHUNK,
    FORMAT_VERSION,
    INFO_PATH,
    QUARANTINE_PATH,
    STATS_PATH,
    VIDEO_PATH,
    VIDEO_ROOT_ENV,
)

CLIP_SCHEMA = pa.schema(
    [
        pa.field("clip_id", pa.string(), nullable=False),  # "<input id>-<clip index>", stable across runs
        # the input video, relative to meta/info.json's video_root (format < 1.2: an absolute path)
        pa.field("source_video", pa.string(), nullable=False),
        pa.field("source", pa.string()),  # free-form origin tag from the manifest (e.g. "sekai", "event")
        pa.field("start_frame", pa.int64(), nullable=False),  # first source frame of the clip
        pa.field("end_frame", pa.int64(), nullable=False),  # one past the last source frame
        pa.field("source_fps", pa.float64(), nullable=False),
        pa.field("fps", pa.float64(), nullable=False),  # the clip's frame rate after resampling
        pa.field("num_frames", pa.int64(), nullable=False),  # frames after resampling to fps
        pa.field("width", pa.int64(), nullable=False),
        pa.field("height", pa.int64(), nullable=False),
        pa.field("keys", pa.string()),  # null when neither poses nor caption give the action
        pa.field("mouse", pa.string()),
        pa.field("label_source", pa.string(), nullable=False),  # "poses", "caption" or "none"
        # the other translation rule (published / direction) labels some frame pair of the clip otherwise;
        # null without poses
        pa.field("label_differs_by_rule", pa.bool_()),
        pa.field("distance", pa.float64()),  # speed fields (yumebench.poses.speed_fields); null without poses
        pa.field("turn_speed", pa.float64()),
        pa.field("rotation_speed", pa.float64()),
        pa.field("event_text", pa.string(), nullable=False),  # caption minus its action sentences
        pa.field("action_text", pa.string()),  # action description in the dataset's wording
        pa.field("caption", pa.string()),  # the caption as given
        pa.field("caption_conflict", pa.bool_(), nullable=False),  # caption states an action the poses deny
        pa.field("tasks", pa.list_(pa.string()), nullable=False),  # subset of ["t2v", "i2v"]
        pa.field("first_frame", pa.binary(), nullable=False),  # PNG or JPEG bytes of start_frame
        pa.field("first_frame_format", pa.string(), nullable=False),
        pa.field("video", pa.string()),  # materialized clip, relative to the root; null by default
        pa.field("split", pa.string(), nullable=False),
    ]
)


@dataclass
class DatasetInfo:
    """``meta/info.json``."""

    format_version: str = FORMAT_VERSION
    fps: float = 16.0
    wording: str = "yume"
    translation_rule: str = "published"  # how keys came from poses (yumebench.poses.TRANSLATION_RULES)
    min_frames: int = 33
    max_frames: int | None = None
    num_clips: int = 0
    num_inputs: int = 0
    num_quarantined: int = 0
    num_files: int = 0
    splits: dict[str, int] = field(default_factory=dict)
    tasks: dict[str, int] = field(default_factory=dict)
    keys: list[str] = field(default_factory=list)
    mouse: list[str] = field(default_factory=list)
    data_path: str = DATA_PATH
    video_path: str | None = None
    features: dict[str, str] = field(default_factory=dict)
    build_command: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    # what source_video is relative to: the folder at build time, and the same folder seen from the
    # dataset's own (so a dataset moved together with its videos still finds them)
    video_root: str | None = None
    video_root_from_dataset: str | None = None

    def __post_init__(self) -> None:
        if self.format_version.split(".")[0] != FORMAT_VERSION.split(".")[0]:
            raise ValueError(f"dataset format {self.format_version} is not readable by this version ({FORMAT_VERSION})")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DatasetInfo:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def save(self, root: Path) -> None:
        write_json_atomic(root / INFO_PATH, self.to_dict())

    @classmethod
    def load(cls, root: str | Path) -> DatasetInfo:
        path = Path(root) / INFO_PATH
        if not path.exists():
            raise FileNotFoundError(f"{path}: not a yumebench dataset (no meta/info.json)")
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def resolve_video_root(root: str | Path, info: DatasetInfo, override: str | Path | None = None) -> Path | None:
    """Where ``source_video`` paths are read from: ``override``, else ``$YUMEBENCH_VIDEO_ROOT``, else the
    root recorded at build time if it exists, else that root seen from the dataset folder if it exists,
    else the recorded root (so errors name it). ``None`` for datasets older than format 1.2 (absolute
    source paths)."""
    import os

    if override is not None and str(override) != "":
        return Path(override)
    if os.environ.get(VIDEO_ROOT_ENV):
        return Path(os.environ[VIDEO_ROOT_ENV])
    if info.video_root is None:
        return None
    recorded = Path(info.video_root)
    if recorded.is_dir():
        return recorded
    if info.video_root_from_dataset is not None:
        beside = Path(root) / info.video_root_from_dataset
        if beside.is_dir():
            return beside.resolve()
    return recorded


def source_path(source_video: str, video_root: Path | None) -> Path:
    """A row's input video on this machine (absolute paths of old datasets are kept as they are)."""
    path = Path(source_video)
    return path if path.is_absolute() or video_root is None else video_root / path


def schema_features() -> dict[str, str]:
    return {f.name: str(f.type) for f in CLIP_SCHEMA}


def write_json_atomic(path: Path, data: object) -> None:
    from yumebench.files import atomic_write_text

    atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False, allow_nan=False) + "\n")


def data_files(root: str | Path) -> list[Path]:
    return sorted(Path(root).glob("data/chunk-*/file-*.parquet"))

"""Find the inputs of a build: a manifest, a directory in the published YUME layout, or a plain folder.

- Manifest (``.csv``, ``.jsonl``, ``.parquet``): columns ``video`` (path), optional ``poses``,
  ``caption`` or ``caption_file``, ``source``, ``split``, ``pose_fps``. Relative paths are relative to
  the manifest's folder.
- YUME layout: folders ``Keys_<...>_Mouse_<...>/`` holding ``<clip>.mp4``, ``<clip>.txt`` (``Start
  Frame:``, ``End Frame:``, ``Duration:``, ``Keys:``, ``Mouse:`` lines) and ``<clip>.npy`` poses.
- Plain folder: videos with sidecar ``<stem>.txt`` captions and ``<stem>.npy`` poses.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")


class InputError(ValueError):
    """The input listing itself cannot be read (as opposed to one bad item in it)."""


@dataclass(frozen=True)
class InputItem:
    index: int  # position in the listing; fixes the output order
    video: str
    poses: str | None = None
    caption: str | None = None
    caption_file: str | None = None
    source: str | None = None
    split: str = "train"
    pose_fps: float | None = None
    stated_keys: str | None = None  # from a YUME-layout label file
    stated_mouse: str | None = None
    problem: str | None = None  # a listing-level problem (e.g. a malformed manifest row)
    occurrence: int = 0  # how many identical items come before this one (keeps ids unique)

    @property
    def input_id(self) -> str:
        """Stable id from the item's content fields (not its position), so reruns match up."""
        fields = asdict(self)
        fields.pop("index")
        digest = hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        return digest[:12]

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def discover(path: str | Path) -> list[InputItem]:
    """Read a manifest file or scan a directory."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: input not found")
    if path.is_file():
        items = _read_manifest(path)
    elif any(p.is_dir() and p.name.startswith("Keys_") for p in path.iterdir()):
        items = _scan_yume_layout(path)
    else:
        items = _scan_plain_folder(path)
    return _number_repeats(items)


def _number_repeats(items: list[InputItem]) -> list[InputItem]:
    from dataclasses import replace

    seen: dict[str, int] = {}
    out = []
    for item in items:
        key = item.input_id
        out.append(replace(item, occurrence=seen.get(key, 0)) if key in seen else item)
        seen[key] = seen.get(key, 0) + 1
    return out


class _Unresolvable(ValueError):
    """A manifest path that cannot be resolved (a symlink loop): that row is quarantined."""


def _resolve(base: Path, value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value) or str(value).strip() == "":
        return None
    p = Path(str(value)).expanduser()
    try:
        return str(p if p.is_absolute() else (base / p).resolve())
    except (RuntimeError, OSError) as e:  # Python raises RuntimeError on a symlink loop
        raise _Unresolvable(f"{base / p}: cannot resolve ({e})".splitlines()[0]) from None


def _clean(value: object) -> object:
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value


def _read_manifest(path: Path) -> list[InputItem]:
    suffix = path.suffix.lower()
    rows: list[dict | str] = []
    try:
        if suffix == ".csv":
            import pandas as pd

            rows = pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records")
        elif suffix == ".parquet":
            import pandas as pd

            rows = pd.read_parquet(path).to_dict("records")
        elif suffix in (".jsonl", ".json"):
            for line in path.read_text(encoding="utf-8").splitlines():
                if not line.strip():
                    continue
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as e:
                    rows.append(f"malformed JSON line ({e.msg})")
        else:
            raise InputError(f"{path}: unsupported manifest format {suffix!r} (use .csv, .jsonl or .parquet)")
    except InputError:
        raise
    except Exception as e:
        raise InputError(f"{path}: cannot read manifest ({type(e).__name__}: {e})") from None
    if not rows:
        raise InputError(f"{path}: manifest has no rows")
    base = path.parent
    items = []
    for i, row in enumerate(rows):
        if isinstance(row, str) or not isinstance(row, dict):
            items.append(InputItem(i, f"{path}:{i + 1}", problem=row if isinstance(row, str) else "not an object"))
            continue
        try:
            video = _resolve(base, row.get("video"))
            poses, caption_file = _resolve(base, row.get("poses")), _resolve(base, row.get("caption_file"))
        except _Unresolvable as e:
            items.append(InputItem(i, f"{path}:{i + 1}", problem=str(e)))
            continue
        if video is None:
            items.append(InputItem(i, f"{path}:{i + 1}", problem="row has no 'video' path"))
            continue
        pose_fps = _clean(row.get("pose_fps"))
        try:
            pose_fps = float(pose_fps) if pose_fps not in (None, "") else None
        except (TypeError, ValueError):
            items.append(InputItem(i, video, problem=f"pose_fps {pose_fps!r} is not a number"))
            continue
        if pose_fps is not None and not (pose_fps > 0 and pose_fps < float("inf")):
            items.append(InputItem(i, video, problem=f"pose_fps {pose_fps} must be a positive number"))
            continue
        caption = _clean(row.get("caption"))
        items.append(
            InputItem(
                index=i,
                video=video,
                poses=poses,
                caption=None if caption is None or (caption == "" and row.get("caption_file")) else str(caption),
                caption_file=caption_file,
                source=_clean(row.get("source")) or None,
                split=str(_clean(row.get("split")) or "train"),
                pose_fps=pose_fps,
            )
        )
    return items


def parse_yume_label_file(path: Path) -> dict[str, str]:
    """``Start Frame: N`` / ``End Frame: M`` / ``Duration: K frames`` / ``Keys: W+A`` / ``Mouse: ←``."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def _scan_yume_layout(root: Path) -> list[InputItem]:
    items = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        for video in sorted(folder.glob("*.mp4")):
            label_file, poses = video.with_suffix(".txt"), video.with_suffix(".npy")
            keys = mouse = problem = None
            if label_file.exists():
                try:
                    fields = parse_yume_label_file(label_file)
                    keys, mouse = fields.get("keys"), fields.get("mouse")
                except UnicodeDecodeError as e:
                    problem = f"{label_file}: label file is not valid UTF-8 (byte at offset {e.start})"
                except OSError as e:
                    problem = f"{label_file}: cannot read the label file ({e.strerror})"
            items.append(
                InputItem(
                    index=len(items),
                    video=str(video.resolve()),
                    poses=str(poses.resolve()),
                    source="yume",
                    stated_keys=keys,
                    stated_mouse=mouse,
                    problem=problem,
                )
            )
    return items


def _scan_plain_folder(root: Path) -> list[InputItem]:
    items = []
    videos = sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    for video in videos:
        caption, poses = video.with_suffix(".txt"), video.with_suffix(".npy")
        items.append(
            InputItem(
                index=len(items),
                video=str(video.resolve()),
                poses=str(poses.resolve()) if poses.exists() else None,
                caption_file=str(caption.resolve()) if caption.exists() else None,
            )
        )
    if not items:
        raise InputError(f"{root}: no videos found ({', '.join(VIDEO_SUFFIXES)})")
    return items

"""One input video in, clip rows out: validate, cut, label, split the caption, grab first frames.

``process_item`` is a pure function of (item, config) apart from reading the input files and, with
``materialize``, writing clip mp4s; every backend (process pool, Ray) calls it. A bad input raises
``Quarantine`` with the stage and a one-line reason naming the file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_pipeline.captions import split_caption
from data_pipeline.inputs import InputItem
from data_pipeline.layout import FILES_PER_CHUNK, VIDEO_PATH
from yumebench.actions import Action, ActionError, action_text, parse_keys, parse_mouse
from yumebench.poses import (
    ROTATION_THRESHOLD,
    TRANSLATION_RULES,
    TRANSLATION_THRESHOLD,
    PoseError,
    decode_action_labels,
    find_action_runs,
    load_poses,
    speed_fields,
)
from yumebench.video import VideoError, probe, resample_indices, scan_frames, write_mp4

MAX_FPS = 240.0


@dataclass(frozen=True)
class BuildConfig:
    """Every flag of ``yumebench data build`` that changes the output."""

    fps: float = 16.0  # clips are resampled to this frame rate
    min_frames: int = 33  # shortest run of constant action kept, in source frames (Yume1.5: 33)
    max_frames: int | None = None  # longer runs are split into pieces of at most this many frames
    window_frames: int = 0  # clips of videos without poses: fixed windows; 0 = the whole video
    stride: int = 1  # decode actions from every stride-th pose (thresholds scale, as published)
    wording: str = "yume"  # wording of the generated action descriptions
    image_format: str = "png"  # first-frame encoding: png or jpeg
    materialize: bool = False  # also write each clip as an mp4 under videos/
    translation_threshold: float = TRANSLATION_THRESHOLD
    rotation_threshold: float = ROTATION_THRESHOLD
    # "published": keys from the sign of each translation component (the YUME code; YUME-layout builds
    # stay exact); "direction": from the unit direction, as the instruction-following metric decides
    translation_rule: str = "published"
    world_to_camera: bool = False
    opengl: bool = False
    # source_video is stored relative to this folder (absolute; the builder fills in the input's folder)
    video_root: str = ""

    def __post_init__(self) -> None:
        if self.fps <= 0:
            raise ValueError(f"--fps must be positive, got {self.fps}")
        if self.min_frames < 2:
            raise ValueError(f"--min-frames must be at least 2, got {self.min_frames}")
        if self.max_frames is not None and self.max_frames < self.min_frames:
            raise ValueError(f"--max-frames ({self.max_frames}) is below --min-frames ({self.min_frames})")
        if self.translation_rule not in TRANSLATION_RULES:
            raise ValueError(
                f"--translation-rule must be one of {', '.join(TRANSLATION_RULES)}, got {self.translation_rule!r}"
            )
        if self.image_format not in ("png", "jpeg"):
            raise ValueError(f"--image-format must be png or jpeg, got {self.image_format!r}")
        from yumebench.actions import WORDINGS

        if self.wording not in WORDINGS:
            raise ValueError(f"--wording must be one of {', '.join(WORDINGS)}, got {self.wording!r}")


def stored_source(video: str, video_root: str) -> str:
    """The input video as the dataset stores it: relative to the video root, with forward slashes."""
    import os

    if not video_root:
        return video
    return Path(os.path.relpath(video, video_root)).as_posix()


class Quarantine(Exception):
    def __init__(self, stage: str, reason: str) -> None:
        super().__init__(reason)
        self.stage = stage
        self.reason = reason


@dataclass(frozen=True)
class ClipSpan:
    start: int  # source frames [start, end)
    end: int
    action: Action | None
    pose_slice: tuple[int, int] | None  # poses [a, b) inside the clip, for the speed fields
    differs_by_rule: bool | None = None  # the other translation rule labels some frame pair otherwise


def process_item(item: InputItem, config: BuildConfig, out_root: Path | None = None) -> list[dict]:
    if item.problem:
        raise Quarantine("input", f"{item.video}: {item.problem}")
    try:
        info = probe(item.video)
    except VideoError as e:
        raise Quarantine("probe", str(e)) from None
    if not 0 < info.fps <= MAX_FPS:
        raise Quarantine("probe", f"{item.video}: implausible frame rate {info.fps}")
    if info.num_frames < config.min_frames:
        raise Quarantine(
            "probe",
            f"{item.video}: {info.num_frames} frame{'s' if info.num_frames != 1 else ''}; "
            f"a clip needs at least {config.min_frames} (--min-frames)",
        )
    caption = _read_caption(item)
    split = split_caption(caption) if caption is not None else None
    stated = _stated_action(item, split)

    spans: list[ClipSpan]
    pose_fps = info.fps
    if item.poses is not None:
        c2w, pose_frames, pose_step = _aligned_poses(item, info.num_frames, info.fps, config)
        pose_fps = info.fps / pose_step
        thresholds = (config.stride, config.translation_threshold * pose_step, config.rotation_threshold * pose_step)
        labels = decode_action_labels(c2w, *thresholds, translation_rule=config.translation_rule)
        other_rule = next(r for r in TRANSLATION_RULES if r != config.translation_rule)
        other = decode_action_labels(c2w, *thresholds, translation_rule=other_rule)
        spans = []
        for run in find_action_runs(labels, min_frames=2, stride=config.stride):
            start, end = int(pose_frames[run.start]), int(pose_frames[run.end - 1]) + 1
            for s, e in _split_span(start, end, config):
                a = int(np.searchsorted(pose_frames, s))
                b = int(np.searchsorted(pose_frames, e))
                pairs = range(a // config.stride, max(a // config.stride + 1, (b - 1) // config.stride))
                differs = any(other[i] != run.action for i in pairs if i < len(other))
                spans.append(ClipSpan(s, e, run.action, (a, b), differs))
        poses_for_speed = c2w
    else:
        poses_for_speed = None
        window = config.window_frames or info.num_frames
        spans = []
        for s in range(0, info.num_frames, window):
            e = min(s + window, info.num_frames)
            for ps, pe in _split_span(s, e, config):
                spans.append(ClipSpan(ps, pe, stated, None))

    frames_needed = _decode_pass(item, spans, info.fps, config, out_root)
    rows = []
    input_id = item.input_id
    event = split.event_text if split else ""
    for k, span in enumerate(spans):
        clip_id = f"{input_id}-{k:04d}"
        indices = resample_indices(span.end - span.start, info.fps, config.fps)
        speeds = None
        if poses_for_speed is not None and span.pose_slice is not None:
            a, b = span.pose_slice
            speeds = speed_fields(poses_for_speed[a:b], stride=1, fps=pose_fps)
        action = span.action
        conflict = bool(
            item.poses is not None and stated is not None and action is not None and stated != action
        ) or bool(split and split.conflicting)
        rows.append(
            {
                "clip_id": clip_id,
                "source_video": stored_source(item.video, config.video_root),
                "source": item.source,
                "start_frame": span.start,
                "end_frame": span.end,
                "source_fps": float(info.fps),
                "fps": float(config.fps),
                "num_frames": len(indices),
                "width": info.width,
                "height": info.height,
                "keys": action.keys if action else None,
                "mouse": action.mouse if action else None,
                "label_source": "poses" if item.poses is not None else ("caption" if action else "none"),
                "label_differs_by_rule": span.differs_by_rule,
                "distance": speeds.distance if speeds else None,
                "turn_speed": speeds.turn_speed if speeds else None,
                "rotation_speed": speeds.rotation_speed if speeds else None,
                "event_text": event,
                "action_text": action_text(action, config.wording) if action else None,
                "caption": caption,
                "caption_conflict": conflict,
                "tasks": (["t2v"] if event else []) + ["i2v"],
                "first_frame": frames_needed["first"][k],
                "first_frame_format": config.image_format,
                "video": frames_needed["videos"].get(k),
                "split": item.split,
            }
        )
    return rows


def _read_caption(item: InputItem) -> str | None:
    if item.caption is not None:
        text = item.caption
        where = f"{item.video}: caption"
    elif item.caption_file is not None:
        path = Path(item.caption_file)
        if not path.exists():
            raise Quarantine("caption", f"{path}: caption file not found")
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Quarantine(
                "caption", f"{path}: not valid UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start})"
            ) from None
        where = str(path)
    else:
        return None
    text = text.lstrip("\ufeff")
    if not text.strip():
        raise Quarantine("caption", f"{where}: empty caption")
    return text.strip()


def _stated_action(item: InputItem, split) -> Action | None:
    if item.stated_keys is not None or item.stated_mouse is not None:
        try:
            return Action(parse_keys(item.stated_keys or "None"), parse_mouse(item.stated_mouse or "·"))
        except ActionError as e:
            raise Quarantine("labels", f"{item.video}: label file: {e}") from None
    return split.stated_action if split else None


def _aligned_poses(item: InputItem, num_frames: int, fps: float, config: BuildConfig):
    """Poses matched to video frames: (c2w, frame index of each pose, frames between poses)."""
    try:
        c2w = load_poses(item.poses, world_to_camera=config.world_to_camera, opengl=config.opengl)
    except PoseError as e:
        raise Quarantine("poses", str(e)) from None
    n = len(c2w)
    if item.pose_fps:
        if item.pose_fps >= fps:  # denser poses: the pose nearest each frame
            idx = np.round(np.arange(num_frames) * item.pose_fps / fps).astype(int)
            if idx[-1] > n - 1 + round(item.pose_fps / fps):  # the poses end before the video does
                raise Quarantine("poses", _misaligned(item, n, num_frames, f"at pose_fps {item.pose_fps}"))
            return c2w[np.minimum(idx, n - 1)], np.arange(num_frames), 1
        step = fps / item.pose_fps
        frames = np.round(np.arange(n) * step).astype(int)
        if abs(frames[-1] - (num_frames - 1)) > step:  # the poses must span the video, within one pose
            raise Quarantine("poses", _misaligned(item, n, num_frames, f"at pose_fps {item.pose_fps}"))
        keep = frames < num_frames
        return c2w[keep], frames[keep], max(1, int(round(step)))
    if abs(n - num_frames) <= 1:
        m = min(n, num_frames)
        return c2w[:m], np.arange(m), 1
    # Without pose_fps only a count that an integer sampling stride explains, within one pose, is taken:
    # 41 poses for 81 frames is one every 2 frames; 40 for 81 is half a path, not a stride.
    for k in range(2, 9):
        if n in (-(-num_frames // k), (num_frames - 1) // k + 1):  # poses at frames 0, k, 2k, ...
            frames = np.arange(n) * k
            return c2w, frames, k
        if abs(num_frames * k - n) <= 1 or n == (num_frames - 1) * k + 1:  # k poses per frame
            sub = c2w[::k][:num_frames]
            return sub, np.arange(len(sub)), 1
    raise Quarantine("poses", _misaligned(item, n, num_frames, "and no pose_fps in the manifest"))


def _misaligned(item: InputItem, poses: int, frames: int, how: str) -> str:
    return (
        f"{item.poses}: {poses} poses for {frames} frames {how} (not one per frame, not an integer stride "
        "that spans the video; give pose_fps in the manifest)"
    )


def _split_span(start: int, end: int, config: BuildConfig) -> list[tuple[int, int]]:
    if end - start < config.min_frames:
        return []
    if config.max_frames is None or end - start <= config.max_frames:
        return [(start, end)]
    pieces = []
    for s in range(start, end, config.max_frames):
        e = min(s + config.max_frames, end)
        if e - s >= config.min_frames:
            pieces.append((s, e))
    return pieces


def _encode_image(frame: np.ndarray, fmt: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    if fmt == "png":
        # Level 1: ~5x faster than the default 6 for ~15% larger files; the build is decode-bound otherwise.
        Image.fromarray(frame).save(buf, format="PNG", optimize=False, compress_level=1)
    else:
        Image.fromarray(frame).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _decode_pass(
    item: InputItem, spans: list[ClipSpan], fps: float, config: BuildConfig, out_root: Path | None
) -> dict:
    """Decode the whole video once (a file that only decodes part-way is quarantined) and collect each
    clip's first frame and, with ``materialize``, its resampled frames."""
    first_at: dict[int, list[int]] = {}
    for k, span in enumerate(spans):
        first_at.setdefault(span.start, []).append(k)
    wanted: dict[int, list[int]] = {}  # clip -> source frame indices after resampling
    if config.materialize:
        for k, span in enumerate(spans):
            wanted[k] = [span.start + i for i in resample_indices(span.end - span.start, fps, config.fps)]
    firsts: dict[int, bytes] = {}
    videos: dict[int, str] = {}
    buffers: dict[int, dict[int, np.ndarray]] = {k: {} for k in wanted}
    needed_by: dict[int, list[int]] = {}
    for k, idx in wanted.items():
        for i in idx:
            needed_by.setdefault(i, []).append(k)
    last_needed = {k: max(idx) for k, idx in wanted.items() if idx}
    try:
        for i, frame in scan_frames(item.video, set(first_at) | set(needed_by)):
            for k in first_at.get(i, ()):
                firsts[k] = _encode_image(frame, config.image_format)
            for k in needed_by.get(i, ()):
                buffers[k][i] = frame
                if i == last_needed[k]:
                    videos[k] = _write_clip(item, k, [buffers[k][j] for j in wanted[k]], config, out_root)
                    buffers[k].clear()
    except VideoError as e:
        raise Quarantine("decode", str(e)) from None
    missing = [k for k in range(len(spans)) if k not in firsts]
    if missing:
        raise Quarantine("decode", f"{item.video}: frame {spans[missing[0]].start} was not decoded")
    return {"first": firsts, "videos": videos}


def _write_clip(item: InputItem, k: int, frames: list[np.ndarray], config: BuildConfig, out_root: Path | None) -> str:
    if out_root is None:
        raise ValueError("materialize needs the output root")
    rel = VIDEO_PATH.format(chunk=item.index // FILES_PER_CHUNK, clip_id=f"{item.input_id}-{k:04d}")
    write_mp4(out_root / rel, np.stack(frames), config.fps)
    return rel


def process_or_quarantine(item: InputItem, config: BuildConfig, out_root: Path | None = None) -> dict:
    """Worker entry point: ``{"index", "rows"}`` or ``{"index", "quarantine": record}``; never raises."""
    try:
        return {"index": item.index, "rows": process_item(item, config, out_root)}
    except Quarantine as q:
        stage, reason = q.stage, q.reason
    except Exception as e:  # a bug or an unexpected library error must not stop the other inputs
        stage, reason = "internal", f"{item.video}: unexpected {type(e).__name__}: {e}".splitlines()[0]
    return {
        "index": item.index,
        "quarantine": {"input": item.video, "index": item.index, "stage": stage, "reason": reason},
    }

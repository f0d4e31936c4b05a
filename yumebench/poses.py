"""Camera poses in, keyboard/mouse actions out: the published YUME rule, its segment-level forms and the
speed fields.

Conventions: camera-to-world matrices (N, 4, 4), OpenCV camera axes (x right, y down, z forward). Other
conventions are converted on load (``load_poses(..., world_to_camera=True, opengl=True)``).

The per-frame rule is ``decode_camera_controls_from_c2w_sequence.py`` of stdstu12/YUME
(``../shared/reference/yume_repo.md`` §2):

1. Take every ``stride``-th pose and multiply both thresholds by ``stride``.
2. ``T_rel = inv(T_i) @ T_{i+1}``; ``t = T_rel[:3, 3]`` is in the current camera's frame.
3. Keys: ``z > thr`` W, ``z < -thr`` S, ``x > thr`` D, ``x < -thr`` A, joined W/S first; else "None".
4. Mouse: ``e = Rotation.from_matrix(R_rel).as_euler("xyz")`` (scipy lowercase = *extrinsic*, radians).
   ``e[1]`` is yaw (→ above thr, ← below -thr), ``e[0]`` pitch (↑ / ↓); vertical first ("↑→"); else "·".

Where the published comment and code disagree we follow the code: the comment says Euler order "YXZ",
the call uses extrinsic "xyz". With roll 0 the two agree; with roll they differ, and we match the code.
"""

from __future__ import annotations

import csv
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from yumebench.actions import Action, SpeedFields

TRANSLATION_THRESHOLD = 1e-4  # published default, per frame pair at stride 1
ROTATION_THRESHOLD = 1e-3  # radians, published default
# The scale-free ("direction") rule: keys fire on the unit translation direction. 0.3 = sin(17.5 deg):
# a strafe component needs the motion to point more than 17.5 deg off the forward axis.
DIRECTION_THRESHOLD = 0.3
TRANSLATION_RULES = ("published", "direction")
ORTHONORMAL_TOLERANCE = 1e-3
# OpenGL cameras look down -z with y up; OpenCV cameras look down +z with y down.
OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])


class PoseError(ValueError):
    """A pose file or array that cannot be used; the message names the file and the row."""


# ----------------------------------------------------------------------------------------------------
# Loading and validation


def load_poses(path: str | Path, world_to_camera: bool = False, opengl: bool = False) -> np.ndarray:
    """Read camera poses as float64 camera-to-world matrices (N, 4, 4) in OpenCV axes.

    Formats: ``.npy`` holding (N, 4, 4) or (N, 3, 4); ``.npz`` with one such array (key ``c2w``,
    ``poses`` or ``extrinsic``, or its only array); ``.txt`` / ``.csv`` with one pose per row of 12
    (3x4, row-major) or 16 (4x4) numbers separated by spaces or commas; ``#`` lines are comments.

    Args:
        world_to_camera: the file holds world-to-camera (extrinsic) matrices; they are inverted.
        opengl: the camera axes are OpenGL's (x right, y up, z backward); they are converted.
    """
    path = Path(path)
    if not path.exists():
        raise PoseError(f"{path}: pose file not found")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            raw = np.load(path, allow_pickle=False)
        elif suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                keys = [k for k in ("c2w", "poses", "extrinsic") if k in z.files] or list(z.files)
                if len(keys) != 1 and not any(k in z.files for k in ("c2w", "poses", "extrinsic")):
                    raise PoseError(f"{path}: npz holds {z.files}; expected one array named c2w/poses/extrinsic")
                raw = z[keys[0]]
        elif suffix in (".txt", ".csv"):
            raw = _read_text_rows(path)
        else:
            raise PoseError(f"{path}: unsupported pose format {suffix!r} (use .npy, .npz, .txt or .csv)")
    except PoseError:
        raise
    except Exception as e:  # numpy raises many types for a damaged file
        raise PoseError(f"{path}: cannot read poses ({type(e).__name__}: {e})") from None
    return as_c2w(raw, source=str(path), world_to_camera=world_to_camera, opengl=opengl)


def _read_text_rows(path: Path) -> np.ndarray:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise PoseError(f"{path}: not a UTF-8 text file") from None
    rows = []
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for lineno, line in enumerate(csv.reader(ln.replace("\t", " ") for ln in lines)):
        cells = [c for field in line for c in field.split()]
        try:
            values = [float(c) for c in cells]
        except ValueError:
            if lineno == 0:  # a header row
                continue
            raise PoseError(f"{path}: row {lineno}: not numbers: {' '.join(cells)[:60]!r}") from None
        if len(values) not in (12, 16):
            raise PoseError(f"{path}: row {lineno}: {len(values)} numbers; expected 12 (3x4) or 16 (4x4)")
        rows.append(values)
    if not rows:
        raise PoseError(f"{path}: no pose rows")
    if len({len(r) for r in rows}) != 1:
        raise PoseError(f"{path}: rows mix 12 and 16 numbers")
    arr = np.asarray(rows, dtype=np.float64)
    return arr.reshape(len(rows), -1, 4)


def as_c2w(
    poses: np.ndarray, source: str = "<array>", world_to_camera: bool = False, opengl: bool = False
) -> np.ndarray:
    """Validate an array of poses and return float64 OpenCV camera-to-world matrices (N, 4, 4)."""
    arr = np.asarray(poses)
    if arr.ndim != 3 or arr.shape[1:] not in ((4, 4), (3, 4)):
        raise PoseError(f"{source}: poses have shape {arr.shape}; expected (N, 4, 4) or (N, 3, 4)")
    if arr.shape[0] == 0:
        raise PoseError(f"{source}: no poses")
    if not np.issubdtype(arr.dtype, np.number):
        raise PoseError(f"{source}: poses have dtype {arr.dtype}; expected numbers")
    arr = arr.astype(np.float64)
    bad = ~np.isfinite(arr).reshape(len(arr), -1).all(axis=1)
    if bad.any():
        raise PoseError(f"{source}: row {int(np.argmax(bad))}: pose has NaN or infinite values")
    if arr.shape[1] == 3:
        bottom = np.broadcast_to(np.array([0.0, 0.0, 0.0, 1.0]), (len(arr), 1, 4))
        arr = np.concatenate([arr, bottom], axis=1)
    else:
        off = np.abs(arr[:, 3] - np.array([0.0, 0.0, 0.0, 1.0])).max(axis=1) > 1e-6
        if off.any():
            raise PoseError(f"{source}: row {int(np.argmax(off))}: bottom row is not [0, 0, 0, 1]")
    rot = arr[:, :3, :3]
    err = np.abs(rot.transpose(0, 2, 1) @ rot - np.eye(3)).max(axis=(1, 2))
    det = np.linalg.det(rot)
    bad = (err > ORTHONORMAL_TOLERANCE) | (det < 0)
    if bad.any():
        i = int(np.argmax(bad))
        what = "a reflection (det < 0)" if det[i] < 0 else f"not orthonormal (|RᵀR - I| = {err[i]:.2g})"
        raise PoseError(f"{source}: row {i}: rotation is {what}")
    if world_to_camera:
        arr = np.linalg.inv(arr)
    if opengl:
        arr = arr @ OPENGL_TO_OPENCV
    return arr


# ----------------------------------------------------------------------------------------------------
# Relative motion and the published per-frame rule


def relative_motion(c2w: np.ndarray, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Per consecutive pair of ``c2w[::stride]``: translation (M, 3) in the current camera frame and
    extrinsic "xyz" Euler angles (M, 3) in radians, i.e. (pitch, yaw, roll) for OpenCV axes."""
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    sub = np.asarray(c2w, dtype=np.float64)[::stride]
    if len(sub) < 2:
        return np.zeros((0, 3)), np.zeros((0, 3))
    rel = np.linalg.inv(sub[:-1]) @ sub[1:]
    euler = Rotation.from_matrix(rel[:, :3, :3]).as_euler("xyz", degrees=False)
    return rel[:, :3, 3], euler


def action_from_motion(
    x: float, z: float, yaw: float, pitch: float, translation_threshold: float, rotation_threshold: float
) -> Action:
    """The published decision rule on one relative motion (strict inequalities, as in the code)."""
    forward = 1 if z > translation_threshold else -1 if z < -translation_threshold else 0
    strafe = 1 if x > translation_threshold else -1 if x < -translation_threshold else 0
    turn = 1 if yaw > rotation_threshold else -1 if yaw < -rotation_threshold else 0
    tilt = 1 if pitch > rotation_threshold else -1 if pitch < -rotation_threshold else 0
    return Action.from_components(forward, strafe, turn, tilt)


def decode_actions(
    c2w: np.ndarray,
    stride: int = 1,
    translation_threshold: float = TRANSLATION_THRESHOLD,
    rotation_threshold: float = ROTATION_THRESHOLD,
) -> list[dict]:
    """Per-frame-pair labels ``{"frame": i, "keys": ..., "mouse": ...}``, exactly the published rule.

    As published, ``frame`` indexes the strided sequence (label i covers original frames i*stride to
    (i+1)*stride) and there are ``len(c2w[::stride]) - 1`` labels.
    """
    return [
        {"frame": i, "keys": a.keys, "mouse": a.mouse}
        for i, a in enumerate(decode_action_labels(c2w, stride, translation_threshold, rotation_threshold))
    ]


def decode_action_labels(
    c2w: np.ndarray,
    stride: int = 1,
    translation_threshold: float = TRANSLATION_THRESHOLD,
    rotation_threshold: float = ROTATION_THRESHOLD,
    translation_rule: str = "published",
    direction_threshold: float = DIRECTION_THRESHOLD,
) -> list[Action]:
    """As :func:`decode_actions`, returning ``Action`` objects.

    ``translation_rule="direction"`` is the scale-free variant: a pair moves when its translation is
    above ``translation_threshold`` in x or z (as published), and its keys then come from the sign test on the
    *unit* direction with ``direction_threshold``, as the instruction-following metric decides. The
    published rule labels straight driving in metres "W+A" from centimetre drift; this one says "W".
    """
    t, euler = relative_motion(c2w, stride)
    tt, rt = translation_threshold * stride, rotation_threshold * stride
    return _rule(t, euler, tt, rt, translation_rule, direction_threshold)


def _rule(
    t: np.ndarray, euler: np.ndarray, tt: float, rt: float, translation_rule: str, direction_threshold: float
) -> list[Action]:
    """The rule on relative motions (translations (M, 3), Euler angles (M, 3)) at thresholds ``tt``, ``rt``."""
    if translation_rule not in TRANSLATION_RULES:
        raise ValueError(f"translation_rule {translation_rule!r}: expected one of {', '.join(TRANSLATION_RULES)}")
    if translation_rule == "direction":
        moving = np.abs(t[:, [0, 2]]).max(axis=1) > tt  # the published rule would press a key
        norm = np.linalg.norm(t, axis=1, keepdims=True)
        t = np.where(moving[:, None], t / np.maximum(norm, 1e-300), 0.0)
        tt = direction_threshold
    return [action_from_motion(t[i, 0], t[i, 2], euler[i, 1], euler[i, 0], tt, rt) for i in range(len(t))]


def mean_motion_action(
    c2w: np.ndarray,
    start: int = 0,
    end: int | None = None,
    translation_rule: str = "direction",
    translation_threshold: float = TRANSLATION_THRESHOLD,
    rotation_threshold: float = ROTATION_THRESHOLD,
    direction_threshold: float = DIRECTION_THRESHOLD,
) -> Action:
    """The rule applied once to the mean per-frame motion of frames ``[start, end)``: each pair's
    translation in its own camera's frame and its Euler angles, averaged over the pairs.

    Measured poses jitter. KITTI's car pitches by 0.1-0.2 deg from one frame to the next as it rides over
    the road, so its per-frame labels scatter over ↑, ↓ and ·, and the most frequent one
    (``dominant_action``) can name the wrong turn: frames 32-64 of KITTI odometry sequence 07 turn left by
    1.0 deg per frame, and their most frequent label is "W,↓→" (7 of 32 pairs). This is the label of the
    segment read as one constant motion, which is how the instruction-following metric reads it. On a
    path that moves alike in every pair it equals the per-frame label."""
    mean_t, mean_euler = mean_motion(c2w, start, end)
    tt, rt = translation_threshold, rotation_threshold
    return _rule(mean_t[None], mean_euler[None], tt, rt, translation_rule, direction_threshold)[0]


def mean_motion(c2w: np.ndarray, start: int = 0, end: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The mean over the frame pairs of ``[start, end)`` of ``relative_motion``'s translation (each in its
    own camera's frame) and Euler angles (radians): (3,) each."""
    t, euler = relative_motion(np.asarray(c2w)[start:end])
    if len(t) == 0:
        raise ValueError(f"frame range [{start}, {end}) holds no frame pair")
    return t.mean(axis=0), euler.mean(axis=0)


# ----------------------------------------------------------------------------------------------------
# Segment-level decoding


@dataclass(frozen=True)
class ActionRun:
    """Frames ``[start, end)`` (original frame indices) whose every frame pair has one action."""

    start: int
    end: int
    keys: str
    mouse: str

    @property
    def action(self) -> Action:
        return Action(self.keys, self.mouse)

    @property
    def num_frames(self) -> int:
        return self.end - self.start

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "keys": self.keys, "mouse": self.mouse}


def find_action_runs(labels: Sequence[Action], min_frames: int = 33, stride: int = 1) -> list[ActionRun]:
    """Maximal runs of constant action spanning at least ``min_frames`` frames.

    Label i covers frames ``i*stride .. (i+1)*stride``, so a run of labels ``i..j`` spans frames
    ``[i*stride, (j+1)*stride + 1)``; neighbouring runs share their boundary frame. The Yume1.5 paper
    keeps runs of at least 33 frames (``yume_repo.md`` §2; every published bench clip is one such run).
    """
    runs: list[ActionRun] = []
    i = 0
    while i < len(labels):
        j = i
        while j + 1 < len(labels) and labels[j + 1] == labels[i]:
            j += 1
        start, end = i * stride, (j + 1) * stride + 1
        if end - start >= min_frames:
            runs.append(ActionRun(start, end, labels[i].keys, labels[i].mouse))
        i = j + 1
    return runs


def dominant_action(labels: Sequence[Action], start: int = 0, end: int | None = None, stride: int = 1) -> Action:
    """The most frequent label among the frame pairs inside frames ``[start, end)``; ties go to the
    label seen first."""
    end_frame = len(labels) * stride + 1 if end is None else end
    window = [a for i, a in enumerate(labels) if i * stride >= start and (i + 1) * stride < end_frame]
    if not window:
        raise ValueError(f"frame range [{start}, {end_frame}) holds no frame pair")
    counts = Counter(window)
    best = max(counts.values())
    return next(a for a in window if counts[a] == best)


# ----------------------------------------------------------------------------------------------------
# Speed fields (Yume1.0 Algorithm 4 / ``calculate_metrics_in_range``)


def speed_fields(
    c2w: np.ndarray, start: int = 0, end: int | None = None, stride: int = 1, fps: float = 30.0
) -> SpeedFields:
    """Distance moved, turn speed and view rotation speed, as the YUME code computes them.

    Published behaviour kept on purpose (``yume_repo.md`` §1): displacement pairs with a norm below
    1e-6 are dropped *before* the window is applied, so the window indexes the kept list, not frames;
    the window is ``start <= i < end - 2*stride`` for distance and turn speed and ``end - stride`` for
    rotation; and when no displacement survives, all three fields are 0, rotation included.
    """
    pos = np.asarray(c2w, dtype=np.float64)[:, :3, 3]
    rot_z = np.asarray(c2w, dtype=np.float64)[:, :3, 2]
    end = len(pos) if end is None else end
    displacements, turn_angles = [], []
    for i in range(len(pos) - 2 * stride):
        v1, v2 = pos[i + stride] - pos[i], pos[i + 2 * stride] - pos[i + stride]
        n1, n2 = np.linalg.norm(v1), np.linalg.norm(v2)
        if n1 < 1e-6 or n2 < 1e-6:
            continue
        displacements.append(n1)
        turn_angles.append(_angle_deg(v1, v2, n1, n2))
    view_angles = []
    for i in range(len(rot_z) - stride):
        z1, z2 = rot_z[i], rot_z[i + stride]
        n1, n2 = np.linalg.norm(z1), np.linalg.norm(z2)
        if n1 < 1e-6 or n2 < 1e-6:
            continue
        view_angles.append(_angle_deg(z1, z2, n1, n2))
    dist = [d for i, d in enumerate(displacements) if start <= i < end - 2 * stride]
    turn = [a for i, a in enumerate(turn_angles) if start <= i < end - 2 * stride]
    view = [a for i, a in enumerate(view_angles) if start <= i < end - stride]
    if not dist:
        return SpeedFields(0.0, 0.0, 0.0)
    interval = stride / fps
    return SpeedFields(
        # The caption's "at 100 meters per second" scale: 100 x mean displacement per second.
        distance=float(100.0 * np.mean(dist) / interval),
        turn_speed=float(np.mean(turn)) if turn else 0.0,
        rotation_speed=float(np.mean(view)) if view else 0.0,
    )


def _angle_deg(a: np.ndarray, b: np.ndarray, na: float, nb: float) -> float:
    return math.degrees(math.acos(float(np.clip(np.dot(a, b) / (na * nb), -1.0, 1.0))))

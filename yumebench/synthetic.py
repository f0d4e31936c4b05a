"""Synthetic walking scenes with known camera paths: ground truth for tests, benchmarks and the demo.

A ``Scene`` is a textured room (floor, ceiling, four walls) with textured boxes at many depths, ray-cast
in numpy with a pinhole camera. ``camera_path`` turns a sequence of actions into camera-to-world
matrices (OpenCV axes) whose relative motions decode back to those actions under the published rule,
so rendered videos come with exact labels.

Example:
    >>> scene = Scene(SceneConfig(width=160, height=96, seed=1))
    >>> c2w = camera_path([Action("W+A", "→")] * 32)
    >>> frames = scene.render_video(c2w)          # (33, 96, 160, 3) uint8
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from yumebench.actions import Action, action_text
from yumebench.video import write_mp4

TEXTURE_SIZE = 256


@dataclass
class SceneConfig:
    width: int = 160
    height: int = 96
    fov_deg: float = 70.0  # horizontal field of view
    room_half_size: float = 24.0  # walls at +-room_half_size in x and z
    floor_y: float = 1.6  # OpenCV y points down: the floor is below the camera
    ceiling_y: float = -6.0
    num_boxes: int = 14
    seed: int = 0
    fog_distance: float = 80.0  # fade to grey with distance, which keeps far texture from aliasing


@dataclass
class _Quad:
    axis: int  # the plane is {x[axis] == offset}
    offset: float
    lo: tuple[float, float]  # bounds on the two other axes (in increasing axis order)
    hi: tuple[float, float]
    tint: np.ndarray
    scale: float
    shift: tuple[float, float] = field(default=(0.0, 0.0))


def _make_texture(rng: np.random.Generator) -> np.ndarray:
    """Multi-octave value noise plus a few sharp blobs: trackable corners at every scale."""
    tex = np.zeros((TEXTURE_SIZE, TEXTURE_SIZE), np.float32)
    for octave, weight in ((8, 0.5), (16, 0.3), (32, 0.2), (64, 0.12)):
        coarse = rng.random((octave, octave)).astype(np.float32)
        reps = TEXTURE_SIZE // octave
        up = np.kron(coarse, np.ones((reps, reps), np.float32))
        # Smooth the blocks with a separable box blur so bilinear sampling stays stable.
        tex += weight * _wrapped_box_blur(up, max(1, reps // 2))
    yy, xx = np.mgrid[0:TEXTURE_SIZE, 0:TEXTURE_SIZE]
    for _ in range(60):
        cx, cy, r = rng.integers(0, TEXTURE_SIZE), rng.integers(0, TEXTURE_SIZE), rng.integers(3, 10)
        dx = np.minimum(np.abs(xx - cx), TEXTURE_SIZE - np.abs(xx - cx))
        dy = np.minimum(np.abs(yy - cy), TEXTURE_SIZE - np.abs(yy - cy))
        tex[(dx < r) & (dy < r)] = rng.choice([0.1, 1.0])
    tex -= tex.min()
    return tex / max(float(tex.max()), 1e-6)


def _wrapped_box_blur(img: np.ndarray, k: int) -> np.ndarray:
    """Separable box blur with wrap-around, so the tiled texture has no seams."""
    out = np.zeros_like(img)
    for dy in range(k):
        for dx in range(k):
            out += np.roll(img, (dy - k // 2, dx - k // 2), axis=(0, 1))
    return out / (k * k)


class Scene:
    """A textured room with boxes; ``render(c2w)`` ray-casts one frame."""

    def __init__(self, config: SceneConfig | None = None) -> None:
        self.config = config or SceneConfig()
        c = self.config
        rng = np.random.default_rng(c.seed)
        self.texture = _make_texture(rng)
        s, f, ce = c.room_half_size, c.floor_y, c.ceiling_y
        quads = [
            _Quad(1, f, (-s, -s), (s, s), np.array([0.55, 0.5, 0.45]), 4.0),  # floor (x, z)
            _Quad(1, ce, (-s, -s), (s, s), np.array([0.6, 0.7, 0.9]), 1.2),  # ceiling / sky
            _Quad(0, -s, (ce, -s), (f, s), np.array([0.8, 0.5, 0.4]), 1.0),  # walls (y, z) / (x, y)
            _Quad(0, s, (ce, -s), (f, s), np.array([0.4, 0.6, 0.8]), 1.0),
            _Quad(2, -s, (-s, ce), (s, f), np.array([0.5, 0.8, 0.5]), 1.0),
            _Quad(2, s, (-s, ce), (s, f), np.array([0.8, 0.8, 0.4]), 1.0),
        ]
        for _ in range(c.num_boxes):
            # Boxes keep clear of the start so a camera walking a few metres does not enter one.
            while True:
                bx, bz = rng.uniform(-s + 3, s - 3, size=2)
                if math.hypot(bx, bz) > 5.0:
                    break
            hw, hd = rng.uniform(0.4, 1.5, size=2)
            top = f - rng.uniform(1.0, 5.0)
            tint = rng.uniform(0.3, 1.0, size=3)
            sc = rng.uniform(1.5, 3.0)
            quads += [
                _Quad(0, bx - hw, (top, bz - hd), (f, bz + hd), tint, sc),
                _Quad(0, bx + hw, (top, bz - hd), (f, bz + hd), tint * 0.9, sc),
                _Quad(2, bz - hd, (bx - hw, top), (bx + hw, f), tint * 0.8, sc),
                _Quad(2, bz + hd, (bx - hw, top), (bx + hw, f), tint * 0.85, sc),
                _Quad(1, top, (bx - hw, bz - hd), (bx + hw, bz + hd), tint * 0.7, sc),
            ]
        for q in quads:
            q.shift = tuple(rng.uniform(0, TEXTURE_SIZE, size=2))
        self.quads = quads

    @property
    def focal(self) -> float:
        return 0.5 * self.config.width / math.tan(math.radians(self.config.fov_deg) / 2)

    def intrinsics(self) -> np.ndarray:
        c = self.config
        return np.array([[self.focal, 0, (c.width - 1) / 2], [0, self.focal, (c.height - 1) / 2], [0, 0, 1.0]])

    def render(self, c2w: np.ndarray) -> np.ndarray:
        """One uint8 RGB frame (H, W, 3) seen from the camera-to-world pose ``c2w`` (OpenCV axes)."""
        c = self.config
        k = self.intrinsics()
        v, u = np.mgrid[0 : c.height, 0 : c.width].astype(np.float64)
        dirs_cam = np.stack([(u - k[0, 2]) / k[0, 0], (v - k[1, 2]) / k[1, 1], np.ones_like(u)], -1)
        dirs = dirs_cam.reshape(-1, 3) @ c2w[:3, :3].T
        origin = c2w[:3, 3]
        best_t = np.full(len(dirs), np.inf)
        color = np.zeros((len(dirs), 3))
        for q in self.quads:
            d = dirs[:, q.axis]
            with np.errstate(divide="ignore", invalid="ignore"):
                t = (q.offset - origin[q.axis]) / d
            others = [a for a in range(3) if a != q.axis]
            p0 = origin[others[0]] + t * dirs[:, others[0]]
            p1 = origin[others[1]] + t * dirs[:, others[1]]
            hit = (t > 1e-4) & (t < best_t) & (p0 >= q.lo[0]) & (p0 <= q.hi[0]) & (p1 >= q.lo[1]) & (p1 <= q.hi[1])
            if not hit.any():
                continue
            shade = self._sample(p0[hit] * q.scale * 16 + q.shift[0], p1[hit] * q.scale * 16 + q.shift[1])
            best_t[hit] = t[hit]
            color[hit] = shade[:, None] * q.tint[None, :]
        depth = np.where(np.isfinite(best_t), best_t, c.fog_distance)
        fog = np.clip(depth / c.fog_distance, 0.0, 1.0)[:, None]
        color = color * (1 - fog) + 0.5 * fog
        return (np.clip(color, 0, 1) * 255 + 0.5).astype(np.uint8).reshape(c.height, c.width, 3)

    def _sample(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Bilinear, wrapped texture lookup."""
        a0, b0 = np.floor(a), np.floor(b)
        fa, fb = a - a0, b - b0
        a0 = a0.astype(np.int64) % TEXTURE_SIZE
        b0 = b0.astype(np.int64) % TEXTURE_SIZE
        a1, b1 = (a0 + 1) % TEXTURE_SIZE, (b0 + 1) % TEXTURE_SIZE
        t = self.texture
        return (
            t[b0, a0] * (1 - fa) * (1 - fb)
            + t[b0, a1] * fa * (1 - fb)
            + t[b1, a0] * (1 - fa) * fb
            + t[b1, a1] * fa * fb
        )

    def render_video(self, c2w: np.ndarray) -> np.ndarray:
        return np.stack([self.render(m) for m in c2w])


def rotation_x(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def rotation_y(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def relative_pose(
    action: Action, step: float = 0.06, turn_deg: float = 1.2, pitch_deg: float | None = None
) -> np.ndarray:
    """The 4x4 camera motion of one frame under ``action`` (in the current camera's frame).

    Rotation is ``Ry(yaw) @ Rx(pitch)``: extrinsic "xyz" Euler angles (pitch, yaw, 0), which is what
    the published decoder reads. Positive yaw turns the view right (→), positive pitch up (↑).
    """
    forward, strafe, yaw, pitch = action.components
    turn = math.radians(turn_deg)
    tilt = math.radians(turn_deg if pitch_deg is None else pitch_deg)
    rel = np.eye(4)
    rel[:3, :3] = rotation_y(yaw * turn) @ rotation_x(pitch * tilt)
    rel[:3, 3] = (strafe * step, 0.0, forward * step)
    return rel


def camera_path(
    actions: Sequence[Action],
    step: float = 0.06,
    turn_deg: float = 1.2,
    start: np.ndarray | None = None,
    pitch_deg: float | None = None,
) -> np.ndarray:
    """Camera-to-world poses (len(actions) + 1, 4, 4): one action per frame pair."""
    poses = [np.eye(4) if start is None else np.asarray(start, dtype=np.float64)]
    for a in actions:
        poses.append(poses[-1] @ relative_pose(a, step, turn_deg, pitch_deg))
    return np.stack(poses)


def segments_path(
    segments: Sequence[tuple[Action, int]], step: float = 0.06, turn_deg: float = 1.2, start: np.ndarray | None = None
) -> np.ndarray:
    """Poses for consecutive segments ``(action, num_frame_pairs)``."""
    per_frame = [a for a, n in segments for _ in range(n)]
    return camera_path(per_frame, step, turn_deg, start)


def write_sample(
    out_dir: str | Path,
    name: str,
    segments: Sequence[tuple[Action, int]],
    scene_config: SceneConfig | None = None,
    event: str = "A quiet courtyard with tall coloured blocks.",
    fps: float = 16.0,
    wording: str = "yume",
) -> dict:
    """Render a sample: ``<name>.mp4``, ``<name>.npy`` (c2w poses) and ``<name>.txt`` (a caption that
    states the first segment's action). Returns the paths and the ground-truth segments."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    scene = Scene(scene_config)
    c2w = segments_path(segments)
    write_mp4(out / f"{name}.mp4", scene.render_video(c2w), fps)
    np.save(out / f"{name}.npy", c2w.astype(np.float32))
    caption = f"{event} {action_text(segments[0][0], wording)}"
    (out / f"{name}.txt").write_text(caption + "\n", encoding="utf-8")
    bounds, start = [], 0
    for action, n in segments:
        bounds.append({"start": start, "end": start + n + 1, "keys": action.keys, "mouse": action.mouse})
        start += n
    return {
        "video": out / f"{name}.mp4",
        "poses": out / f"{name}.npy",
        "caption": out / f"{name}.txt",
        "segments": bounds,
    }


DEGRADATIONS = ("blur", "noise", "compression", "flicker")


def degrade(frames: np.ndarray, kind: str, seed: int = 0) -> np.ndarray:
    """What generated video does to frames: ``blur`` (Gaussian, sigma 1.2), ``noise`` (Gaussian, sigma 8),
    ``compression`` (JPEG quality 25 per frame), ``flicker`` (per-frame gain 0.75-1.25 and offset +-12)."""
    import cv2

    rng = np.random.default_rng(seed)
    if kind == "blur":
        return np.stack([cv2.GaussianBlur(f, (0, 0), 1.2) for f in frames])
    if kind == "noise":
        noisy = frames.astype(np.float32) + rng.normal(0, 8, size=frames.shape)
        return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
    if kind == "compression":
        out = []
        for f in frames:
            ok, buf = cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, 25])
            out.append(cv2.imdecode(buf, cv2.IMREAD_UNCHANGED))
        return np.stack(out)
    if kind == "flicker":
        gain = rng.uniform(0.75, 1.25, size=(len(frames), 1, 1, 1))
        offset = rng.uniform(-12, 12, size=(len(frames), 1, 1, 1))
        return np.clip(frames.astype(np.float32) * gain + offset + 0.5, 0, 255).astype(np.uint8)
    raise ValueError(f"unknown degradation {kind!r}; expected one of {', '.join(DEGRADATIONS)}")


def random_walk(
    actions: Sequence[Action], seed: int, frames_per_segment: int = 32
) -> tuple[np.ndarray, list[dict], int]:
    """A camera path of consecutive segments with the given actions, at random speeds (0.03-0.09 units,
    yaw 0.3-1.5 and pitch 0.3-0.6 degrees per frame, so the view never ends up staring at the floor)
    and a random heading; returns (c2w, segments, scene seed)."""
    rng = np.random.default_rng(seed)
    step, turn = float(rng.uniform(0.03, 0.09)), float(rng.uniform(0.3, 1.5))
    tilt = float(rng.uniform(0.3, 0.6))
    start = np.eye(4)
    start[:3, :3] = rotation_y(float(rng.uniform(-math.pi, math.pi)))
    per_pair = [a for a in actions for _ in range(frames_per_segment)][: len(actions) * frames_per_segment - 1]
    c2w = camera_path(per_pair, step=step, turn_deg=turn, start=start, pitch_deg=tilt)
    segments = [
        {"start": i * frames_per_segment, "end": (i + 1) * frames_per_segment, "keys": a.keys, "mouse": a.mouse}
        for i, a in enumerate(actions)
    ]
    return c2w, segments, int(rng.integers(0, 10_000))


def random_segment_video(
    actions: Sequence[Action],
    seed: int,
    frames_per_segment: int = 32,
    width: int = 288,
    height: int = 160,
) -> tuple[np.ndarray, list[dict]]:
    """Frames of a ``random_walk`` through a random scene; returns (frames, segments)."""
    c2w, segments, scene_seed = random_walk(actions, seed, frames_per_segment)
    scene = Scene(SceneConfig(width=width, height=height, seed=scene_seed))
    return scene.render_video(c2w), segments

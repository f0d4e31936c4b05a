"""Camera motion from video frames alone: OpenCV tracking + robust two-view geometry, CPU, no weights.

A segment is cut into windows of ``step`` frames. Points are tracked through each window frame to
frame with pyramidal Lucas-Kanade (forward-backward checked, on contrast-normalised grey frames), then
refined by one direct step from the window's first to its last frame: long baselines for well-
conditioned geometry, small per-step motion for reliable tracking. Each segment gets one of three
explicit decisions:

- **static**: the tracked points barely move;
- **rotation only**: one rotation maps the bearing vectors of the first frame onto those of the last
  (Kabsch on unit rays) within the noise level, at the focal length that fits best (self-calibration:
  under pure rotation only the true focal length fits), so there is no translation to recover;
- **translation with rotation**: otherwise; the essential matrix (MAGSAC++) gives the rotation and the
  direction of translation (its scale is unknowable from two views). The focal length then comes from
  the video's rotation-only segments, or, when it has none, from the epipolar residual.

Conventions follow ``yumebench.poses``: relative motions are expressed as the pose of the later
camera in the earlier camera's frame (OpenCV axes), so the published decision rule applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import cv2
import numpy as np
from scipy.spatial.transform import Rotation


@dataclass
class MotionConfig:
    analysis_width: int = 320  # frames are resized to this width before tracking
    step: int = 8  # frames between the two views of a pair (tracked frame to frame in between)
    max_corners: int = 400
    default_fov_deg: float = 60.0  # horizontal FOV used where the search cannot decide
    fov_candidates: tuple[float, ...] = tuple(float(f) for f in range(35, 115, 5))
    static_flow_px: float = 0.08  # 90th-percentile flow per frame (analysis px) below which a pair is static
    parallax_px: float = 0.25  # rotation-only residual (analysis px) above which a pair translates
    parallax_ratio: float = 2.5  # ...and it must exceed the essential-matrix residual by this factor
    min_points: int = 12
    essential_fov_range: tuple[float, float] = (40.0, 100.0)  # searched when no segment is rotation-only


@dataclass
class PairMotion:
    """Relative motion between frames i and i+step (pose of camera i+step in camera i's frame)."""

    kind: str  # "static", "rotation", "translation" or "unknown" (too few tracks)
    rotation: np.ndarray  # (3, 3)
    direction: np.ndarray  # (3,) unit translation direction, zeros unless kind == "translation"
    num_points: int
    rotation_residual_px: float
    essential_residual_px: float
    median_flow_px: float
    frames: int = 0  # frames between the two views


@dataclass
class SegmentMotion:
    """Camera motion over a segment, per frame."""

    yaw_deg_per_frame: float  # + turns right (→)
    pitch_deg_per_frame: float  # + tilts up (↑)
    direction: np.ndarray  # (3,) mean unit translation direction (x right, z forward); zeros if none
    translating_fraction: float  # share of pairs decided as translation
    static_fraction: float
    num_pairs: int
    fov_deg: float
    pairs: list[PairMotion] = field(default_factory=list, repr=False)


class CameraMotionEstimator(Protocol):
    """What a pose estimator must provide to score instruction following (OpenCV here; VGGT or
    MegaSaM can plug in by returning the same ``SegmentMotion``)."""

    name: str

    def estimate(self, frames: np.ndarray) -> SegmentMotion: ...


def prepare_gray(frames: np.ndarray, width: int) -> list[np.ndarray]:
    """uint8 RGB (T, H, W, 3) -> contrast-normalised grey frames at ``width``: robust to brightness
    flicker (per-frame normalisation) and sensor noise (a light blur)."""
    out = []
    for frame in frames:
        h, w = frame.shape[:2]
        size = (width, max(8, int(round(h * width / w))))
        g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        g = cv2.resize(g, size, interpolation=cv2.INTER_AREA).astype(np.float32)
        g = cv2.GaussianBlur(g, (3, 3), 0.8)
        g = (g - g.mean()) / (g.std() + 1e-6)
        out.append(np.clip(g * 40 + 128, 0, 255).astype(np.uint8))
    return out


def track_windows(
    gray: list[np.ndarray], window: int, config: MotionConfig
) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Point correspondences between frames ``(k*window, (k+1)*window)`` (the last window ends at the
    last frame), from tracks followed frame to frame: long baselines for well-conditioned geometry,
    small per-step motion for reliable tracking. Tracks are re-seeded at each window start."""
    if len(gray) < 2:
        return []
    bounds = list(range(0, len(gray) - 1, window))
    out = []
    lk = dict(winSize=(15, 15), maxLevel=3, criteria=(cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 20, 0.02))
    for b in bounds:
        e = min(b + window, len(gray) - 1)
        pts = cv2.goodFeaturesToTrack(gray[b], config.max_corners, qualityLevel=0.01, minDistance=7, blockSize=7)
        if pts is None:
            out.append((np.zeros((0, 2)), np.zeros((0, 2)), e - b))
            continue
        start = pts.copy()
        alive = np.ones(len(pts), bool)
        cur = pts
        for i in range(b, e):
            nxt, st1, _ = cv2.calcOpticalFlowPyrLK(gray[i], gray[i + 1], cur, None, **lk)
            back, st2, _ = cv2.calcOpticalFlowPyrLK(gray[i + 1], gray[i], nxt, None, **lk)
            h, w = gray[i].shape
            ok = (st1[:, 0] == 1) & (st2[:, 0] == 1) & (np.linalg.norm(cur - back, axis=2)[:, 0] < 0.5)
            ok &= (nxt[:, 0, 0] >= 0) & (nxt[:, 0, 0] < w) & (nxt[:, 0, 1] >= 0) & (nxt[:, 0, 1] < h)
            alive &= ok
            cur = nxt
        # Chaining accumulates drift; one direct LK step from the window's first to its last frame,
        # started at the chained positions, removes it.
        if alive.any():
            start, cur = start[alive], cur[alive]
            direct, st, _ = cv2.calcOpticalFlowPyrLK(
                gray[b], gray[e], start, cur.copy(), flags=cv2.OPTFLOW_USE_INITIAL_FLOW, **{**lk, "maxLevel": 1}
            )
            ok = (st[:, 0] == 1) & (np.linalg.norm(direct - cur, axis=2)[:, 0] < 2.0)
            start, cur = start[ok], direct[ok]
        else:
            start, cur = start[alive], cur[alive]
        out.append((start[:, 0].astype(np.float64), cur[:, 0].astype(np.float64), e - b))
    return out


def _bearings(pts: np.ndarray, focal: float, center: tuple[float, float]) -> np.ndarray:
    rays = np.column_stack([(pts[:, 0] - center[0]) / focal, (pts[:, 1] - center[1]) / focal, np.ones(len(pts))])
    return rays / np.linalg.norm(rays, axis=1, keepdims=True)


def fit_rotation(b1: np.ndarray, b2: np.ndarray, iterations: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R with b2 ≈ R b1 (Kabsch), refit on the best 80% to shed outliers; returns (R, angular
    residuals in radians)."""
    keep = np.ones(len(b1), bool)
    rot = np.eye(3)
    for _ in range(iterations):
        u, _, vt = np.linalg.svd(b2[keep].T @ b1[keep])
        d = np.sign(np.linalg.det(u @ vt))
        rot = u @ np.diag([1, 1, d]) @ vt
        err = np.linalg.norm(b2 - b1 @ rot.T, axis=1)
        keep = err <= np.quantile(err, 0.8)
    return rot, err


def pair_motion(
    p1: np.ndarray,
    p2: np.ndarray,
    focal: float,
    center: tuple[float, float],
    config: MotionConfig,
    frames: int,
    translating: bool,
) -> PairMotion:
    """Motion of one pair under the segment's decision (rotation only, or translation with rotation)."""
    zero = np.zeros(3)
    flow = _flow(p1, p2)
    if len(p1) < config.min_points:  # too few tracks to say anything: left out of the segment
        return PairMotion("unknown", np.eye(3), zero, len(p1), 0.0, 0.0, flow, frames)
    if flow < config.static_flow_px * frames:
        return PairMotion("static", np.eye(3), zero, len(p1), 0.0, 0.0, flow, frames)
    rot_x, err = fit_rotation(_bearings(p1, focal, center), _bearings(p2, focal, center))
    rot_residual = float(np.median(err)) * focal
    ess_residual, rot_e, t_e = _essential(p1, p2, focal, center, pose=translating)
    if not translating or rot_e is None:
        return PairMotion("rotation", rot_x.T, zero, len(p1), rot_residual, ess_residual, flow, frames)
    # x2 = R x1 + t: camera 2 sits at -Rᵀt in camera 1's frame, turned by Rᵀ.
    center2 = -rot_e.T @ t_e
    unit = center2 / (np.linalg.norm(center2) + 1e-12)
    return PairMotion("translation", rot_e.T, unit, len(p1), rot_residual, ess_residual, flow, frames)


def _flow(p1: np.ndarray, p2: np.ndarray) -> float:
    """90th-percentile track displacement (pixels)."""
    return float(np.quantile(np.linalg.norm(p2 - p1, axis=1), 0.9)) if len(p1) else 0.0


def _essential(p1: np.ndarray, p2: np.ndarray, focal: float, center: tuple[float, float], pose: bool = True):
    """Robust (MAGSAC++) essential matrix: (median Sampson residual in pixels, R, t) or (inf, None, None).
    The RNG is reseeded per call, so the residual is a smooth, repeatable function of the focal length."""
    n1, n2 = (p1 - center) / focal, (p2 - center) / focal
    cv2.setRNGSeed(0)
    e_mat, mask = cv2.findEssentialMat(
        n1, n2, focal=1.0, pp=(0.0, 0.0), method=cv2.USAC_MAGSAC, prob=0.999, threshold=1.0 / focal
    )
    if e_mat is None or e_mat.shape != (3, 3):
        return math.inf, None, None
    residual = float(np.median(_sampson(e_mat, n1, n2))) * focal
    if not pose:
        return residual, None, None
    _, r_e, t_e, _ = cv2.recoverPose(e_mat, n1, n2, focal=1.0, pp=(0.0, 0.0), mask=mask.copy())
    return residual, r_e, t_e[:, 0]


def _focal_of(fov_deg: float, width: int) -> float:
    return width / 2 / math.tan(math.radians(fov_deg) / 2)


def _rotation_cost(pairs: list, focal: float, center: tuple[float, float]) -> float:
    """Median over pairs of the median rotation-only residual (pixels) at this focal length."""
    res = [
        float(np.median(fit_rotation(_bearings(a, focal, center), _bearings(b, focal, center))[1])) * focal
        for a, b, _ in pairs
    ]
    return float(np.median(res))


def _sampson(e: np.ndarray, x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    h1 = np.column_stack([x1, np.ones(len(x1))])
    h2 = np.column_stack([x2, np.ones(len(x2))])
    ex1 = h1 @ e.T
    etx2 = h2 @ e
    num = np.sum(h2 * ex1, axis=1) ** 2
    den = ex1[:, 0] ** 2 + ex1[:, 1] ** 2 + etx2[:, 0] ** 2 + etx2[:, 1] ** 2
    return np.sqrt(num / np.maximum(den, 1e-18))


class OpenCVMotionEstimator:
    """The default estimator: tracking + two-view geometry, deterministic for the same frames."""

    name = "opencv"

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config or MotionConfig()

    def estimate(self, frames: np.ndarray) -> SegmentMotion:
        return self.estimate_video(frames, [(0, len(frames))])[0]

    def estimate_video(self, frames: np.ndarray, segments: list[tuple[int, int]]) -> list[SegmentMotion]:
        """Motion of each ``[start, end)`` segment of one video.

        1. Per segment, the rotation-only hypothesis gets its best focal length (self-calibration: under
           pure rotation only the true focal length makes one rotation fit the tracks). The segment
           translates when even that fit leaves parallax well above the essential matrix's residual.
        2. Translating segments use the video's focal length (a camera keeps its lens): the median of
           its rotation-only segments', or the default field of view when it has none; their keys
           come from the signs of translation directions, which a focal error barely moves.
        """
        c = self.config
        cv2.setRNGSeed(0)  # RANSAC draws from OpenCV's RNG: fixed seed, same scores every run
        width = min(c.analysis_width, frames.shape[2])
        height = int(round(frames.shape[1] * width / frames.shape[2]))
        center = ((width - 1) / 2, (height - 1) / 2)
        tracks = [track_windows(prepare_gray(frames[s:e], width), c.step, c) for s, e in segments]
        decisions = [self._decide(t, width, center) for t in tracks]
        rotation_fovs = [fov for fov, translating in decisions if fov is not None and not translating]
        if rotation_fovs:
            video_fov = float(np.median(rotation_fovs))
        else:
            moving = [
                (a, b, n)
                for seg_tracks, (_, translating) in zip(tracks, decisions, strict=True)
                if translating
                for a, b, n in seg_tracks
                if len(a) >= c.min_points and _flow(a, b) >= c.static_flow_px * n
            ]
            video_fov = self._essential_fov(moving, width, center) if moving else c.default_fov_deg
        out = []
        for seg_tracks, (fov, translating) in zip(tracks, decisions, strict=True):
            use_fov = fov if (fov is not None and not translating) else video_fov
            focal = _focal_of(use_fov, width)
            pairs = [pair_motion(p1, p2, focal, center, c, n, translating) for p1, p2, n in seg_tracks]
            out.append(self._summarise(pairs, translating, use_fov))
        return out

    def _decide(self, tracks: list, width: int, center: tuple[float, float]) -> tuple[float | None, bool]:
        """(best rotation-only FOV or None when nothing moves, translating?) for one segment."""
        c = self.config
        moving = [(a, b, n) for a, b, n in tracks if len(a) >= c.min_points and _flow(a, b) >= c.static_flow_px * n]
        if not moving:
            return None, False
        costs = [_rotation_cost(moving, _focal_of(fov, width), center) for fov in c.fov_candidates]
        best = int(np.argmin(costs))
        lo = c.fov_candidates[max(0, best - 1)]
        hi = c.fov_candidates[min(len(costs) - 1, best + 1)]
        fov = _golden_min(lambda x: _rotation_cost(moving, _focal_of(x, width), center), lo, hi)
        focal = _focal_of(fov, width)
        rot_res = _rotation_cost(moving, focal, center)
        ess_res = float(np.median([_essential(a, b, focal, center, pose=False)[0] for a, b, _ in moving]))
        return fov, bool(rot_res > c.parallax_px and rot_res > c.parallax_ratio * ess_res)

    def _essential_fov(self, pairs: list, width: int, center: tuple[float, float]) -> float:
        """Self-calibration for translating video: the field of view under which essential matrices
        fit the tracks best (a wrong focal length leaves epipolar residual in scenes with depth).
        This is what separates sideways motion from turning (the bas-relief ambiguity)."""
        c = self.config

        def cost(fov: float) -> float:
            focal = _focal_of(fov, width)
            return float(np.sum([_essential(a, b, focal, center, pose=False)[0] for a, b, _ in pairs]))

        grid = [f for f in c.fov_candidates if c.essential_fov_range[0] <= f <= c.essential_fov_range[1]]
        costs = [cost(f) for f in grid]
        if not np.isfinite(min(costs)):
            return c.default_fov_deg
        best = int(np.argmin(costs))
        return _golden_min(cost, grid[max(0, best - 1)], grid[min(len(grid) - 1, best + 1)], iterations=6)

    def _summarise(self, pairs: list[PairMotion], translating: bool, fov: float) -> SegmentMotion:
        known = [p for p in pairs if p.kind != "unknown"]
        total = np.eye(3)
        for p in known:
            total = total @ p.rotation
        frames_spanned = max(1, sum(p.frames for p in known))
        euler = Rotation.from_matrix(total).as_euler("xyz", degrees=True)
        moving = [p for p in known if p.kind == "translation"]
        direction = np.zeros(3)
        if translating and moving:
            direction = np.median([p.direction for p in moving], axis=0)
            direction = direction / (np.linalg.norm(direction) + 1e-12)
        return SegmentMotion(
            yaw_deg_per_frame=float(euler[1]) / frames_spanned,
            pitch_deg_per_frame=float(euler[0]) / frames_spanned,
            direction=direction,
            translating_fraction=len(moving) / max(1, len(pairs)),
            static_fraction=sum(p.kind == "static" for p in pairs) / max(1, len(pairs)),
            num_pairs=len(known),
            fov_deg=float(fov),
            pairs=pairs,
        )


def _golden_min(fn, lo: float, hi: float, iterations: int = 10) -> float:
    """Golden-section search for the minimum of a unimodal ``fn`` on [lo, hi]."""
    ratio = (math.sqrt(5) - 1) / 2
    a, b = lo, hi
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = fn(c), fn(d)
    for _ in range(iterations):
        if fc <= fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = fn(c)
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = fn(d)
    return (a + b) / 2

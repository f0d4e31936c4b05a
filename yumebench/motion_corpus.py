"""A validation corpus for instruction following: real photographs moved by exact, known camera motion.

The project's own renderer (``yumebench.synthetic``: a fogged room of value-noise boxes) is a comfort
zone; a metric tuned there does not hold elsewhere. This module renders something else, with other
code, from material the project did not make:

- **real photographs as textures**: scikit-image's bundled photographs (CC0 / public domain: brick,
  gravel and grass surfaces; astronaut, coffee, rocket, chelsea, camera, motorcycle as facades and
  objects), mapped onto streets with facades, far walls, obstacles and a textureless sky at infinity;
- **real equirectangular panoramas** (any folder of them, e.g. the examples of pchen66/panolens.js),
  either turned by exact rotations (everything at infinity) or projected onto proxy geometry (ground
  plane, a cylindrical wall, sky at infinity) so that walking through them gives true parallax;
- the conditions that broke the metric: 30-60 % sky, low resolution and wide short frames,
  nearest-neighbour texture sampling, night, animated water, views pitched +-45 deg, objects crossing
  the view, handheld shake, slow turns, blur / noise / H.264 compression, and a lens with barrel
  distortion (wide and action cameras), under which no rotation maps one view onto the next; and
  turns of 3-10 deg/frame (a car turning a corner at 10 fps), which an 8-frame window turns past;
  frames taller than wide (a phone held upright, 40-60 deg across); a camera rolled about its
  optical axis (held askew, swaying, a drone banking), whose truth includes the roll; and segments
  whose turn tightens or eases and whose step speeds up or slows down (a car entering a bend);
- a smooth non-rigid wobble (``Wobble``): the metric's real input is generated video, whose worlds are
  never quite rigid.

Truth comes from the exact smooth camera path (before shake) through the shared decoder
(``yumebench.poses.decode_action_labels`` with the scale-free ``direction`` rule and the published
rotation threshold), so a segment's label is what the published rule family says of the motion.

Example:
    >>> photos = real_photos()
    >>> video = make_video("street", seed=3, photos=photos)
    >>> video.frames.shape, video.segments[0]["keys"]
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from yumebench.actions import KEYS, MOUSE, Action
from yumebench.poses import decode_action_labels, dominant_action

# Real photographs bundled with scikit-image (``skimage.data``), with their provenance.
PHOTO_SOURCES = {
    "brick": "CC0Textures Bricks25 (CC0), via scikit-image",
    "gravel": "CC0Textures Gravel04 (CC0), via scikit-image",
    "grass": "DeviantArt linolafett Grass-01 (CC0), via scikit-image",
    "astronaut": "NASA, Eileen Collins (public domain), via scikit-image",
    "coffee": "Rachel Michetti, Pikolo Espresso Bar (CC0), via scikit-image",
    "rocket": "SpaceX DSCOVR launch (public domain), via scikit-image",
    "chelsea": "Stefan van der Walt (CC0), via scikit-image",
    "camera": "Lav Varshney (CC0), via scikit-image",
    "motorcycle_left": "Middlebury stereo 2014 motorcycle, via scikit-image",
}
GROUND_PHOTOS = ("gravel", "brick", "grass")
FACADE_PHOTOS = ("astronaut", "coffee", "rocket", "chelsea", "camera", "motorcycle_left", "brick")

# Panoramas known to be mostly dark (night scenes) in the panolens.js examples; used for the night group.
# (louvre and lake are the reserved panoramas' night and water scenes, bench/validation_panoramas.py --set
# reserved; no other folder holds them.)
NIGHT_PANORAMAS = ("golf", "dawn4000x2000", "lamp", "tunnel", "louvre")
WATER_PANORAMAS = ("sunset", "pier", "lake")

# The first seed of each split of the validation corpus: thresholds are chosen on the tuning seeds, and the
# test seeds are only scored (the benches in bench/ take --seeds tune|test).
SEED_BASE = {"tune": 1000, "test": 5000}


def real_photos() -> dict[str, np.ndarray]:
    """The real photographs above as float32 RGB in [0, 1] (needs ``pip install scikit-image``)."""
    try:
        from skimage import data
    except ImportError as e:
        raise ImportError("the validation corpus needs scikit-image: pip install scikit-image") from e
    out = {}
    for name in PHOTO_SOURCES:
        raw = data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(data, name)()
        img = np.asarray(raw, dtype=np.float32) / 255.0
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        out[name] = np.ascontiguousarray(img[..., :3])
    return out


def load_panoramas(folder: str | Path, max_width: int = 4096) -> dict[str, np.ndarray]:
    """Equirectangular panoramas (2:1 images) from a folder, float32 RGB in [0, 1], keyed by stem."""
    import cv2

    out = {}
    for path in sorted(Path(folder).iterdir()):
        if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
            continue
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None or abs(img.shape[1] / img.shape[0] - 2.0) > 0.05:
            continue
        if img.shape[1] > max_width:
            img = cv2.resize(img, (max_width, max_width // 2), interpolation=cv2.INTER_AREA)
        out[path.stem] = cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0
    return out


# ----------------------------------------------------------------------------------------------------
# Texture sampling


class Texture:
    """A tiled image with a mip pyramid; ``sample`` takes continuous texel coordinates and the texel
    footprint of one pixel (texels per pixel) to pick the pyramid level (bilinear) or samples the base
    level at the nearest texel (``nearest``: the aliasing of a cheap renderer)."""

    def __init__(self, image: np.ndarray, sampling: str = "bilinear", wrap: bool = True) -> None:
        import cv2

        if sampling not in ("bilinear", "nearest"):
            raise ValueError(f"sampling {sampling!r}: expected bilinear or nearest")
        self.sampling, self.wrap = sampling, wrap
        self.levels = [np.ascontiguousarray(image, dtype=np.float32)]
        while min(self.levels[-1].shape[:2]) > 8 and len(self.levels) < 8:
            self.levels.append(cv2.pyrDown(self.levels[-1]))

    @property
    def shape(self) -> tuple[int, int]:
        return self.levels[0].shape[:2]

    def sample(self, u: np.ndarray, v: np.ndarray, footprint: np.ndarray | float = 1.0) -> np.ndarray:
        if self.sampling == "nearest":
            return _lookup(self.levels[0], np.floor(u), np.floor(v), self.wrap)
        level = np.clip(np.floor(np.log2(np.maximum(footprint, 1.0))), 0, len(self.levels) - 1).astype(int)
        level = np.broadcast_to(level, u.shape)
        out = np.empty((*u.shape, 3), np.float32)
        for k in np.unique(level):
            m = level == k
            scale = 0.5**k
            # cv2.pyrDown centres texel i of a level on texel 2i of the level below (a 5-tap Gaussian), so
            # texel coordinates scale by 2^-k with no offset. (The box-filter convention, (u + 0.5) / 2^k -
            # 0.5, shifted every level above the base by half a base texel: the texture jumped where the
            # level changed, a non-rigid motion that no camera makes.)
            out[m] = _bilinear(self.levels[k], u[m] * scale, v[m] * scale, self.wrap)
        return out


def _lookup(img: np.ndarray, u: np.ndarray, v: np.ndarray, wrap: bool) -> np.ndarray:
    h, w = img.shape[:2]
    ui = u.astype(np.int64)
    vi = v.astype(np.int64)
    if wrap:
        ui, vi = ui % w, vi % h
    else:
        ui, vi = np.clip(ui, 0, w - 1), np.clip(vi, 0, h - 1)
    return img[vi, ui]


def _bilinear(img: np.ndarray, u: np.ndarray, v: np.ndarray, wrap: bool) -> np.ndarray:
    u0, v0 = np.floor(u), np.floor(v)
    fu, fv = (u - u0)[:, None].astype(np.float32), (v - v0)[:, None].astype(np.float32)
    a = _lookup(img, u0, v0, wrap)
    b = _lookup(img, u0 + 1, v0, wrap)
    c = _lookup(img, u0, v0 + 1, wrap)
    d = _lookup(img, u0 + 1, v0 + 1, wrap)
    return (a * (1 - fu) + b * fu) * (1 - fv) + (c * (1 - fu) + d * fu) * fv


class Panorama:
    """An equirectangular image: direction (OpenCV world axes, y down) -> colour."""

    def __init__(self, image: np.ndarray, heading_deg: float = 0.0) -> None:
        self.texture = Texture(image, "bilinear", wrap=True)
        self.heading = math.radians(heading_deg)

    def colour(self, dirs: np.ndarray, footprint_rad: np.ndarray | float) -> np.ndarray:
        h, w = self.texture.shape
        d = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
        lon = np.arctan2(d[:, 0], d[:, 2]) + self.heading
        lat = np.arcsin(np.clip(-d[:, 1], -1.0, 1.0))
        u = (lon / (2 * math.pi) + 0.5) * w
        v = np.clip((0.5 - lat / math.pi) * h, 0.0, h - 1.001)
        texels = np.asarray(footprint_rad) * w / (2 * math.pi)
        return self.texture.sample(u, v, texels)


# ----------------------------------------------------------------------------------------------------
# Surfaces: each intersects rays and shades its hits


@dataclass
class Plane:
    """A bounded rectangle ``origin + a*u_axis + b*v_axis`` (a in [0, u_len], b in [0, v_len]), textured
    with a photo (``metres_per_texel``) or by a panorama projected from ``projection_centre``.
    ``velocity`` (m/frame) moves it over time: an object crossing the view."""

    origin: np.ndarray
    u_axis: np.ndarray
    v_axis: np.ndarray
    u_len: float
    v_len: float
    texture: Texture | None = None
    metres_per_texel: float = 0.01
    texture_offset: tuple[float, float] = (0.0, 0.0)
    panorama: Panorama | None = None
    projection_centre: np.ndarray = field(default_factory=lambda: np.zeros(3))
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(3))
    ripple: float = 0.0  # amplitude (m) of a time-varying water-like distortion of the texture lookup
    tint: np.ndarray = field(default_factory=lambda: np.ones(3, np.float32))

    def __post_init__(self) -> None:
        self.origin = np.asarray(self.origin, float)
        self.u_axis = np.asarray(self.u_axis, float) / np.linalg.norm(self.u_axis)
        self.v_axis = np.asarray(self.v_axis, float) / np.linalg.norm(self.v_axis)
        self.normal = np.cross(self.u_axis, self.v_axis)

    def intersect(self, origin: np.ndarray, dirs: np.ndarray, frame: int) -> np.ndarray:
        o = self.origin + frame * self.velocity
        denom = dirs @ self.normal
        with np.errstate(divide="ignore", invalid="ignore"):
            t = ((o - origin) @ self.normal) / denom
        hit = origin[None, :] + t[:, None] * dirs - o
        a, b = hit @ self.u_axis, hit @ self.v_axis
        ok = (t > 1e-3) & (a >= 0) & (a <= self.u_len) & (b >= 0) & (b <= self.v_len) & np.isfinite(t)
        return np.where(ok, t, np.inf)

    def shade(self, points: np.ndarray, dirs: np.ndarray, t: np.ndarray, pixel_rad: float, frame: int) -> np.ndarray:
        o = self.origin + frame * self.velocity
        rel = points - o
        a, b = rel @ self.u_axis, rel @ self.v_axis
        if self.ripple:
            phase = 0.35 * frame
            a = a + self.ripple * (np.sin(1.7 * b + phase) + 0.6 * np.sin(2.9 * a - 1.3 * phase + 0.7 * b))
            b = b + self.ripple * (np.cos(2.3 * a - 0.8 * phase) + 0.5 * np.sin(3.7 * b + 1.1 * phase))
        cos = np.abs(dirs @ self.normal) / np.linalg.norm(dirs, axis=1)
        footprint_m = t * pixel_rad / np.maximum(cos, 0.05)
        if self.panorama is not None:
            world = o + a[:, None] * self.u_axis + b[:, None] * self.v_axis
            d = world - self.projection_centre
            dist = np.linalg.norm(d, axis=1)
            colour = self.panorama.colour(d, footprint_m / np.maximum(dist, 1e-3))
        else:
            u = a / self.metres_per_texel + self.texture_offset[0]
            v = b / self.metres_per_texel + self.texture_offset[1]
            colour = self.texture.sample(u, v, footprint_m / self.metres_per_texel)
        return colour * self.tint


@dataclass
class Cylinder:
    """A vertical cylindrical wall of ``radius`` around ``centre`` between heights ``y_top`` and
    ``y_bottom`` (OpenCV y down), textured by a panorama projected from the centre: the distant
    geometry of a real panorama."""

    radius: float
    y_top: float
    y_bottom: float
    panorama: Panorama
    centre: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def intersect(self, origin: np.ndarray, dirs: np.ndarray, frame: int) -> np.ndarray:
        o = origin - self.centre
        a = dirs[:, 0] ** 2 + dirs[:, 2] ** 2
        b = 2 * (o[0] * dirs[:, 0] + o[2] * dirs[:, 2])
        c = o[0] ** 2 + o[2] ** 2 - self.radius**2
        disc = b * b - 4 * a * c
        with np.errstate(divide="ignore", invalid="ignore"):
            t = (-b + np.sqrt(np.maximum(disc, 0))) / (2 * a)  # the far root: the camera is inside
        y = o[1] + t * dirs[:, 1]
        ok = (disc > 0) & (t > 1e-3) & (y >= self.y_top) & (y <= self.y_bottom) & np.isfinite(t)
        return np.where(ok, t, np.inf)

    def shade(self, points: np.ndarray, dirs: np.ndarray, t: np.ndarray, pixel_rad: float, frame: int) -> np.ndarray:
        d = points - self.centre
        return self.panorama.colour(d, t * pixel_rad / np.linalg.norm(d, axis=1))


@dataclass
class Sky:
    """Everything at infinity: a panorama, or a smooth gradient with faint clouds (almost no texture)."""

    panorama: Panorama | None = None
    zenith: tuple[float, float, float] = (0.35, 0.55, 0.85)
    horizon: tuple[float, float, float] = (0.8, 0.85, 0.9)
    clouds: float = 0.03

    def colour(self, dirs: np.ndarray, pixel_rad: float) -> np.ndarray:
        if self.panorama is not None:
            return self.panorama.colour(dirs, pixel_rad)
        d = dirs / np.linalg.norm(dirs, axis=1, keepdims=True)
        up = np.clip(-d[:, 1], 0.0, 1.0)[:, None]
        base = np.asarray(self.horizon, np.float32) * (1 - up) + np.asarray(self.zenith, np.float32) * up
        if self.clouds:
            lon = np.arctan2(d[:, 0], d[:, 2])
            soft = np.sin(3 * lon + 5 * up[:, 0]) * np.sin(7 * up[:, 0] - 2 * lon + 1.0)
            base = base + self.clouds * soft[:, None]
        return base.astype(np.float32)


# ----------------------------------------------------------------------------------------------------
# Cameras and worlds


@dataclass(frozen=True)
class CameraModel:
    """A pinhole camera, or with ``barrel`` > 0 a lens with barrel distortion: the pixel at normalised
    radius r sees the ray at r (1 + barrel r^2) (the inverse of Brown's radial model to first order:
    the EuRoC MAV dataset's cam0, calibrated k1 = -0.28 in its sensor.yaml, is about barrel 0.28)."""

    width: int
    height: int
    fov_deg: float  # horizontal, of the pinhole that has the same focal length
    barrel: float = 0.0

    @property
    def focal(self) -> float:
        return self.width / 2 / math.tan(math.radians(self.fov_deg) / 2)

    def normalised(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates -> the normalised image coordinates (x/z, y/z) of the rays they see."""
        f = self.focal
        x, y = (u - (self.width - 1) / 2) / f, (v - (self.height - 1) / 2) / f
        scale = 1.0 + self.barrel * (x * x + y * y)
        return x * scale, y * scale

    def rays(self) -> np.ndarray:
        v, u = np.mgrid[0 : self.height, 0 : self.width].astype(np.float64)
        x, y = self.normalised(u, v)
        return np.stack([x, y, np.ones_like(u)], -1).reshape(-1, 3)


@dataclass
class World:
    surfaces: list = field(default_factory=list)
    sky: Sky = field(default_factory=Sky)
    exposure: float = 1.0  # < 1: night
    gamma: float = 1.0
    walkable: Callable[[np.ndarray], bool] = lambda p: True  # where a camera path may go
    # Another renderer of this world: (world, c2w, camera, frame) -> RGB (H, W, 3) in [0, 1], the surfaces'
    # colours as ``cast`` returns them, e.g. bench/instruction_following_mitsuba.py's Mitsuba 3 scene.
    # Exposure, gamma and 8-bit quantisation stay here, so the renderers differ only in how they see.
    backend: Callable[..., np.ndarray] | None = None

    def render(
        self, c2w: np.ndarray, camera: CameraModel, frame: int = 0, rays: np.ndarray | None = None
    ) -> np.ndarray:
        if self.backend is not None:
            colour = np.asarray(self.backend(self, c2w, camera, frame), np.float32).reshape(-1, 3)
        else:
            colour = self.cast(c2w, camera, frame, rays)
        colour = np.clip(colour * self.exposure, 0.0, 1.0) ** self.gamma
        return (colour * 255 + 0.5).astype(np.uint8).reshape(camera.height, camera.width, 3)

    def cast(self, c2w: np.ndarray, camera: CameraModel, frame: int = 0, rays: np.ndarray | None = None) -> np.ndarray:
        """The built-in renderer: one ray per pixel, the nearest surface's colour; (H * W, 3) RGB in [0, 1]
        before exposure and gamma."""
        rays = camera.rays() if rays is None else rays
        dirs = rays @ c2w[:3, :3].T
        origin = c2w[:3, 3]
        best_t, best = self._hits(dirs, c2w, camera, frame)
        shaders = self._ordered_surfaces()
        pixel_rad = 1.0 / camera.focal
        colour = np.empty((len(dirs), 3), np.float32)
        sky = best < 0
        if sky.any():
            colour[sky] = self.sky.colour(dirs[sky], pixel_rad)
        for k in np.unique(best[~sky]):
            m = best == k
            pts = origin[None, :] + best_t[m, None] * dirs[m]
            colour[m] = shaders[k].shade(pts, dirs[m], best_t[m], pixel_rad, frame)
        return colour

    def depth(self, c2w: np.ndarray, camera: CameraModel, frame: int = 0) -> np.ndarray:
        """Each pixel's depth (distance along the optical axis) to the nearest surface, inf where it sees
        the sky, NaN where that surface's picture moves on its own (an object crossing, rippling water);
        (H, W). The geometry ``cast`` shades, without its texture: the parallax a camera's motion gives."""
        dirs = camera.rays() @ c2w[:3, :3].T  # the rays' z is 1 in the camera: a ray's t is its depth
        depth, surface = self._hits(dirs, c2w, camera, frame)
        for k, s in enumerate(self._ordered_surfaces()):
            if getattr(s, "ripple", 0.0) or np.any(getattr(s, "velocity", 0.0)):
                depth[surface == k] = np.nan
        return depth.reshape(camera.height, camera.width)

    def _hits(
        self, dirs: np.ndarray, c2w: np.ndarray, camera: CameraModel, frame: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per ray from the camera at ``c2w``, the distance t to the nearest surface (inf: none) and that
        surface's index among the planes then the other surfaces (-1: none), as ``_ordered_surfaces``
        lists them."""
        origin = c2w[:3, 3]
        ordered = self._ordered_surfaces()
        planes = [s for s in ordered if isinstance(s, Plane)]
        others = ordered[len(planes) :]
        best_t, best = np.full(len(dirs), np.inf), np.full(len(dirs), -1)
        if planes:
            boxes = _projected_boxes(planes, c2w, frame)
            arrays = _plane_arrays(planes, origin, frame)
            for idx, (x0, x1, y0, y1) in _tiles(camera):
                near = np.flatnonzero(
                    (boxes[:, 0] <= x1) & (boxes[:, 1] >= x0) & (boxes[:, 2] <= y1) & (boxes[:, 3] >= y0)
                )
                if len(near):
                    t, k = _nearest_planes({n: a[near] for n, a in arrays.items()}, dirs[idx])
                    best_t[idx] = t
                    best[idx] = np.where(k >= 0, near[np.maximum(k, 0)], -1)
        for k, s in enumerate(others, start=len(planes)):
            t = s.intersect(origin, dirs, frame)
            closer = t < best_t
            best_t[closer] = t[closer]
            best[closer] = k
        return best_t, best

    def _ordered_surfaces(self) -> list:
        """The planes first (their hits are found tile by tile), then the other surfaces."""
        return sorted(self.surfaces, key=lambda s: not isinstance(s, Plane))  # stable: each kind keeps its order


def _projected_boxes(planes: list, c2w: np.ndarray, frame: int) -> np.ndarray:
    """Each plane's bounding box (x0, x1, y0, y1) in normalised image coordinates (x/z, y/z); planes
    that reach behind the camera get an infinite box, planes wholly behind it an empty one."""
    boxes = np.empty((len(planes), 4))
    unit = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], float)
    for i, p in enumerate(planes):
        corners = p.origin + frame * p.velocity + unit @ np.stack([p.u_len * p.u_axis, p.v_len * p.v_axis])
        x, y, z = ((corners - c2w[:3, 3]) @ c2w[:3, :3]).T
        if (z <= 1e-3).all():
            boxes[i] = (np.inf, -np.inf, np.inf, -np.inf)
        elif (z <= 1e-3).any():
            boxes[i] = (-np.inf, np.inf, -np.inf, np.inf)
        else:
            boxes[i] = ((x / z).min(), (x / z).max(), (y / z).min(), (y / z).max())
    return boxes


_TILE_CACHE: dict = {}


def _tiles(camera: CameraModel, size: int = 32) -> list:
    """Ray indices of each size x size pixel tile and its bounds in normalised image coordinates."""
    if camera not in _TILE_CACHE:
        index = np.arange(camera.width * camera.height).reshape(camera.height, camera.width)
        tiles = []
        for r in range(0, camera.height, size):
            for c in range(0, camera.width, size):
                block = index[r : r + size, c : c + size]
                h, w = block.shape
                # the tile's pixel corners (a distorted lens bends its edges; the extremes lie on them)
                v, u = np.mgrid[r - 0.5 : r + h, c - 0.5 : c + w]
                x, y = camera.normalised(u, v)
                tiles.append((block.ravel(), (x.min(), x.max(), y.min(), y.max())))
        _TILE_CACHE[camera] = tiles
    return _TILE_CACHE[camera]


def _plane_arrays(planes: list, origin: np.ndarray, frame: int) -> dict[str, np.ndarray]:
    """The planes' parameters stacked, relative to the camera centre ``origin``."""
    o = np.stack([p.origin + frame * p.velocity for p in planes])
    normal = np.stack([p.normal for p in planes])
    u_axis, v_axis = np.stack([p.u_axis for p in planes]), np.stack([p.v_axis for p in planes])
    rel = origin[None, :] - o
    return {
        "normal": normal,
        "u_axis": u_axis,
        "v_axis": v_axis,
        "num": -(rel * normal).sum(1),
        "a0": (rel * u_axis).sum(1),
        "b0": (rel * v_axis).sum(1),
        "u_len": np.array([p.u_len for p in planes]),
        "v_len": np.array([p.v_len for p in planes]),
    }


def _nearest_planes(p: dict[str, np.ndarray], dirs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance, index or -1) of the nearest of the planes ``p`` along each ray: all planes at once
    (an N x P problem of three small matrix products)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = p["num"] / (dirs @ p["normal"].T)
        a = p["a0"] + t * (dirs @ p["u_axis"].T)
        b = p["b0"] + t * (dirs @ p["v_axis"].T)
    ok = (t > 1e-3) & (a >= 0) & (a <= p["u_len"]) & (b >= 0) & (b <= p["v_len"])
    t = np.where(ok, t, np.inf)
    k = np.argmin(t, axis=1)
    tk = t[np.arange(len(dirs)), k]
    return tk, np.where(np.isfinite(tk), k, -1)


def street_world(
    rng: np.random.Generator,
    photos: dict[str, np.ndarray],
    sampling: str = "bilinear",
    facade_height: tuple[float, float] = (4.0, 14.0),
    sky: Sky | None = None,
    camera_height: float = 1.6,
    walk_length: float = 45.0,
    half_width: tuple[float, float] = (5.0, 10.0),
) -> World:
    """A street: a photo-textured ground, facade panels of photographs on both sides, a far wall,
    obstacles (boxes with photo faces) and a sky at infinity above the roofs. The camera may go
    ``walk_length`` metres along it (the facades and the far wall move on with it), between facades
    ``half_width`` metres either side of its middle."""
    half = rng.uniform(*half_width)
    further = walk_length - 45.0  # beyond a walk's street: its facades reach z = 120, its far wall 60-110
    ground_y = camera_height
    tex = {n: Texture(img, sampling) for n, img in photos.items()}
    surfaces: list = []
    ground = GROUND_PHOTOS[rng.integers(len(GROUND_PHOTOS))]
    surfaces.append(
        Plane(
            np.array([-200.0, ground_y, -200.0]),
            np.array([1.0, 0, 0]),
            np.array([0, 0, 1.0]),
            400,
            400,
            tex[ground],
            metres_per_texel=rng.uniform(0.004, 0.012),
            texture_offset=tuple(rng.uniform(0, 512, 2)),
            tint=rng.uniform(0.6, 1.0, 3).astype(np.float32),
        )
    )
    for side in (-1, 1):
        z = -40.0
        while z < 120 + further:
            length = rng.uniform(8, 20)
            height = rng.uniform(*facade_height)
            x = side * (half + rng.uniform(0, 2.0))
            name = FACADE_PHOTOS[rng.integers(len(FACADE_PHOTOS))]
            img_h, img_w = photos[name].shape[:2]
            mpt = max(length / img_w, height / img_h) * rng.uniform(0.4, 1.0)
            # photos read left to right as seen from the street: +z on the left wall, -z on the right
            origin_z, u_axis = (z, np.array([0, 0, 1.0])) if side < 0 else (z + length, np.array([0, 0, -1.0]))
            surfaces.append(
                Plane(
                    np.array([x, ground_y - height, origin_z]),
                    u_axis,
                    np.array([0, 1.0, 0]),
                    length,
                    height,
                    tex[name],
                    metres_per_texel=mpt,
                    texture_offset=tuple(rng.uniform(0, 256, 2)),
                    tint=rng.uniform(0.7, 1.0, 3).astype(np.float32),
                )
            )
            z += length + rng.uniform(0, 3)
    far = FACADE_PHOTOS[rng.integers(len(FACADE_PHOTOS))]
    far_z, far_h = rng.uniform(60, 110) + further, rng.uniform(6, 18)
    surfaces.append(
        Plane(
            np.array([-60.0, ground_y - far_h, far_z]),
            np.array([1.0, 0, 0]),
            np.array([0, 1.0, 0]),
            120,
            far_h,
            tex[far],
            metres_per_texel=rng.uniform(0.03, 0.08),
        )
    )
    for _ in range(rng.integers(3, 7)):
        surfaces += _box(rng, tex, photos, half, ground_y)
    world = World(surfaces, sky or Sky(clouds=rng.uniform(0.0, 0.04)))
    world.walkable = lambda p: abs(p[0]) < half - 3.0 and -30 < p[2] < walk_length
    return world


def _box(rng, tex, photos, half, ground_y) -> list:
    x = rng.choice([-1, 1]) * rng.uniform(half - 2.5, half - 0.6)  # along the walls, off the walkway
    z = rng.uniform(6, 50)
    w, d, h = rng.uniform(0.8, 2.0), rng.uniform(0.8, 3.0), rng.uniform(0.8, 2.5)
    name = FACADE_PHOTOS[rng.integers(len(FACADE_PHOTOS))]
    mpt = max(w, d, h) / max(photos[name].shape[:2])
    top = ground_y - h
    common = dict(texture=tex[name], metres_per_texel=mpt, tint=rng.uniform(0.6, 1.0, 3).astype(np.float32))
    ex, ey, ez = np.eye(3)
    return [
        Plane(np.array([x - w / 2, top, z - d / 2]), ex, ey, w, h, **common),  # front
        Plane(np.array([x - w / 2, top, z + d / 2]), ex, ey, w, h, **common),  # back
        Plane(np.array([x - w / 2, top, z - d / 2]), ez, ey, d, h, **common),  # left side
        Plane(np.array([x + w / 2, top, z - d / 2]), ez, ey, d, h, **common),  # right side
        Plane(np.array([x - w / 2, top, z - d / 2]), ex, ez, w, d, **common),  # roof
    ]


def panorama_world(
    pano: np.ndarray,
    rng: np.random.Generator,
    proxy: bool = True,
    camera_height: float = 1.6,
    ripple: float = 0.0,
) -> World:
    """A real panorama. ``proxy=False``: everything at infinity (only rotation is visible).
    ``proxy=True``: the lower half projected onto the ground plane out to a cylindrical wall (radius
    12-40 m) that carries the horizon band, the sky at infinity above it: walking gives parallax."""
    p = Panorama(pano, heading_deg=rng.uniform(0, 360))
    if not proxy:
        return World([], Sky(panorama=p))
    radius = rng.uniform(15, 40)
    wall_top = -rng.uniform(0.15, 0.6) * radius  # the wall reaches 9-31 deg above the horizon
    surfaces = [
        Plane(
            np.array([-radius, camera_height, -radius]),
            np.array([1.0, 0, 0]),
            np.array([0, 0, 1.0]),
            2 * radius,
            2 * radius,
            panorama=p,
            ripple=ripple,
        ),
        Cylinder(radius, wall_top, camera_height, p),
    ]
    world = World(surfaces, Sky(panorama=p))
    world.walkable = lambda q: math.hypot(q[0], q[2]) < radius / 2
    return world


def add_crossing_objects(
    world: World, rng: np.random.Generator, photos: dict[str, np.ndarray], count: int = 2, camera_height: float = 1.6
) -> None:
    """Photographs standing upright that cross the view (people, cars), 4-15 m ahead, 0.04-0.2 m/frame."""
    for _ in range(count):
        name = FACADE_PHOTOS[rng.integers(len(FACADE_PHOTOS))]
        w, h = rng.uniform(0.8, 2.5), rng.uniform(1.2, 2.2)
        z = rng.uniform(4, 15)
        speed = rng.uniform(0.04, 0.2) * rng.choice([-1, 1])
        x0 = -speed * rng.uniform(10, 60)
        img_h, img_w = photos[name].shape[:2]
        world.surfaces.append(
            Plane(
                np.array([x0, camera_height - h, z]),
                np.array([1.0, 0, 0]),
                np.array([0, 1.0, 0]),
                w,
                h,
                Texture(photos[name]),
                metres_per_texel=max(w / img_w, h / img_h),
                velocity=np.array([speed, 0, rng.uniform(-0.02, 0.02)]),
            )
        )


# ----------------------------------------------------------------------------------------------------
# Camera paths with exact labels


# yaw rates (deg/frame) the paths turn at: a walker's usual turns; slow ones, down to half the published
# rule's threshold; fast ones (a car turning a corner filmed at 10 fps, a generated video that spins)
TURN, SLOW_TURN, FAST_TURN = (0.3, 2.0), (0.03, 0.3), (3.0, 10.0)
RAMP = (0.5, 0.9)  # a ramped segment's speeds go from 1 - d to 1 + d times the drawn ones (or back), d in RAMP
# steps (m/frame): a walker at 16-30 fps; a car at 10 fps (KITTI's odometry sequences drive at about
# 15-45 km/h, 0.4-1.25 m per frame), whose heading drifts slowly as it keeps to its lane
WALK_STEP, DRIVE_STEP, DRIVE_TURN = (0.03, 0.1), (0.4, 1.0), (0.1, 0.4)


@dataclass(frozen=True)
class MotionSpeeds:
    step_m: float = 0.06  # translation per frame
    yaw_deg: float = 1.0  # per frame, about the world's vertical axis (a walker turning)
    pitch_deg: float = 0.5  # per frame, about the camera's own x axis


def _rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def _rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _rot_z(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def walk_path(
    actions: Sequence[Action],
    frames_per_segment: int,
    speeds: MotionSpeeds,
    heading_deg: float = 0.0,
    pitch_deg: float = 0.0,
    start: Sequence[float] = (0.0, 0.0, 0.0),
    ramps: Sequence[tuple[float, float, float, float]] | None = None,
) -> np.ndarray:
    """Camera-to-world poses (OpenCV axes) of a walker: one action per segment, held for
    ``frames_per_segment`` frame pairs. Keys move the camera horizontally along its heading (W/S) and
    sideways (A/D); → turns about the world's vertical axis; ↑ tilts the camera about its own x axis.
    ``ramps`` (one per segment: the step's factor at its first and last pair, the turn's and tilt's at its
    first and last pair) scale the speeds linearly over each segment: a walker or car that speeds up or
    slows down, a turn that tightens or eases."""
    heading, pitch = math.radians(heading_deg), math.radians(pitch_deg)
    pos = np.asarray(start, float).copy()
    poses = []
    per_pair = [a for a in actions for _ in range(frames_per_segment)]
    along = np.linspace(0.0, 1.0, frames_per_segment)
    factors = np.ones((len(per_pair), 2))
    for i, (step0, step1, turn0, turn1) in enumerate(ramps or []):
        span = slice(i * frames_per_segment, (i + 1) * frames_per_segment)
        factors[span] = np.column_stack([step0 + (step1 - step0) * along, turn0 + (turn1 - turn0) * along])
    for k in range(len(per_pair) + 1):
        c2w = np.eye(4)
        c2w[:3, :3] = _rot_y(heading) @ _rot_x(pitch)
        c2w[:3, 3] = pos
        poses.append(c2w)
        if k == len(per_pair):
            break
        forward, strafe, yaw, tilt = per_pair[k].components
        fwd = np.array([math.sin(heading), 0.0, math.cos(heading)])
        right = np.array([math.cos(heading), 0.0, -math.sin(heading)])
        move = forward * fwd + strafe * right
        if forward and strafe:
            move /= math.sqrt(2)
        step, turn = factors[k]
        pos = pos + step * speeds.step_m * move
        heading += turn * yaw * math.radians(speeds.yaw_deg)
        pitch += turn * tilt * math.radians(speeds.pitch_deg)  # ↑ raises the view: rotation about +x lifts z to -y
    return np.stack(poses)


def add_shake(c2w: np.ndarray, rng: np.random.Generator, sigma_deg: float = 0.25) -> np.ndarray:
    """Handheld shake: a smooth zero-mean random rotation (about 0.25 deg rms) on top of each pose."""
    n = len(c2w)
    noise = rng.normal(size=(n + 8, 3))
    kernel = np.hanning(9)
    kernel /= np.sqrt((kernel**2).sum())
    smooth = np.stack([np.convolve(noise[:, i], kernel, mode="valid")[:n] for i in range(3)], 1)
    out = c2w.copy()
    from scipy.spatial.transform import Rotation

    for k in range(n):
        out[k, :3, :3] = c2w[k, :3, :3] @ Rotation.from_rotvec(np.radians(sigma_deg) * smooth[k]).as_matrix()
    return out


def add_roll(
    c2w: np.ndarray,
    rng: np.random.Generator,
    offset_deg: tuple[float, float] = (2.0, 8.0),
    sway_deg: tuple[float, float] = (2.0, 6.0),
    period_frames: tuple[float, float] = (60.0, 150.0),
) -> np.ndarray:
    """The camera turned about its optical axis: a fixed roll (a camera held or mounted askew) plus a
    slow sway (a walker's hand, a drone banking), ``offset + amplitude sin(2 pi k / period + phase)``
    at frame k, each drawn from its range (the offset's sign too). Unlike shake, this is the camera's
    true path: the truth is decoded from it. The defaults reach 14 deg and 0.6 deg/frame."""
    offset = rng.uniform(*offset_deg) * rng.choice([-1.0, 1.0])
    amplitude, period, phase = rng.uniform(*sway_deg), rng.uniform(*period_frames), rng.uniform(0, 2 * np.pi)
    out = c2w.copy()
    for k in range(len(c2w)):
        out[k, :3, :3] = c2w[k, :3, :3] @ _rot_z(
            math.radians(offset + amplitude * math.sin(2 * math.pi * k / period + phase))
        )
    return out


# A walker's gait (Orendurff et al., J. Rehabil. Res. Dev. 41(6A):829-834, 2004: the body's centre of mass rises
# and falls 2.7-4.8 cm peak to peak once per step and sways 3.9-7.0 cm sideways once per stride, at
# 0.7-1.6 m/s). The step period is drawn in frames from 6 to 18: 1.7-2.0 steps/s filmed at 12-30 fps.
GAIT_BOB_M, GAIT_SWAY_M, GAIT_PERIOD_FRAMES = (0.01, 0.025), (0.01, 0.035), (6.0, 18.0)
GAIT_PITCH_DEG, GAIT_ROLL_DEG = (0.2, 0.8), (0.3, 1.0)


def add_gait(c2w: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A walking camera's bob: once per step the camera rises and falls (``GAIT_BOB_M``) and nods
    (``GAIT_PITCH_DEG``), once per stride (two steps) it sways sideways (``GAIT_SWAY_M``) and rolls
    (``GAIT_ROLL_DEG``); amplitudes drawn from their ranges, the step period from
    ``GAIT_PERIOD_FRAMES``. Only while the path moves: the bob fades in and out over a few frames
    where the walker starts or stops (a turn on the spot does not bob). Like shake it is not part of
    the truth, which is decoded from the smooth path (a walker's keys say where they go, not how the
    head bobs on the way); unlike shake it moves the camera, not only turns it."""
    n = len(c2w)
    bob, sway = rng.uniform(*GAIT_BOB_M), rng.uniform(*GAIT_SWAY_M)
    nod, roll = np.radians(rng.uniform(*GAIT_PITCH_DEG)), np.radians(rng.uniform(*GAIT_ROLL_DEG))
    period, phase = rng.uniform(*GAIT_PERIOD_FRAMES), rng.uniform(0, 2 * np.pi)
    steps = np.linalg.norm(np.diff(c2w[:, :3, 3], axis=0), axis=1) > 1e-9
    walking = np.concatenate([steps, steps[-1:]]).astype(float)  # frame k walks where its pair to k+1 does
    ramp = np.hanning(7)
    envelope = np.convolve(walking, ramp / ramp.sum(), mode="same")
    up = np.array([0.0, -1.0, 0.0])  # OpenCV axes: the world's y points down
    out = c2w.copy()
    for k in range(n):
        step_phase = 2 * np.pi * k / period + phase
        right = c2w[k, :3, 0] * np.array([1.0, 0.0, 1.0])  # the camera's right, level
        right /= max(np.linalg.norm(right), 1e-9)
        e = envelope[k]
        out[k, :3, 3] = c2w[k, :3, 3] + e * (bob * np.cos(step_phase) * up + sway * np.sin(step_phase / 2) * right)
        nod_and_roll = _rot_x(e * nod * np.sin(step_phase)) @ _rot_z(e * roll * np.sin(step_phase / 2))
        out[k, :3, :3] = c2w[k, :3, :3] @ nod_and_roll
    return out


def segment_truth(c2w: np.ndarray, frames_per_segment: int, num_segments: int) -> list[dict]:
    """Each segment's label: the dominant per-pair label of the exact path under the shared decoder
    (scale-free direction rule, published rotation threshold of 1e-3 rad per frame)."""
    labels = decode_action_labels(c2w, translation_rule="direction")
    out = []
    for s in range(num_segments):
        a = dominant_action(labels[s * frames_per_segment : (s + 1) * frames_per_segment])
        out.append(
            {"start": s * frames_per_segment, "end": (s + 1) * frames_per_segment + 1, "keys": a.keys, "mouse": a.mouse}
        )
    return out


# ----------------------------------------------------------------------------------------------------
# Degradations that real and generated video carry


def h264_roundtrip(frames: np.ndarray, crf: int = 32) -> np.ndarray:
    """Encode with libx264 at ``crf`` and decode again (real compression artefacts)."""
    import tempfile

    from yumebench.video import read_frames, write_mp4

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "v.mp4"
        write_mp4(path, frames, 16, crf=crf)
        decoded, _ = read_frames(path)
    return decoded[:, : frames.shape[1], : frames.shape[2]]


# The corpus's wobble: each wave's amplitude as a share of the frame's width (0.3-1 px at 320x180)
WOBBLE_AMPLITUDE_FRAC = (0.001, 0.003)


@dataclass
class Wobble:
    """A smooth displacement field that drifts over time: the non-rigid wobble of generated video, whose
    worlds are never quite rigid. Per image axis, a sum of plane waves (``waves``, one row each: its
    cycles across the frame, phase, period in frames and amplitude in pixels); ``draw`` makes two per
    axis of 0.5-2 cycles, an amplitude of ``amplitude_frac`` of the width and a period in ``periods``."""

    waves: np.ndarray  # (K, 6): axis (0 x, 1 y), cycles across x, cycles across y, phase, period, amplitude

    @classmethod
    def draw(
        cls, rng: np.random.Generator, width: int, amplitude_frac=WOBBLE_AMPLITUDE_FRAC, periods=(16.0, 64.0)
    ) -> Wobble:
        rows = []
        for axis in (0, 1):
            for _ in range(2):
                cycles = rng.uniform(0.5, 2.0, 2) * rng.choice([-1.0, 1.0], 2)
                amplitude = rng.uniform(*amplitude_frac) * width
                rows.append([axis, *cycles, rng.uniform(0, 2 * np.pi), rng.uniform(*periods), amplitude])
        return cls(np.array(rows))

    def field(self, height: int, width: int, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """(dx, dy) in pixels at every pixel of ``frame``."""
        return self._field(*np.mgrid[0:height, 0:width].astype(np.float32), frame)

    def _field(self, yy: np.ndarray, xx: np.ndarray, frame: int) -> tuple[np.ndarray, np.ndarray]:
        height, width = yy.shape
        d = [np.zeros((height, width), np.float32), np.zeros((height, width), np.float32)]
        for axis, cx, cy, phase, period, amplitude in self.waves:
            arg = 2 * np.pi * (cx * xx / width + cy * yy / height + frame / period) + phase
            d[int(axis)] += np.float32(amplitude) * np.sin(arg).astype(np.float32)
        return d[0], d[1]

    def apply(self, frames: np.ndarray) -> np.ndarray:
        import cv2

        yy, xx = np.mgrid[0 : frames.shape[1], 0 : frames.shape[2]].astype(np.float32)  # once for all frames
        out = []
        for i, frame in enumerate(frames):
            dx, dy = self._field(yy, xx, i)
            out.append(cv2.remap(frame, xx + dx, yy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
        return np.stack(out)


def _keyed_logo() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's logo (RGB in [0, 1]) and its alpha: its white background keyed out."""
    from skimage import data

    logo = data.logo()[..., :3].astype(np.float32) / 255.0
    return logo, (logo.min(axis=2) < 0.9).astype(np.float32)


def add_overlay(frames: np.ndarray, rng: np.random.Generator, fps: int = 16) -> np.ndarray:
    """What videos carry fixed to the frame, as uploaded to the web: a channel's logo (scikit-image's,
    10-22 % of the width, 50-100 % opaque) in a corner, and each in half of the videos a burnt-in clock
    that ticks once a second, a caption, and letterbox bars (6-12 % of the height each); then H.264."""
    import cv2

    n, h, w = frames.shape[:3]
    out = frames.astype(np.float32) / 255.0
    top = bottom = 0
    if rng.random() < 0.5:
        top = bottom = int(round(rng.uniform(0.06, 0.12) * h))
        out[:, :top] = 0.0
        out[:, h - bottom :] = 0.0
    pad = int(round(rng.uniform(0.02, 0.04) * w))
    corners = rng.permutation(4)
    logo, alpha = _keyed_logo()
    size = max(8, int(round(rng.uniform(0.10, 0.22) * w)))
    logo = cv2.resize(logo, (size, size), interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(alpha, (size, size), interpolation=cv2.INTER_AREA)[..., None] * rng.uniform(0.5, 1.0)

    def corner(k: int, box_w: int, box_h: int) -> tuple[int, int]:
        x = pad if k % 2 == 0 else w - pad - box_w
        y = top + pad if k < 2 else h - bottom - pad - box_h
        return x, y

    x, y = corner(corners[0], size, size)
    out[:, y : y + size, x : x + size] = (1 - alpha) * out[:, y : y + size, x : x + size] + alpha * logo
    scale = h / 360
    texts = []
    if rng.random() < 0.5:
        start = int(rng.integers(0, 3600))  # seconds past noon at the first frame

        def clock(i: int) -> str:
            now = start + i // fps
            return f"12:{now // 60 % 60:02d}:{now % 60:02d}"

        texts.append((corners[1], clock))
    if rng.random() < 0.5:
        texts.append((corners[2], lambda i: "yume walk"))
    frames8 = np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)
    for k, text in texts:
        (tw, th), _ = cv2.getTextSize(text(0), cv2.FONT_HERSHEY_SIMPLEX, scale, max(1, int(2 * scale)))
        x, y = corner(k, tw, th)
        for i in range(n):
            img = np.ascontiguousarray(frames8[i])
            for colour, thick in (((0, 0, 0), 3), ((255, 255, 255), 1)):
                cv2.putText(
                    img, text(i), (x, y + th), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, max(1, int(thick * scale))
                )
            frames8[i] = img
    return h264_roundtrip(frames8, crf=int(rng.integers(23, 31)))


def add_bonnet(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A car's bonnet fixed to the bottom of the frame, as dashcams film one (Udacity's test_video.mp4
    shows it over the bottom 14 % of the height): 10-16 % of the height at the middle, its edge curving
    down towards the sides, painted in a body colour with the skyline mirrored in it (the first frame's
    band above the horizon, flipped upside down, squeezed into the bonnet and softened), then H.264."""
    import cv2

    h, w = frames.shape[1:3]
    across = (np.arange(w) - (w - 1) / 2) / (w / 2)
    edge = h * (1.0 - rng.uniform(0.10, 0.16) * (1.0 - rng.uniform(0.2, 0.5) * across**2))
    top = int(edge.min())
    under = np.arange(h)[:, None] >= edge[None, :]
    skyline = frames[0][int(0.15 * h) : int(0.5 * h)][::-1].astype(np.float32)
    mirrored = cv2.GaussianBlur(cv2.resize(skyline, (w, h - top)), (0, 0), rng.uniform(1.0, 2.0) * w / 1240)
    paint = np.zeros((h, w, 3), np.float32)
    paint[top:] = rng.uniform(20, 90, 3) + rng.uniform(0.25, 0.45) * mirrored
    out = frames.copy()
    out[:, under] = np.clip(paint[under] + 0.5, 0, 255).astype(np.uint8)
    return h264_roundtrip(out, crf=int(rng.integers(23, 31)))


def degrade(frames: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    import cv2

    if kind == "overlay":
        return add_overlay(frames, rng)
    if kind == "bonnet":
        return add_bonnet(frames, rng)
    if kind == "wobble":
        return Wobble.draw(rng, frames.shape[2]).apply(frames)
    if kind == "blur":
        sigma = rng.uniform(1.0, 2.0) * frames.shape[2] / 640
        return np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in frames])
    if kind == "noise":
        noisy = frames.astype(np.float32) + rng.normal(0, rng.uniform(5, 12), size=frames.shape)
        return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
    if kind == "compression":
        return h264_roundtrip(frames, crf=int(rng.integers(30, 38)))
    if kind == "flicker":
        gain = rng.uniform(0.8, 1.2, size=(len(frames), 1, 1, 1))
        return np.clip(frames.astype(np.float32) * gain + 0.5, 0, 255).astype(np.uint8)
    raise ValueError(f"unknown degradation {kind!r}")


# ----------------------------------------------------------------------------------------------------
# Conditions


@dataclass
class CorpusVideo:
    name: str
    condition: str
    frames: np.ndarray  # (T, H, W, 3) uint8
    segments: list[dict]  # truth: {"start", "end", "keys", "mouse"}
    c2w: np.ndarray  # the exact smooth path (truth) the frames were rendered along (before shake)
    meta: dict = field(default_factory=dict)


ALL_PAIRS = [Action(k, m) for k in KEYS for m in MOUSE]
PURE_ROTATIONS = [Action("None", m) for m in MOUSE if m != "·"]
DRIVING = [Action("W", m) for m in ("←", "→", "·")]  # a car keeps level and drives on


def _actions(rng: np.random.Generator, pool: Sequence[Action], n: int) -> list[Action]:
    return [pool[i] for i in rng.integers(0, len(pool), n)]


@dataclass
class ConditionSpec:
    """How one condition's videos are made."""

    group: str
    size: tuple[int, int]  # (height, width)
    builder: Callable[..., CorpusVideo]
    needs_panoramas: bool = False
    description: str = ""


def _render(world: World, camera: CameraModel, c2w: np.ndarray) -> np.ndarray:
    rays = camera.rays()
    return np.stack([world.render(m, camera, k, rays) for k, m in enumerate(c2w)])


def rolling_shutter_poses(c2w: np.ndarray, readout: float, bands: int) -> np.ndarray:
    """(n, bands, 4, 4): the pose each band of lines of each frame is read at, for a sensor that reads
    its lines one after another over ``readout`` of the frame interval (a phone's CMOS sensor: 0.3-0.9).
    Band b of frame k is read at time k + readout (b + 0.5) / bands, between pose k and k + 1 (rotation
    slerped, position interpolated; the last frame carries on the motion of the one before)."""
    from scipy.spatial.transform import Rotation, Slerp

    n = len(c2w)
    times = np.arange(n)[:, None] + readout * (np.arange(bands) + 0.5)[None, :] / bands
    # one more pose past the end, the last frame pair's motion repeated
    step = c2w[-1] @ np.linalg.inv(c2w[-2])
    path = np.concatenate([c2w, (step @ c2w[-1])[None]])
    slerp = Slerp(np.arange(n + 1), Rotation.from_matrix(path[:, :3, :3]))
    out = np.tile(np.eye(4), (n, bands, 1, 1))
    out[..., :3, :3] = slerp(times.ravel()).as_matrix().reshape(n, bands, 3, 3)
    for axis in range(3):
        out[..., axis, 3] = np.interp(times, np.arange(n + 1), path[:, axis, 3])
    return out


def _render_rolling(world: World, camera: CameraModel, c2w: np.ndarray, readout: float, rows: bool) -> np.ndarray:
    """Frames read line by line (``rolling_shutter_poses``): along the rows (top to bottom), or along the
    columns (left to right: a phone's sensor held upright). Bands of about 12 lines, each rendered at its
    own pose: a 10 deg/frame turn read over 0.8 of a frame steps by about 3 px from band to band at
    320x180, where a sensor shears smoothly; with bands of 3 lines (4x the rendering) two tuning videos
    of street-fast-turn-rolling-shutter read no better (1 and 0 of 3 segments right, against 1 and 1):
    the steps are not what confuses the estimator."""
    lines = camera.height if rows else camera.width
    bands = max(1, lines // 12)
    poses = rolling_shutter_poses(c2w, readout, bands)
    edges = np.linspace(0, lines, bands + 1).round().astype(int)
    rays = camera.rays()
    out = np.empty((len(c2w), camera.height, camera.width, 3), np.uint8)
    for k in range(len(c2w)):
        for b in range(bands):
            frame = world.render(poses[k, b], camera, k, rays)
            band = slice(edges[b], edges[b + 1])
            if rows:
                out[k, band] = frame[band]
            else:
                out[k, :, band] = frame[:, band]
    return out


def _supersampled(world: World, camera: CameraModel, c2w: np.ndarray, factor: int = 2) -> np.ndarray:
    """Render at ``factor`` x the size and area-downsample, as a camera integrates over its pixels."""
    import cv2

    big = replace(camera, width=camera.width * factor, height=camera.height * factor)  # the same lens
    frames = _render(world, big, c2w)
    return np.stack([cv2.resize(f, (camera.width, camera.height), interpolation=cv2.INTER_AREA) for f in frames])


def make_video(
    condition: str,
    seed: int,
    photos: dict[str, np.ndarray] | None = None,
    panoramas: dict[str, np.ndarray] | None = None,
    frames_per_segment: int = 32,
    num_segments: int = 3,
    size: tuple[int, int] | None = None,
    backend: Callable[..., np.ndarray] | None = None,
) -> CorpusVideo:
    """One video of ``condition`` (see ``CONDITIONS``); deterministic in ``seed``. ``backend`` renders
    it instead of the built-in renderer (``World.backend``): the same world, path and truth, seen by
    another renderer; it draws no random numbers."""
    if condition not in CONDITIONS:
        raise KeyError(f"unknown condition {condition!r}; known: {', '.join(CONDITIONS)}")
    spec = CONDITIONS[condition]
    if spec.needs_panoramas and not panoramas:
        raise ValueError(f"condition {condition!r} needs real panoramas (load_panoramas(folder))")
    rng = np.random.default_rng([seed, sum(map(ord, condition))])
    return spec.builder(
        condition=condition,
        rng=rng,
        photos=photos if photos is not None else real_photos(),
        panoramas=panoramas or {},
        n=frames_per_segment,
        segs=num_segments,
        size=size or spec.size,
        backend=backend,
    )


def _speeds(
    rng: np.random.Generator, turn: tuple[float, float] = TURN, step: tuple[float, float] = WALK_STEP
) -> MotionSpeeds:
    yaw = rng.uniform(*turn)
    return MotionSpeeds(step_m=rng.uniform(*step), yaw_deg=yaw, pitch_deg=rng.uniform(0.2, 0.6))


def _finish(name, condition, rng, frames, c2w, n, segs, meta) -> CorpusVideo:
    return CorpusVideo(f"{condition}-{name}", condition, frames, segment_truth(c2w, n, segs), c2w, meta)


def _plan(
    rng, world, pool, n, segs, *, turn=TURN, step=WALK_STEP, pitch=(-8, 8), heading=(-25, 25), start_box=1.0, ramp=None
):
    """Actions, speeds and the exact path, redrawn until the path stays where the world allows and
    the view stays within 60 deg of the horizon (35 deg unless the condition is pitched). ``ramp`` (a
    range): each segment's step and turn change linearly from 1 - d to 1 + d times their speed, or from
    1 + d to 1 - d, d drawn from the range for each (``walk_path``'s ramps)."""
    limit = 60.0 if max(abs(pitch[0]), abs(pitch[1])) > 20 else 35.0
    for _ in range(200):
        actions = _actions(rng, pool, segs)
        speeds = _speeds(rng, turn, step)
        start_pitch = rng.uniform(*pitch)
        start = (rng.uniform(-start_box, start_box), 0.0, rng.uniform(-start_box, start_box))
        ramps = None
        if ramp is not None:
            d = rng.uniform(*ramp, size=(segs, 2)) * rng.choice([-1.0, 1.0], size=(segs, 2))
            ramps = [(1 - a, 1 + a, 1 - b, 1 + b) for a, b in d]
        c2w = walk_path(actions, n, speeds, rng.uniform(*heading), start_pitch, start, ramps)
        view_pitch = np.degrees(np.arcsin(np.clip(-c2w[:, 1, 2], -1, 1)))
        if np.abs(view_pitch).max() <= limit and all(world.walkable(p) for p in c2w[:, :3, 3]):
            return c2w, speeds, start_pitch
    raise RuntimeError("no camera path fits this world; widen it")


def _capture(
    world,
    camera,
    c2w,
    rng,
    *,
    shake=False,
    night=False,
    degradation=None,
    supersample=False,
    night_exposure=(0.3, 0.5),
    readout=0.0,
    gait=False,
):
    """Render along the path (with shake and a walker's gait on top if asked). Night: dark (exposure
    0.3-0.5, gamma 1.3, a lit street is dim but visible) with sensor noise. ``readout`` > 0: a rolling
    shutter reading its lines over that fraction of the frame interval, along the rows, or along the
    columns where the frame is taller than wide (a phone held upright reads its sensor's rows across the
    picture)."""
    render_path = add_shake(c2w, rng) if shake else c2w
    render_path = add_gait(render_path, rng) if gait else render_path
    if night:
        world.exposure, world.gamma = rng.uniform(*night_exposure), 1.3
    if readout:
        frames = _render_rolling(world, camera, render_path, readout, rows=camera.width >= camera.height)
    elif supersample:
        frames = _supersampled(world, camera, render_path)
    else:
        frames = _render(world, camera, render_path)
    if night:
        frames = degrade(frames, "noise", rng)
    if degradation:
        frames = degrade(frames, degradation, rng)
    return frames


def _film(world, c2w, rng, size, *, fov, barrel, roll, rolling, **capture) -> tuple[np.ndarray, np.ndarray, dict]:
    """The planned path filmed: rolled about the optical axis where ``roll``, by a camera of ``size``
    (``_camera``), through a rolling shutter whose readout is drawn from the range ``rolling`` where one
    is given (no draw otherwise: the other conditions keep their videos); ``capture`` goes to
    ``_capture``. (The path as filmed, the frames, the camera's meta fields.)"""
    c2w = add_roll(c2w, rng) if roll else c2w
    camera = _camera(rng, size, fov, barrel)
    readout = rng.uniform(*rolling) if rolling else 0.0
    frames = _capture(world, camera, c2w, rng, readout=readout, **capture)
    return c2w, frames, {"fov_deg": camera.fov_deg, "barrel": camera.barrel, "readout": readout}


def _street(
    condition,
    rng,
    photos,
    panoramas,
    n,
    segs,
    size,
    *,
    sampling="bilinear",
    pool=ALL_PAIRS,
    pitch=(-8, 8),
    facade=(4.0, 14.0),
    turn=TURN,
    step=WALK_STEP,
    heading=(-25, 25),
    walk_length=45.0,
    half_width=(5.0, 10.0),
    shake=False,
    night=False,
    objects=0,
    degradation=None,
    fov=None,
    supersample=False,
    barrel=None,
    roll=False,
    rolling=None,
    gait=False,
    ramp=None,
    backend=None,
) -> CorpusVideo:
    world = street_world(rng, photos, sampling, facade_height=facade, walk_length=walk_length, half_width=half_width)
    world.backend = backend
    if objects:
        add_crossing_objects(world, rng, photos, objects)
    c2w, speeds, start_pitch = _plan(
        rng, world, pool, n, segs, turn=turn, step=step, pitch=pitch, heading=heading, ramp=ramp
    )
    c2w, frames, camera_meta = _film(
        world,
        c2w,
        rng,
        size,
        fov=fov,
        barrel=barrel,
        roll=roll,
        rolling=rolling,
        shake=shake,
        gait=gait,
        night=night,
        degradation=degradation,
        supersample=supersample,
    )
    meta = {**camera_meta, "speeds": speeds.__dict__, "start_pitch_deg": start_pitch}
    return _finish(f"{rng.integers(1 << 30)}", condition, rng, frames, c2w, n, segs, meta)


def _camera(
    rng: np.random.Generator, size: tuple[int, int], fov: float | tuple[float, float] | None, barrel: tuple | None
) -> CameraModel:
    """A camera of ``size`` (height, width); its horizontal FOV ``fov``, drawn from 55-95 deg where not
    given or from the range where ``fov`` is one; barrel distortion drawn from the range ``barrel`` where
    one is given (no draw otherwise: the other conditions keep their videos)."""
    fov = (55.0, 95.0) if fov is None else fov
    fov_deg = float(fov) if isinstance(fov, int | float) else rng.uniform(*fov)
    return CameraModel(size[1], size[0], fov_deg, rng.uniform(*barrel) if barrel else 0.0)


def _pano(
    condition,
    rng,
    photos,
    panoramas,
    n,
    segs,
    size,
    *,
    proxy=True,
    pool=ALL_PAIRS,
    names=None,
    pitch=(-8, 8),
    turn=TURN,
    shake=False,
    ripple=0.0,
    objects=0,
    degradation=None,
    fov=None,
    night=False,
    barrel=None,
    roll=False,
    rolling=None,
    gait=False,
    ramp=None,
    backend=None,
) -> CorpusVideo:
    # the night panoramas are mostly black: only the night condition uses them
    names = [k for k in (names or sorted(set(panoramas) - set(NIGHT_PANORAMAS))) if k in panoramas] or sorted(panoramas)
    name = names[rng.integers(len(names))]
    world = panorama_world(panoramas[name], rng, proxy=proxy, ripple=ripple)
    world.backend = backend
    if objects:
        add_crossing_objects(world, rng, photos, objects)
    c2w, speeds, start_pitch = _plan(rng, world, pool, n, segs, turn=turn, pitch=pitch, heading=(0, 360), ramp=ramp)
    c2w, frames, camera_meta = _film(
        world,
        c2w,
        rng,
        size,
        fov=fov,
        barrel=barrel,
        roll=roll,
        rolling=rolling,
        shake=shake,
        gait=gait,
        night=night,
        degradation=degradation,
        night_exposure=(0.6, 0.9),
    )
    meta = {"panorama": name, **camera_meta, "speeds": speeds.__dict__, "start_pitch_deg": start_pitch}
    return _finish(f"{name}-{rng.integers(1 << 30)}", condition, rng, frames, c2w, n, segs, meta)


def _static(condition, rng, photos, panoramas, n, segs, size, *, use_pano=False, **options) -> CorpusVideo:
    """A camera at rest (``options``: the builder's, e.g. ``objects``, ``backend``), H.264-compressed."""
    make = _pano if use_pano and panoramas else _street
    still = [Action("None", "·")]
    return make(condition, rng, photos, panoramas, n, segs, size, pool=still, degradation="compression", **options)


def _textureless(condition, rng, photos, panoramas, n, segs, size, backend=None) -> CorpusVideo:
    """Nothing to track: a smooth sky (faint clouds) or black frames; the camera turns anyway."""
    if rng.random() < 0.5:
        world = World([], Sky(clouds=0.0), backend=backend)
    else:
        world = World([], Sky(zenith=(0, 0, 0), horizon=(0.01, 0.01, 0.01), clouds=0.0), backend=backend)
    actions = _actions(rng, PURE_ROTATIONS, segs)
    c2w = walk_path(actions, n, _speeds(rng), rng.uniform(0, 360), rng.uniform(5, 25))
    camera = CameraModel(size[1], size[0], rng.uniform(55, 95))
    frames = degrade(_render(world, camera, c2w), "compression", rng)
    video = _finish(f"{rng.integers(1 << 30)}", condition, rng, frames, c2w, n, segs, {"fov_deg": camera.fov_deg})
    for s in video.segments:
        s["undetermined"] = True  # the only right answer: the frames carry no evidence
    return video


def _spec(group, size, builder, needs=False, desc="", **kw) -> ConditionSpec:
    def build(**args):
        return builder(**args, **kw)

    return ConditionSpec(group, size, build, needs, desc)


LOW, MID, HD, WIDE = (144, 256), (180, 320), (544, 960), (376, 1240)
# A phone held upright: frames taller than wide, 40-60 deg across (a phone's main camera is about 65-70
# deg across its long side, so about 40 across its short one; 60 covers its wider modes).
PORTRAIT, PORTRAIT_HD, PORTRAIT_FOV = (320, 180), (960, 544), (40.0, 60.0)
# A rolling shutter's readout time as a fraction of the frame interval: phones read a frame in about
# 10-30 ms (Forssen & Ringaby, CVPR 2010, measured an iPhone 3GS at 30 ms; newer sensors are faster),
# 30-90 % of a 30 fps frame interval.
READOUT = (0.3, 0.9)

# a car on a street: 0.4-1 m a frame, level, turning gently
DRIVE = dict(
    pool=DRIVING,
    step=DRIVE_STEP,
    turn=DRIVE_TURN,
    pitch=(-3, 3),
    heading=(-3, 3),
    walk_length=140.0,
    half_width=(10.0, 16.0),
)

CONDITIONS: dict[str, ConditionSpec] = {
    # real photographs mapped into outdoor streets (no downloads: scikit-image's photographs)
    "street": _spec("street", MID, _street, desc="photo facades, 30-60 % sky, all 81 actions"),
    "street-open-sky": _spec("street", MID, _street, facade=(2.0, 5.0), pitch=(0, 12), desc="low facades, mostly sky"),
    "street-nearest-256x144": _spec(
        "low-res", LOW, _street, sampling="nearest", desc="nearest-neighbour textures at 256x144"
    ),
    "street-256x144": _spec("low-res", LOW, _street, supersample=True, desc="256x144, supersampled"),
    "street-544x960": _spec("hd", HD, _street, desc="544x960"),
    "street-1240x376": _spec("wide", WIDE, _street, fov=82.0, desc="1240x376, 82 deg"),
    "street-rotation": _spec("rotation", MID, _street, pool=PURE_ROTATIONS, desc="pure rotations"),
    "street-night": _spec("night", MID, _street, night=True, desc="dark, gamma, sensor noise"),
    "street-pitched": _spec("pitched", MID, _street, pitch=(-45, -30), desc="looking 30-45 deg down"),
    "street-pitched-up": _spec("pitched", MID, _street, pitch=(30, 45), desc="looking 30-45 deg up"),
    "street-objects": _spec("objects", MID, _street, objects=3, desc="photographs crossing the view"),
    "street-shake": _spec("shake", MID, _street, shake=True, desc="handheld shake"),
    "street-gait": _spec("gait", MID, _street, gait=True, desc="a walker's bob, sway, nod and roll"),
    "street-slow-turn": _spec("slow-turn", MID, _street, turn=SLOW_TURN, desc="turns of 0.03-0.3 deg/frame"),
    "street-fast-turn": _spec("fast-turn", MID, _street, turn=FAST_TURN, desc="turns of 3-10 deg/frame"),
    "street-blur": _spec("degraded", MID, _street, degradation="blur"),
    "street-noise": _spec("degraded", MID, _street, degradation="noise"),
    "street-h264": _spec("degraded", MID, _street, degradation="compression"),
    "street-flicker": _spec("degraded", MID, _street, degradation="flicker"),
    "street-distorted": _spec("distorted", MID, _street, barrel=(0.05, 0.3), desc="barrel lens distortion"),
    "street-roll": _spec("roll", MID, _street, roll=True, desc="camera rolled 2-8 deg, swaying 2-6 deg more"),
    "street-portrait": _spec("portrait", PORTRAIT, _street, fov=PORTRAIT_FOV, desc="180x320 upright, 40-60 deg across"),
    # generated video is never quite rigid: a smooth wobble of 0.3-1 px per wave (four waves) at 320x180
    "street-wobble": _spec("wobble", MID, _street, degradation="wobble", desc="smooth non-rigid wobble"),
    # a logo, a clock, a caption and letterbox bars fixed to the frame, as uploaded to the web
    "street-overlay": _spec("overlay", MID, _street, degradation="overlay", desc="logo, clock, letterbox"),
    "static": _spec("static", MID, _static, desc="camera at rest, H.264"),
    "static-objects": _spec("static", MID, _static, objects=3, desc="camera at rest, objects crossing"),
    "textureless": _spec("undetermined", MID, _textureless, desc="sky only or black: no evidence"),
    # real panoramas (a folder of equirectangular images, e.g. pchen66/panolens.js examples)
    "pano-rotation": _spec("pano", HD, _pano, True, proxy=False, pool=PURE_ROTATIONS, desc="exact rotations"),
    "pano-rotation-256x144": _spec("pano", LOW, _pano, True, proxy=False, pool=PURE_ROTATIONS),
    "pano-rotation-1240x376": _spec("pano", WIDE, _pano, True, proxy=False, pool=PURE_ROTATIONS, fov=82.0),
    "pano-walk": _spec("pano", MID, _pano, True, desc="ground + wall proxy: parallax"),
    "pano-walk-544x960": _spec("pano", HD, _pano, True),
    "pano-pitched": _spec("pano", MID, _pano, True, pitch=(-45, -30)),
    "pano-slow-turn": _spec("pano", HD, _pano, True, proxy=False, turn=SLOW_TURN, pool=PURE_ROTATIONS),
    "pano-fast-turn": _spec("fast-turn", MID, _pano, True, turn=FAST_TURN, desc="walks and turns of 3-10 deg/frame"),
    "pano-night": _spec("pano-night", MID, _pano, True, names=NIGHT_PANORAMAS),
    "pano-water": _spec("pano-water", MID, _pano, True, names=WATER_PANORAMAS, ripple=0.08),
    "pano-shake": _spec("pano", MID, _pano, True, shake=True),
    "pano-walk-gait": _spec("gait", MID, _pano, True, gait=True),
    "pano-rotation-distorted": _spec(
        "distorted", MID, _pano, True, proxy=False, pool=PURE_ROTATIONS, barrel=(0.05, 0.3), desc="exact rotations"
    ),
    "pano-objects": _spec("pano", MID, _pano, True, objects=3),
    "pano-rotation-wobble": _spec(
        "wobble", MID, _pano, True, proxy=False, pool=PURE_ROTATIONS, degradation="wobble", desc="exact rotations"
    ),
    "pano-static": _spec("static", MID, _static, True, use_pano=True),
    "pano-walk-roll": _spec("roll", MID, _pano, True, roll=True),
    "pano-walk-overlay": _spec("overlay", MID, _pano, True, degradation="overlay"),
    "pano-rotation-overlay": _spec(
        "overlay", MID, _pano, True, proxy=False, pool=PURE_ROTATIONS, degradation="overlay", desc="exact rotations"
    ),
    "pano-walk-portrait": _spec("portrait", PORTRAIT, _pano, True, fov=PORTRAIT_FOV),
    # a phone's CMOS sensor reads its lines over 30-90 % of the frame interval: a turn shears the frame
    "street-rolling-shutter": _spec("rolling-shutter", MID, _street, rolling=READOUT, desc="rolling shutter"),
    "street-fast-turn-rolling-shutter": _spec(
        "rolling-shutter", MID, _street, turn=FAST_TURN, rolling=READOUT, desc="rolling shutter, 3-10 deg/frame"
    ),
    "pano-rotation-rolling-shutter": _spec(
        "rolling-shutter", MID, _pano, True, proxy=False, pool=PURE_ROTATIONS, rolling=READOUT, desc="exact rotations"
    ),
    "pano-walk-portrait-rolling-shutter": _spec(
        "rolling-shutter", PORTRAIT, _pano, True, fov=PORTRAIT_FOV, rolling=READOUT, desc="upright: read across"
    ),
    "pano-rotation-portrait": _spec(
        "portrait", PORTRAIT_HD, _pano, True, proxy=False, pool=PURE_ROTATIONS, fov=PORTRAIT_FOV, desc="544x960 upright"
    ),
    # a car's dashcam (KITTI's odometry frames are 1241x376 at 10 fps): fast and level, the near road
    # sweeping out of the view within a few frames
    "street-drive": _spec("drive", WIDE, _street, **DRIVE, desc="driving 0.4-1 m/frame, level, 1240x376"),
    # a segment's motion is not always steady: a car entering a bend (KITTI odometry 07 turns 0.6 deg per
    # frame at the start of 32 frames and 3.3 at their end, while it speeds up from 0.12 to 0.4 m/frame),
    # a generated turn that eases in; its step and its turn each change from 0.1-0.5 to 1.5-1.9 times
    # their speed over the segment, or back
    "street-ramp": _spec("ramp", MID, _street, ramp=RAMP, desc="turns that tighten or ease, steps that speed up"),
    "pano-walk-ramp": _spec("ramp", MID, _pano, True, ramp=RAMP),
    # drives like those with the car's bonnet in view: content fixed to the frame that only turns show
    "street-drive-bonnet": _spec(
        "overlay",
        WIDE,
        _street,
        **DRIVE,
        degradation="bonnet",
        desc="a drive with the car's bonnet over the bottom 10-16 %",
    ),
}


CONDITIONS_HELP = "comma-separated conditions or shell-style patterns (pano-*, *-ramp, street-[!w]*)"


def select_conditions(spec: str | None, known: Sequence[str] | None = None) -> list[str]:
    """The conditions that a benchmark's ``--conditions`` names: each comma-separated item a condition or
    a shell-style pattern, taken in the order given (a pattern's matches in the corpus's order), each
    condition once; all of ``known`` (by default ``CONDITIONS``) where ``spec`` is None. An item that
    matches no condition is a one-line error (SystemExit) that lists the known ones."""
    known = list(CONDITIONS if known is None else known)
    if spec is None:
        return known
    items = [item.strip() for item in spec.split(",") if item.strip()]
    matches = {item: [name for name in known if fnmatch.fnmatchcase(name, item)] for item in items}
    unmatched = [item for item, names in matches.items() if not names]
    if unmatched or not items:
        named = ", ".join(unmatched) if unmatched else repr(spec)
        raise SystemExit(f"--conditions: no condition matches {named}; known: {', '.join(known)}")
    return list(dict.fromkeys(name for item in items for name in matches[item]))

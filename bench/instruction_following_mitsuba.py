"""Instruction following on frames another renderer made: the validation corpus's worlds and exact
camera paths rendered by Mitsuba 3 instead of the corpus's own ray caster, and scored side by side with
the corpus's frames of the same seeds. A metric tuned on one renderer can lean on its habits (how it
projects, filters textures, antialiases edges); this separates them from the motion.

    pip install mitsuba==3.6.0      # not a dependency of the toolkit; renders on the CPU
    python bench/instruction_following_mitsuba.py --seeds test --videos 3 --panoramas pano/

What differs: Mitsuba's pinhole camera, ray-scene intersection, bilinear texture lookup without mip
maps (distant texture aliases, as a cheap renderer's does), its Gaussian pixel filter with ``--spp``
random samples per pixel (edges antialiased, slightly noisy), and the sky as its environment map. What
is the same: the world (the same photographs on the same planes, the same panoramas), the path, the
truth, exposure, gamma, sensor noise, compression, overlays. The panorama ground and wall are baked into
textures (4096 texels across) because Mitsuba has no projective texturing; water ripples and lens
distortion have no Mitsuba counterpart here, so those conditions are left out. The default conditions are
the rest at 320x180 or smaller with a global shutter (``--conditions`` names others): Mitsuba's vectorised
CPU variant (``llvm_ad_rgb``, where the system has LLVM) takes about 0.2 s a frame at 320x180 and 8
samples per pixel on 2 cores, about 25 s a video.

Rendered videos are cached in ``--cache`` (npz, the accuracy bench's format); the corpus's own videos
are read from (or rendered into) ``--corpus-cache``. Mitsuba's frames repeat to within one grey level
(rendered twice, street-5000 differed by 1 in 4 of its 5.6 million pixels).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from instruction_following_accuracy import (
    ScoreJob,
    _cache_video,
    _header,
    _row,
    _score,
    _table,
    _video,
    add_corpus_arguments,
)

from yumebench.motion_corpus import SEED_BASE, Cylinder, Plane, World, select_conditions

# conditions whose worlds Mitsuba cannot show as the corpus does: a lens (barrel distortion), animated
# water, nothing to see
UNSUPPORTED = ("distorted", "water", "textureless")


def _supported(name: str) -> bool:
    return not any(word in name for word in UNSUPPORTED)


def _default(name: str) -> bool:
    """The default list: supported, at most 320x180 pixels a frame, a global shutter (a rolling
    shutter's bands take 15 renders a frame)."""
    from yumebench.motion_corpus import CONDITIONS

    height, width = CONDITIONS[name].size
    return _supported(name) and height * width <= 320 * 180 and "rolling-shutter" not in name


def _sky_directions(width: int, height: int) -> np.ndarray:
    """Directions (OpenCV world axes, y down) of an equirectangular map's texel centres, as Mitsuba 3's
    ``envmap`` reads it once turned 180 deg about x: direction v (its y up) at (atan2(v.x, -v.z) / 2 pi,
    acos(v.y) / pi) (mitsuba-renderer/mitsuba3, src/emitters/envmap.cpp, ``eval``; its lookup puts the
    rows' texels at v = y / (height - 1) and adds a wrapping column, a fixed sub-texel offset of the sky).
    Checked by rendering: a panorama sky seen through Mitsuba matches the corpus's (pano-rotation-256x144,
    41.5 dB PSNR)."""
    u = (np.arange(width) + 0.5) / width
    v = (np.arange(height) + 0.5) / height
    theta, phi = np.meshgrid(math.pi * v, 2 * math.pi * u, indexing="ij")
    return np.stack([np.sin(theta) * np.sin(phi), -np.cos(theta), np.sin(theta) * np.cos(phi)], -1).reshape(-1, 3)


class MitsubaBackend:
    """``World.backend``: renders a corpus world with Mitsuba 3 (``llvm_ad_rgb``; else ``scalar_rgb``,
    about 18 s a frame at 320x180 and 8 samples per pixel against 0.2 s). Unlit (the default), every
    surface shows its texture (an ``aov`` albedo pass over two-sided diffuse surfaces) and the sky is an
    environment map seen directly (a path pass of depth 1), so each pixel is what the corpus's renderer
    would colour it, filtered Mitsuba's way; ``lit``, a sun and the sky light the textures (``direct``
    integration: cast shadows, shaded walls, sampling noise). The scene is built once per world; moving
    planes are moved per frame."""

    def __init__(self, spp: int = 8, lit: bool = False, sky_width: int = 4096, texels: int = 4096) -> None:
        import mitsuba as mi

        mi.set_variant("llvm_ad_rgb", "scalar_rgb")  # the vectorised CPU variant where LLVM is installed
        self.mi, self.spp, self.lit, self.sky_width, self.texels = mi, spp, lit, sky_width, texels
        self._built: tuple | None = None

    def __call__(self, world: World, c2w: np.ndarray, camera, frame: int) -> np.ndarray:
        mi = self.mi
        if camera.barrel:
            raise ValueError("Mitsuba's perspective camera has no barrel lens")
        if self._built is None or self._built[0] is not world:
            self._built = (world, *self._scene(world))
        _, scene, params, moving = self._built
        if moving:
            for key, plane in moving:
                params[key] = type(params[key])(self._corners(plane, frame).ravel())
            params.update()
        forward, down = c2w[:3, 2], c2w[:3, 1]
        origin = c2w[:3, 3]
        sensor = mi.load_dict(
            {
                "type": "perspective",
                "fov": camera.fov_deg,
                "fov_axis": "x",
                "to_world": mi.ScalarTransform4f().look_at(
                    origin=origin.tolist(), target=(origin + forward).tolist(), up=(-down).tolist()
                ),
                "film": {"type": "hdrfilm", "width": camera.width, "height": camera.height},
                "sampler": {"type": "independent", "sample_count": self.spp},
            }
        )
        image = np.array(mi.render(scene, sensor=sensor, seed=frame))
        if self.lit:
            return image[..., :3]
        return image[..., :3] + image[..., 3:6]  # the sky seen through the gaps + the surfaces' albedo

    @staticmethod
    def _corners(plane: Plane, frame: int) -> np.ndarray:
        o = plane.origin + frame * plane.velocity
        u, v = plane.u_axis * plane.u_len, plane.v_axis * plane.v_len
        return np.stack([o, o + u, o + u + v, o + v])

    def _textured(self, image: np.ndarray, repeat: bool = False, nearest: bool = False) -> dict:
        """A two-sided diffuse surface showing ``image`` (texture coordinates in [0, 1] across it)."""
        texture = {
            "type": "bitmap",
            "bitmap": self.mi.Bitmap(np.ascontiguousarray(image, np.float32)),
            "wrap_mode": "repeat" if repeat else "clamp",
            "filter_type": "nearest" if nearest else "bilinear",
        }
        return {"type": "twosided", "bsdf": {"type": "diffuse", "reflectance": texture}}

    def _mesh(
        self, name: str, corners: np.ndarray, texcoords: np.ndarray, image: np.ndarray, repeat: bool, nearest: bool
    ):
        """A rectangle as a two-triangle mesh (a moving plane's vertices are moved per frame) with a
        two-sided diffuse texture."""
        mi = self.mi
        props = mi.Properties()
        props["bsdf"] = mi.load_dict(self._textured(image, repeat, nearest))
        mesh = mi.Mesh(name, 4, 2, props, has_vertex_texcoords=True)
        params = mi.traverse(mesh)
        for key, values in (
            ("vertex_positions", corners),
            ("vertex_texcoords", texcoords),
            ("faces", np.array([0, 1, 2, 0, 2, 3], np.uint32)),
        ):
            params[key] = type(params[key])(values.ravel())
        params.update()
        return mesh

    def _plane(self, name: str, plane: Plane):
        if plane.ripple:
            raise ValueError("rippling water has no Mitsuba counterpart here")
        corners = self._corners(plane, 0)
        if plane.texture is not None:
            image = plane.texture.levels[0] * plane.tint
            h, w = image.shape[:2]
            # texel (u, v) = (a / metres_per_texel + offset) at the point a u_axis + b v_axis
            ox, oy = plane.texture_offset[0] / w, plane.texture_offset[1] / h
            sx, sy = plane.u_len / (plane.metres_per_texel * w), plane.v_len / (plane.metres_per_texel * h)
            uv = np.array([[ox, oy], [ox + sx, oy], [ox + sx, oy + sy], [ox, oy + sy]])
            nearest = plane.texture.sampling == "nearest"
            return self._mesh(name, corners, uv, image, plane.texture.wrap, nearest)
        # a panorama projected onto the plane: baked at its texel grid, each texel from its own direction
        n = self.texels
        a = (np.arange(n) + 0.5) / n * plane.u_len
        b = (np.arange(n) + 0.5) / n * plane.v_len
        bb, aa = np.meshgrid(b, a, indexing="ij")
        points = plane.origin + aa.reshape(-1, 1) * plane.u_axis + bb.reshape(-1, 1) * plane.v_axis
        d = points - plane.projection_centre
        texel_rad = (plane.u_len / n) / np.linalg.norm(d, axis=1)
        image = (plane.panorama.colour(d, texel_rad) * plane.tint).reshape(n, n, 3)
        return self._mesh(name, corners, np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float), image, False, False)

    def _cylinder(self, cyl: Cylinder) -> dict:
        # Mitsuba's cylinder: radius 1 about z from 0 to 1, uv (atan2(y, x) / 2 pi, z); here z runs from
        # the wall's foot up to its top (OpenCV y down), x and y span the ground
        height = cyl.y_bottom - cyl.y_top
        rows = max(8, int(self.texels * height / (2 * math.pi * cyl.radius)))
        phi = 2 * math.pi * (np.arange(self.texels) + 0.5) / self.texels
        z = (np.arange(rows) + 0.5) / rows
        zz, pp = np.meshgrid(z, phi, indexing="ij")
        # each texel's direction from the centre the panorama is projected from
        d = np.stack([cyl.radius * np.cos(pp), cyl.y_bottom - zz * height, cyl.radius * np.sin(pp)], -1).reshape(-1, 3)
        texel_rad = np.full(len(d), 2 * math.pi / self.texels)
        image = cyl.panorama.colour(d, texel_rad).reshape(rows, self.texels, 3)
        m = np.eye(4)
        m[:3, 0] = [cyl.radius, 0, 0]
        m[:3, 1] = [0, 0, cyl.radius]
        m[:3, 2] = [0, -height, 0]
        m[:3, 3] = np.asarray(cyl.centre) + [0, cyl.y_bottom, 0]
        bsdf = self._textured(image, repeat=True)  # round the wall, continuous where phi wraps
        return {"type": "cylinder", "to_world": self.mi.ScalarTransform4f(m.tolist()), "bsdf": bsdf}

    def _scene(self, world: World) -> tuple:
        mi = self.mi
        h = self.sky_width // 2
        sky = world.sky.colour(_sky_directions(self.sky_width, h), 2 * math.pi / self.sky_width).reshape(h, -1, 3)
        unlit = {"type": "aov", "aovs": "albedo:albedo", "sky": {"type": "path", "max_depth": 1}}
        scene: dict = {
            "type": "scene",
            "integrator": {"type": "direct", "emitter_samples": 4, "bsdf_samples": 4} if self.lit else unlit,
            "sky": {
                "type": "envmap",
                "bitmap": mi.Bitmap(np.ascontiguousarray(sky, np.float32)),
                "to_world": mi.ScalarTransform4f().rotate([1, 0, 0], 180),
            },
        }
        if self.lit:  # a sun 40 deg up: its light travels down (+y) along +z turned 30 deg; shadows
            up, turn = math.radians(40), math.radians(30)
            travel = [math.cos(up) * math.sin(turn), math.sin(up), math.cos(up) * math.cos(turn)]
            scene["sun"] = {"type": "directional", "direction": travel, "irradiance": 1.5}
        moving = []
        for k, surface in enumerate(world.surfaces):
            if isinstance(surface, Plane):
                scene[f"s{k}"] = self._plane(f"s{k}", surface)
                if np.any(surface.velocity):
                    moving.append((f"s{k}.vertex_positions", surface))
            elif isinstance(surface, Cylinder):
                scene[f"s{k}"] = self._cylinder(surface)
            else:
                raise ValueError(f"no Mitsuba shape for {type(surface).__name__}")
        built = mi.load_dict(scene)
        return built, mi.traverse(built), moving


def _mitsuba_video(args: tuple) -> dict:
    condition, seed, cache, pano_dir, spp, lit = args
    from yumebench.motion_corpus import load_panoramas, make_video

    path = Path(cache) / f"{condition}-{seed}-mitsuba{'-lit' if lit else ''}-{spp}spp.npz"
    if not path.exists():
        panoramas = load_panoramas(pano_dir) if pano_dir else None
        _cache_video(make_video(condition, seed, panoramas=panoramas, backend=MitsubaBackend(spp, lit)), path)
    return {"path": str(path)}


def _agreement(a_path: str, b_path: str) -> tuple[float, bool]:
    """PSNR (dB) between the two renderers' first frames, and whether their truths agree."""
    with np.load(a_path) as a, np.load(b_path) as b:
        fa, fb = a["frames"][0].astype(float), b["frames"][0].astype(float)
        same = json.loads(str(a["meta"]))["segments"] == json.loads(str(b["meta"]))["segments"]
    mse = float(np.mean((fa - fb) ** 2))
    return 10 * math.log10(255**2 / max(mse, 1e-9)), same


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_corpus_arguments(ap, videos=3)
    ap.add_argument("--cache", type=Path, default=Path(".if_mitsuba_cache"))
    ap.add_argument("--corpus-cache", type=Path, default=Path(".if_corpus_cache"))
    ap.add_argument("--spp", type=int, default=8, help="Mitsuba's samples per pixel")
    ap.add_argument(
        "--lit", action="store_true", help="light the textures (sun and sky, shadows; noisy) instead of showing them"
    )
    ap.add_argument("--workers", type=int, default=2, help="scoring processes (Mitsuba renders on every core)")
    ap.add_argument("--json", type=Path, help="also write every segment's result (both renderers) here")
    args = ap.parse_args()
    try:
        import mitsuba  # noqa: F401
    except ImportError:
        raise SystemExit("this bench renders with Mitsuba 3, not installed: pip install mitsuba==3.6.0") from None
    if args.panoramas and not args.panoramas.is_dir():
        raise SystemExit(f"{args.panoramas}: no such folder of panoramas")

    from yumebench.motion_corpus import CONDITIONS

    default = [n for n in CONDITIONS if _default(n)]
    names = select_conditions(args.conditions) if args.conditions else default
    left_out = [n for n in names if not _supported(n)]
    if left_out:
        print(f"left out, no Mitsuba counterpart (lens distortion, water, nothing to see): {', '.join(left_out)}")
    names = [n for n in names if _supported(n) and (args.panoramas or not CONDITIONS[n].needs_panoramas)]
    base = SEED_BASE[args.seeds]
    pano = str(args.panoramas) if args.panoramas else None
    for folder in (args.cache, args.corpus_cache):
        folder.mkdir(parents=True, exist_ok=True)
    jobs = [(n, base + i) for n in names for i in range(args.videos)]
    t0 = time.perf_counter()
    mitsuba = []
    ctx = get_context("spawn")
    # one video at a time (Mitsuba renders each frame on every core), each in a fresh process: one process
    # rendering video after video took 50-110 s a video, where a fresh one takes 21-23 s
    with ProcessPoolExecutor(1, mp_context=ctx, max_tasks_per_child=1) as pool:
        renders = [(n, seed, str(args.cache), pano, args.spp, args.lit) for n, seed in jobs]
        for k, video in enumerate(pool.map(_mitsuba_video, renders)):
            mitsuba.append(video)
            print(f"\rrendering with Mitsuba {k + 1}/{len(jobs)}", end="", flush=True)
    t_render = time.perf_counter() - t0
    with ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
        corpus = [v for _, v in pool.map(_video, [(n, s, str(args.corpus_cache), pano, None) for n, s in jobs])]
        scored = {
            renderer: list(pool.map(_score, [ScoreJob(v["path"]) for v in videos]))
            for renderer, videos in (("corpus", corpus), ("mitsuba", mitsuba))
        }
    print(f"\r{len(jobs)} videos per renderer, seeds '{args.seeds}' ({base}+); Mitsuba rendering {t_render:.0f} s")
    agreement = [_agreement(m["path"], c["path"]) for m, c in zip(mitsuba, corpus, strict=True)]
    if not all(same for _, same in agreement):
        raise SystemExit("the two renderers' videos have different truths: not the same paths")
    psnr = defaultdict(list)
    for (n, _), (db, _) in zip(jobs, agreement, strict=True):
        psnr[n].append(db)
    groups: dict[str, dict[str, list]] = {"corpus": defaultdict(list), "mitsuba": defaultdict(list)}
    for renderer, results in scored.items():
        print(f"\n{renderer} renderer\n" + _header())
        by_condition: dict[str, list] = defaultdict(list)
        for (n, _), res in zip(jobs, results, strict=True):
            by_condition[n] += res
            groups[renderer][CONDITIONS[n].group] += res
        for n, res in by_condition.items():
            print(_row(n, _table(res), res) + (f"   PSNR {np.median(psnr[n]):.1f} dB" if renderer == "mitsuba" else ""))
        every = [r for res in results for r in res]
        print(_row("ALL", _table(every), every))
    print(f"\n{'group':<26} {'n':>4} {'corpus':>8} {'mitsuba':>8}")
    for g, res in groups["corpus"].items():
        other = groups["mitsuba"][g]
        accuracy = [np.mean([r["correct"] for r in rs]) for rs in (res, other)]
        print(f"{g:<26} {len(res):>4} {accuracy[0]:8.3f} {accuracy[1]:8.3f}")
    both = [
        (a["correct"], b["correct"])
        for ra, rb in zip(scored["corpus"], scored["mitsuba"], strict=True)
        for a, b in zip(ra, rb, strict=True)
    ]
    print(
        f"segments right in both {sum(a and b for a, b in both)}, corpus only {sum(a and not b for a, b in both)}, "
        f"Mitsuba only {sum(b and not a for a, b in both)}, neither {sum(not a and not b for a, b in both)}"
    )
    if args.json:
        out = {
            renderer: [
                {"condition": n, "seed": seed, "segment": i, **r}
                for (n, seed), res in zip(jobs, results, strict=True)
                for i, r in enumerate(res)
            ]
            for renderer, results in scored.items()
        }
        args.json.write_text(json.dumps(out, default=float))


if __name__ == "__main__":
    main()

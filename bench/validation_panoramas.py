"""Assemble (or check) the folder of real panoramas that the instruction-following tables use.

    python bench/validation_panoramas.py --out pano/ --source panolens.js/ --source py360convert/
    python bench/validation_panoramas.py --check pano/
    python bench/validation_panoramas.py --set holdout --out pano_holdout/ --source HorizonNet/ \
        --source LGT-Net/ --source Equirec2Perspec/ --source threeDemo/
    python bench/validation_panoramas.py --set reserved --out pano_reserved/ --source pannellum/ --source aframe/

``--set holdout`` is a second folder of nine real panoramas, kept out of the tuning: indoor rooms (a
bedroom, a bathroom, a hotel room, an office, a shopping arcade), a city street, a footbridge, a quarry and
a waterfront at sunset. They were first scored after version 28 was fixed, to measure the metric on scenes
it was never looked at on (``instruction_following_accuracy.py --panoramas pano_holdout/``); the one change
made after seeing them, version 29's, is reported with the numbers before and after it. Four are Poly
Haven HDR images (as shipped with three.js's examples) brought to 8 bits by a fixed tone map
(``tone_map``); their manifest checks the source file and the pixels made from it.

``--source`` takes local checkouts of the repositories listed below (any clone at or after the commit
given); files are found by their path in the repository and verified by SHA-256, so a table made from
the folder is reproducible. Both ``--seeds tune`` and ``--seeds test`` use this one folder: the seeds
choose different panoramas, headings, paths and lenses, and ``tune`` is the only one choices are made on.
The five largest panolens.js examples (dusty, lake, mountainpeak, pier4000x2000, road) are not part of
the set: the snapshot the tables were measured with did not hold them.

``--set reserved`` assembles the four example panoramas of pannellum and A-Frame that issue #15 reserved
for independent validation (a rock outcrop above two lakes, a mountain ridge with hikers, a rocky lake
shore at sunset, the Louvre's courtyard at night). They were never used for tuning or tests: they were
first scored on Dec 7 2026 with instruction-following version 36 frozen
(``instruction_following_accuracy.py --panoramas reserved/``, results in ``docs/instruction_following.md``).
A change made after seeing them must report their numbers before and after it.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np

from yumebench.files import sha256_file

PANOLENS = ("pchen66/panolens.js", "9fb3e35", "example/asset/textures/equirectangular")
PY360CONVERT = ("sunset1995/py360convert", "5450b67", "assets")
HORIZONNET = ("sunset1995/HorizonNet", "c9a7df9", "assets")
LGT_NET = ("zhigangjiang/LGT-Net", "0045359", "")
EQUIREC2PERSPEC = ("fuenwang/Equirec2Perspec", "56f3124", "src")
# three.js's example textures (mrdoob/three.js; the HDR images are Poly Haven's), read from a copy of three.js
# (the whole repository was too large to fetch here); a three.js checkout holding the same files serves as well
THREE_JS = ("taoshunqian/threeDemo", "cd06b34", "examples/textures")
PANNELLUM = ("mpetroff/pannellum", "7769cc6", "examples")
AFRAME = ("aframevr/aframe", "022bcc5", "examples")

# file name in the folder -> (source repository, path in its folder, sha256)
MANIFEST = {
    "building.jpg": (PANOLENS, "building.jpg", "fbfb47f6b0a36a52984e58e254b6028b72cd8a164b6b5069ba80f81b58d39cdc"),
    "cabin.jpg": (PANOLENS, "cabin.jpg", "8a75bdd6c956554cc6289858c3e860e627d5d48d3dc7038e9d91c1f1379cda30"),
    "dawn4000x2000.jpg": (
        PANOLENS,
        "dawn4000x2000.jpg",
        "9aa033a4069602ebb8fc6d18a3ac541e43c51b7b32c2f67c3e6fd9012eb62340",
    ),
    "field.jpg": (PANOLENS, "field.jpg", "0177002906479c38d29c28f256614451c8a597614c1e16134a5be0df30dabccc"),
    "golf.jpg": (PANOLENS, "golf.jpg", "7b88c509ec4f71fe15df4501df7ae01d3209b10f360228605a8b4bcec6863fbd"),
    "lamp.jpg": (PANOLENS, "lamp.jpg", "7e5ab91684e0359d98cb647036cfb61141a99e36772d4a6a89a707e0d34f5937"),
    "leaf.jpg": (PANOLENS, "leaf.jpg", "33529e2a474a2f0f521feaefdd33b989d730a745493069a658429b0ca5951b3b"),
    "lookout.jpg": (PANOLENS, "lookout.jpg", "818a5f5fa5641900c678e5fbd5fd01d6c961e6f4215ac5ca9e0ce0f4c557bbea"),
    "pier.jpg": (PANOLENS, "pier.jpg", "e0133800f3afb30cfd889f1f65f49180887bfe5d412f882496685bbc81c765b1"),
    "planet.jpg": (PANOLENS, "planet.jpg", "7b7bc1461be3f257c8cb5dc29071e55538528abfb5bebc24ad5f0169b5036f35"),
    "rock.jpg": (PANOLENS, "rock.jpg", "4d0cde5db588910037cb336fe4ba85a475cbff6ff41960776b17edcd2ac5dbec"),
    "suite.jpg": (PANOLENS, "suite.jpg", "6dccf7d13bfa626ba582f2cca389796ab67458a83c915d0a924e01989d091a9b"),
    "sunset.jpg": (PANOLENS, "sunset.jpg", "6b12d2c1317dc8479a666c88ce521c06f2c5cc5a79d37f88a6208f977382d7f8"),
    "tent.jpg": (PANOLENS, "tent.jpg", "90b2bf17ff9c60c8f8e86cb69118a21da140b31fb1d64d9061eea81b09660d7f"),
    "tunnel.jpg": (PANOLENS, "tunnel.jpg", "8937faff2c84eb9aa961ebe60ead4472b99af374b84b53d39be16df4726bd250"),
    "p360_example_input.png": (
        PY360CONVERT,
        "example_input.png",
        "1d76108e187a50ae19871e13a512acc163c418530f29a153740725e51a88f7ac",
    ),
}


# file name in the folder -> (source repository, path in its folder, sha256 of the source file, sha256 of the
# pixels written, or None where the file is copied as it is)
HOLDOUT = {
    "bedroom.png": (HORIZONNET, "demo.png", "03d1c49b5f98138404daf6bcf07065c2ea0ac6565c5e773c89bfec55e9d4d978", None),
    "bathroom.png": (
        LGT_NET,
        "src/demo/demo.png",
        "a47844b6542004bbb97da3d31f57a34345db77753a38f8bb12225fe3f2374f6b",
        None,
    ),
    "hotel_room.jpg": (
        LGT_NET,
        "visualization/visualizer/src/example.jpg",
        "e210986aff8989a6140f1f53bef0d6cc46c165c85dd38c6137a4324f59db2ea5",
        None,
    ),
    "city_street.jpg": (
        EQUIREC2PERSPEC,
        "image.jpg",
        "5ac15ad56b0ef2c42c8fdcd8cbe3048efcbb218c3c609529fcb84d050b8c72a8",
        None,
    ),
    "office.png": (
        THREE_JS,
        "equirectangular.png",
        "7bef48a6b1294956660e8d4fe082ab18aa8da538bc07213a02e1d0a210eafe51",
        None,
    ),
    "footbridge.png": (
        THREE_JS,
        "equirectangular/pedestrian_overpass_1k.hdr",
        "3d2c4068676cfead5dce9a12896cf1ebcac4e97914938e3c2987b70cad4e4c4a",
        "7e38a1fc97443519257fba551a6b83f32edb52854c3bf78afe128c5e830ef88c",
    ),
    "quarry.png": (
        THREE_JS,
        "equirectangular/quarry_01_1k.hdr",
        "a3101f0ae89ed847dbed88da3ffa3ddb17b5acf8063099b26ceae08f640eea9b",
        "647ef845a3e5768ba8b1f2349764d048596f11e8b55a6c25e0e2b746c0f9f337",
    ),
    "arcade.png": (
        THREE_JS,
        "equirectangular/royal_esplanade_1k.hdr",
        "d72031e24581a0f13911fbcdee475db0f8cafcf48bf1771c6b971c3310db6cb2",
        "fe5cca85469705b025fdc415c514bdd0bc097c1c5b7c5c190596184db26c75d9",
    ),
    "waterfront.png": (
        THREE_JS,
        "equirectangular/venice_sunset_1k.hdr",
        "0e72ed46b5316cb5fb67fc81ff85b024a09146fd89ef3811a8d2299647ada118",
        "f256909906a532e43a3fef6127ac11135756385f3fc48be7ab899b3d6dbcf499",
    ),
}


def _pixels_sha256(path: Path) -> str | None:
    """The decoded pixels' digest (a PNG's bytes depend on the encoder, its pixels do not); None where
    the file is not an image."""
    import cv2

    pixels = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if pixels is None else hashlib.sha256(pixels.tobytes()).hexdigest()


def tone_map(hdr_bgr: np.ndarray) -> np.ndarray:
    """8-bit BGR from linear radiance: the median luminance scaled to 0.18 (mid grey), then Reinhard's
    x / (1 + x) and a 2.2 gamma. Luminance weights are Rec. 709's."""
    radiance = hdr_bgr.astype(np.float64)
    luminance = radiance @ np.array([0.0722, 0.7152, 0.2126])
    x = radiance * (0.18 / max(float(np.median(luminance)), 1e-12))
    return np.clip(255.0 * (x / (1.0 + x)) ** (1 / 2.2) + 0.5, 0, 255).astype(np.uint8)


# the reserved panoramas, copied as they are
RESERVED = {
    "examplepano.jpg": (
        PANNELLUM,
        "examplepano.jpg",
        "505a9c0093677ab7cd636584bc37672ef3eee4dda2f4f057854e762ed04ffd07",
    ),
    "puydesancy.jpg": (
        AFRAME,
        "boilerplate/panorama/puydesancy.jpg",
        "59343f1614fb466639e4d52efa3d4e4c6dc72527d16a79dea454fc8dddf30857",
    ),
    "lake.jpg": (
        AFRAME,
        "showcase/composite/lake.jpg",
        "409dabbc2c08d6d0d58d414e4f9fa911b6e4082d69a5d579081e8ed4e18d5a32",
    ),
    "louvre.jpg": (
        AFRAME,
        "test/fog/louvre.jpg",
        "0abe7c9f32569654d09571c5a8186c444b22dd13d2a61eb3203b81f498cd777f",
    ),
}


SETS = {"tables": MANIFEST, "holdout": HOLDOUT, "reserved": RESERVED}


def _entries(manifest: dict) -> list[tuple]:
    """(name, (repository, commit, folder), path in the folder, source sha256, pixels sha256 or None)."""
    return [(name, *entry, None)[:5] for name, entry in manifest.items()]  # the tables' entries have no pixels


def check(folder: Path, manifest: dict = MANIFEST) -> list[str]:
    """The problems with ``folder`` (missing or changed files); empty when it is the manifest's set."""
    problems = []
    for name, _, _, digest, pixels in _entries(manifest):
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif pixels is None and sha256_file(path) != digest:
            problems.append(f"{path}: not the manifest's file (sha256 differs)")
        elif pixels is not None and (made := _pixels_sha256(path)) != pixels:
            what = "not a readable image" if made is None else "sha256 of the decoded image differs"
            problems.append(f"{path}: not the manifest's pixels ({what})")
    return problems


def assemble(out: Path, sources: list[Path], manifest: dict = MANIFEST) -> list[str]:
    """Copy (or tone-map, for an HDR source) every manifest file found in ``sources`` into ``out``;
    returns the problems left."""
    out.mkdir(parents=True, exist_ok=True)
    for name, (repo, _, folder), rel, digest, pixels in _entries(manifest):
        found = [s / folder / rel for s in sources if (s / folder / rel).is_file()]
        match = [p for p in found if sha256_file(p) == digest]
        if not match:
            if found:
                print(f"{found[0]}: sha256 differs from the manifest ({repo}); not copied", file=sys.stderr)
            continue
        if pixels is None:
            shutil.copyfile(match[0], out / name)
        else:
            import cv2

            cv2.imwrite(str(out / name), tone_map(cv2.imread(str(match[0]), cv2.IMREAD_UNCHANGED)))
    return check(out, manifest)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=sorted(SETS), default="tables", help="which panoramas (default: tables)")
    ap.add_argument("--out", type=Path, help="folder to fill")
    ap.add_argument("--source", type=Path, action="append", default=[], help="a checkout of a source repository")
    ap.add_argument("--check", type=Path, help="verify an existing folder")
    args = ap.parse_args()
    if bool(args.out) == bool(args.check):
        ap.error("give either --out (with --source) or --check")
    manifest = SETS[args.set]
    problems = check(args.check, manifest) if args.check else assemble(args.out, args.source, manifest)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"{len(manifest)} panoramas verified in {args.check or args.out}")


if __name__ == "__main__":
    main()

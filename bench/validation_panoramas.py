"""Assemble (or check) the folder of real panoramas that the instruction-following tables use.

    python bench/validation_panoramas.py --out pano/ --source panolens.js/ --source py360convert/
    python bench/validation_panoramas.py --check pano/

``--source`` takes local checkouts of the repositories listed below (any clone at or after the commit
given); files are found by their path in the repository and verified by SHA-256, so a table made from
the folder is reproducible. Both ``--seeds tune`` and ``--seeds test`` use this one folder: the seeds
choose different panoramas, headings, paths and lenses, and ``tune`` is the only one choices are made on.

Reserved for independent validation, never used here: the example panoramas of pannellum and A-Frame.
The five largest panolens.js examples (dusty, lake, mountainpeak, pier4000x2000, road) are not part of
the set: the snapshot the tables were measured with did not hold them.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

PANOLENS = ("pchen66/panolens.js", "9fb3e35", "example/asset/textures/equirectangular")
PY360CONVERT = ("sunset1995/py360convert", "5450b67", "assets")

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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check(folder: Path) -> list[str]:
    """The problems with ``folder`` (missing or changed files); empty when it is the manifest's set."""
    problems = []
    for name, (_, _, digest) in MANIFEST.items():
        path = folder / name
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif _sha256(path) != digest:
            problems.append(f"{path}: not the manifest's file (sha256 differs)")
    return problems


def assemble(out: Path, sources: list[Path]) -> list[str]:
    """Copy every manifest file found in ``sources`` into ``out``; returns the problems left."""
    out.mkdir(parents=True, exist_ok=True)
    for name, ((repo, _, folder), rel, digest) in MANIFEST.items():
        found = [s / folder / rel for s in sources if (s / folder / rel).is_file()]
        match = [p for p in found if _sha256(p) == digest]
        if match:
            shutil.copyfile(match[0], out / name)
        elif found:
            print(f"{found[0]}: sha256 differs from the manifest ({repo}); not copied", file=sys.stderr)
    return check(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="folder to fill")
    ap.add_argument("--source", type=Path, action="append", default=[], help="a checkout of a source repository")
    ap.add_argument("--check", type=Path, help="verify an existing folder")
    args = ap.parse_args()
    if bool(args.out) == bool(args.check):
        ap.error("give either --out (with --source) or --check")
    problems = check(args.check) if args.check else assemble(args.out, args.source)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"{len(MANIFEST)} panoramas verified in {args.check or args.out}")


if __name__ == "__main__":
    main()

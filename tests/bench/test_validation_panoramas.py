"""bench/validation_panoramas.py: the tone map's known answer and a manifest's assemble/check round trip
on files the test writes (the real panoramas are not in the repository)."""

import hashlib
import importlib.util
from pathlib import Path

import cv2
import numpy as np

from yumebench.files import sha256_file

_SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "validation_panoramas.py"
_spec = importlib.util.spec_from_file_location("validation_panoramas", _SCRIPT)
vp = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(vp)


def test_the_tone_map_puts_the_median_at_mid_grey_and_keeps_order():
    """Known answer: a grey radiance field of any level maps to 255 * (0.18 / 1.18) ** (1 / 2.2) = 108.48,
    i.e. 108; a brighter pixel stays brighter and nothing leaves 0-255."""
    for level in (0.01, 1.0, 5000.0):
        assert (vp.tone_map(np.full((4, 8, 3), level, np.float32)) == 108).all()
    ramp = np.tile(np.geomspace(1e-3, 1e4, 16, dtype=np.float32)[None, :, None], (2, 1, 3))
    out = vp.tone_map(ramp)[0, :, 0].astype(int)
    assert (np.diff(out) >= 0).all() and out[0] < 20 and out[-1] > 250


def test_a_manifest_is_assembled_from_sources_and_checked(tmp_path):
    """Round trip: an 8-bit file is copied and an HDR one tone-mapped, both found by their path in a
    source checkout and verified by digest; a changed, missing or unreadable file is one named problem."""
    source = tmp_path / "repo"
    (source / "assets").mkdir(parents=True)
    photo = np.random.default_rng(0).integers(0, 255, (32, 64, 3), dtype=np.uint8)
    cv2.imwrite(str(source / "assets" / "room.png"), photo)
    hdr = np.random.default_rng(1).uniform(0.01, 50.0, (32, 64, 3)).astype(np.float32)
    cv2.imwrite(str(source / "assets" / "sky.hdr"), hdr)

    made = vp.tone_map(cv2.imread(str(source / "assets" / "sky.hdr"), cv2.IMREAD_UNCHANGED))
    repo = ("someone/repo", "0000000", "assets")
    made_digest = hashlib.sha256(made.tobytes()).hexdigest()
    manifest = {
        "room.png": (repo, "room.png", sha256_file(source / "assets" / "room.png")),
        "sky.png": (repo, "sky.hdr", sha256_file(source / "assets" / "sky.hdr"), made_digest),
    }
    out = tmp_path / "pano"
    assert vp.assemble(out, [tmp_path / "elsewhere", source], manifest) == []
    assert (cv2.imread(str(out / "room.png")) == photo).all()
    assert (cv2.imread(str(out / "sky.png")) == made).all()

    cv2.imwrite(str(out / "sky.png"), made // 2)
    (out / "room.png").unlink()
    assert vp.check(out, manifest) == [
        f"{out / 'room.png'}: missing",
        f"{out / 'sky.png'}: not the manifest's pixels (sha256 of the decoded image differs)",
    ]
    (out / "sky.png").write_text("not an image")
    assert vp.check(out, manifest)[1] == f"{out / 'sky.png'}: not the manifest's pixels (not a readable image)"

"""bench/validation_footage.py: clips found by path and digest in source checkouts, segments cut as the
accuracy bench cuts them, and a clip scored end to end (the real clips are not in the repository, so the
test writes its own)."""

import importlib.util
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from yumebench.files import sha256_file
from yumebench.video import VideoError, write_mp4

_SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "validation_footage.py"
_spec = importlib.util.spec_from_file_location("validation_footage", _SCRIPT)
vf = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = vf  # dataclasses look their module up there
_spec.loader.exec_module(vf)


def test_segments_share_their_end_frames_and_leave_no_short_tail():
    clip = vf.CLIPS["highway"]
    segs = vf.segments(221, clip)
    assert [(s["start"], s["end"]) for s in segs] == [(k * 32, k * 32 + 33) for k in range(6)]
    assert all((s["keys"], s["mouse"]) == ("W", "·") for s in segs)
    assert vf.segments(32, clip) == []  # a segment needs 33 frames


def test_a_clip_is_found_by_path_and_digest_and_each_problem_is_one_line(tmp_path):
    source = tmp_path / "repo"
    (source / "videos").mkdir(parents=True)
    (source / "videos" / "drive.mp4").write_bytes(b"not really a video")
    digest = sha256_file(source / "videos" / "drive.mp4")
    clip = vf.Clip("someone/repo", "0000000", "videos/drive.mp4", digest, 1, "W", "·")

    path, problem = vf.locate(clip, [tmp_path / "elsewhere", source])
    assert path == source / "videos" / "drive.mp4" and problem is None

    path, problem = vf.locate(clip, [tmp_path / "elsewhere"])
    assert path is None and "videos/drive.mp4: not found in" in problem and "someone/repo" in problem
    (source / "videos" / "drive.mp4").write_bytes(b"changed")
    path, problem = vf.locate(clip, [source])
    assert path is None and problem.endswith("(sha256 differs; someone/repo at 0000000)")
    assert "\n" not in problem


def test_a_still_camera_is_scored_no_action_and_an_unreadable_clip_raises(tmp_path):
    """A still textured view (a camera at rest, as in the ``crowd`` clip) read end to end from an encoded
    file, every other frame kept: each segment reads None, ·."""
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (24, 40, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    frames = np.stack([texture] * 70)
    path = write_mp4(tmp_path / "still.mp4", frames, fps=16)
    clip = vf.Clip("someone/repo", "0000000", "still.mp4", sha256_file(path), 2, "None", "·")
    results = vf.score_clip(path, clip)
    assert len(results) == 1
    assert all(r["correct"] and r["predicted"] == {"keys": "None", "mouse": "·"} for r in results)
    # a clip whose turn is not known is judged on its keys alone: the still camera is no drive forward
    keys_only = vf.score_clip(path, replace(clip, keys="W", mouse=None))
    assert [(r["correct"], r["expected"]) for r in keys_only] == [(False, {"keys": "W", "mouse": "?"})]
    assert vf.score_clip(path, replace(clip, mouse=None))[0]["correct"]

    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 64)
    with pytest.raises(VideoError, match="broken.mp4"):
        vf.score_clip(tmp_path / "broken.mp4", replace(clip, path="broken.mp4"))
